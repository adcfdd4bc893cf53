using System.Management.Automation;

namespace HouseSimilarity.Commands;

/// <summary>Embeds photos into 128-d unit vectors without storing them.</summary>
[Cmdlet(VerbsCommon.Get, "HouseEmbedding", DefaultParameterSetName = "Path")]
[OutputType(typeof(HouseEmbedding))]
public sealed class GetHouseEmbeddingCommand : HouseCmdletBase
{
    private OrderedParallelQueue<string, HouseEmbedding>? _queue;
    private PhotoProgress? _progress;
    private long _embedded, _failed;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

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
        _progress = new PhotoProgress(this, "Embedding photos");
        WriteVerbose($"Model {embedder.Model.Id} ({embedder.Model.Dimension}-d vectors), {Plural.Of(_queue.Parallelism, "worker")}.");
    }

    protected override void ProcessRecord()
    {
        bool literal = ParameterSetName == "LiteralPath";
        var files = ResolveFiles(literal ? LiteralPath : Path, literal).ToList();
        if (InputCountKnown)
        {
            _progress!.Total = files.Count;
        }
        foreach (string file in files)
        {
            _queue!.Post(file);
            Emit(_queue.Take(keepInFlight: _queue.Window));
        }
    }

    protected override void EndProcessing()
    {
        Emit(_queue!.TakeAll());
        _progress!.Complete();
        WriteVerbose($"Embedded {Plural.Of(_embedded, "photo")} in {_clock.Elapsed.TotalSeconds:F1} s; {_failed} could not be read.");
    }

    private void Emit(IEnumerable<OrderedParallelQueue<string, HouseEmbedding>.Result> results)
    {
        foreach (var result in results)
        {
            if (result.Error is not null)
            {
                _failed++;
                WriteImageError(result.Error, result.Item);
            }
            else
            {
                _embedded++;
                WriteObject(result.Value);
            }
            long done = _embedded + _failed;
            _progress!.Report(done, _progress.Counted(done, "embedded"), result.Item,
                force: done == 1 || done == _progress.Total);
        }
    }
}
