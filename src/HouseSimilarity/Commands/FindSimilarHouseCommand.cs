using System.Management.Automation;

namespace HouseSimilarity.Commands;

/// <summary>Ranks the stored photos nearest to a photo, a HouseEmbedding or a stored Id.</summary>
[Cmdlet(VerbsCommon.Find, "SimilarHouse", DefaultParameterSetName = "Path")]
[OutputType(typeof(HouseMatch))]
public sealed class FindSimilarHouseCommand : HouseCollectionCmdletBase
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = "Path")]
    [SupportsWildcards]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "LiteralPath")]
    [Alias("PSPath", "LP")]
    public string[] LiteralPath { get; set; } = [];

    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "Embedding")]
    public HouseEmbedding[] Embedding { get; set; } = [];

    /// <summary>Ids of stored photos to search around.</summary>
    [Parameter(Mandatory = true, ParameterSetName = "Id")]
    public string[] Id { get; set; } = [];

    [Parameter]
    [ValidateRange(1, 10_000)]
    public int Top { get; set; } = 5;

    /// <summary>L2 (default, Euclidean) or L1 (Manhattan) distance.</summary>
    [Parameter]
    public DistanceMetric Metric { get; set; } = DistanceMetric.L2;

    /// <summary>L2 distance at or below which a match is a duplicate; default: the model's calibrated threshold.</summary>
    [Parameter]
    [ValidateRange(0.0, 2.0)]
    public double Threshold { get; set; } = double.NaN;

    /// <summary>Keep the query's own record (same Id) in the results.</summary>
    [Parameter]
    public SwitchParameter IncludeSelf { get; set; }

    /// <summary>Exact search: scan every stored vector instead of using the collection's approximate index (HNSW,
    /// ScaNN). The Local store always searches exactly.</summary>
    [Parameter]
    public SwitchParameter Exact { get; set; }

    protected override bool ExactSearch => Exact;

    protected override void BeginProcessing() => RequireCollection();

    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case "Embedding":
                foreach (var embedding in Embedding)
                {
                    Search(embedding.Vector, embedding.ModelId, embedding.Id, embedding.Path);
                }
                break;
            case "Id":
                foreach (string id in Id)
                {
                    HouseRecord? record = Wait(ct => Store.GetAsync(id, ct));
                    if (record is null)
                    {
                        WriteError(new ErrorRecord(new ItemNotFoundException($"No photo with Id '{id}' in collection '{Collection}'."),
                            "RecordNotFound", ErrorCategory.ObjectNotFound, id));
                        continue;
                    }
                    Search(record.Vector, record.ModelId, record.Id, record.Path);
                }
                break;
            default:
                bool literal = ParameterSetName == "LiteralPath";
                foreach (string file in ResolveFiles(literal ? LiteralPath : Path, literal))
                {
                    HouseEmbedding embedding;
                    try
                    {
                        embedding = Embedder.Embed(file);
                    }
                    catch (HouseImageException e)
                    {
                        WriteImageError(e, file);
                        continue;
                    }
                    Search(embedding.Vector, embedding.ModelId, embedding.Id, embedding.Path);
                }
                break;
        }
    }

    private void Search(float[] vector, string modelId, string queryId, string queryPath)
    {
        double threshold = double.IsNaN(Threshold) ? Embedder.Model.DuplicateThreshold : Threshold;
        IReadOnlyList<HouseMatch> matches = [];
        try
        {
            matches = Wait(ct => Store.SearchAsync(vector, modelId, IncludeSelf ? Top : Top + 1, Metric, ct));
        }
        catch (ModelMismatchException e)
        {
            TerminateOnMismatch(e);
        }
        int rank = 0;
        foreach (var match in matches)
        {
            if ((!IncludeSelf && match.Id == queryId) || rank == Top)
            {
                continue;
            }
            match.Rank = ++rank;
            match.Query = queryPath;
            match.IsDuplicate = VectorMath.L2FromSimilarity(match.Similarity) <= threshold;
            WriteObject(match);
        }
    }
}
