using System.Management.Automation;

namespace HouseSimilarity.Commands;

/// <summary>Embeds photos into 128-d unit vectors without storing them.</summary>
[Cmdlet(VerbsCommon.Get, "HouseEmbedding", DefaultParameterSetName = "Path")]
[OutputType(typeof(HouseEmbedding))]
public sealed class GetHouseEmbeddingCommand : HouseCmdletBase
{
    private OrderedParallelQueue<string, HouseEmbedding>? _queue;

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = "Path")]
    [SupportsWildcards]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "LiteralPath")]
    [Alias("PSPath", "LP")]
    public string[] LiteralPath { get; set; } = [];

    protected override void BeginProcessing()
    {
        var embedder = Embedder;
        _queue = new OrderedParallelQueue<string, HouseEmbedding>((path, _) => embedder.Embed(path),
            Environment.ProcessorCount, Cancellation);
    }

    protected override void ProcessRecord()
    {
        bool literal = ParameterSetName == "LiteralPath";
        foreach (string file in ResolveFiles(literal ? LiteralPath : Path, literal))
        {
            _queue!.Post(file);
        }
        Emit(_queue!.Take(keepInFlight: _queue.Window));
    }

    protected override void EndProcessing() => Emit(_queue!.TakeAll());

    private void Emit(IEnumerable<OrderedParallelQueue<string, HouseEmbedding>.Result> results)
    {
        foreach (var result in results)
        {
            if (result.Error is not null)
            {
                WriteImageError(result.Error, result.Item);
            }
            else
            {
                WriteObject(result.Value);
            }
        }
    }
}
