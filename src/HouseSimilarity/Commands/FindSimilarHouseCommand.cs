using System.Management.Automation;
using HouseSimilarity.Services;
using HouseSimilarity.Stores;

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
    [HouseEmbeddingTransformation]
    public HouseEmbedding[] Embedding { get; set; } = [];

    /// <summary>Ids of stored photos to search around; objects with an Id property (Select-Object Id) bind by it.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "Id")]
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

    /// <summary>Only matches at least this likely to be the same photo (the calibrated DuplicateProbability).</summary>
    [Parameter]
    [ValidateRange(0.0, 1.0)]
    public double MinProbability { get; set; }

    /// <summary>Keep the query's own record (same Id) in the results.</summary>
    [Parameter]
    public SwitchParameter IncludeSelf { get; set; }

    /// <summary>Exact search: compare every stored vector instead of using the collection's approximate index (HNSW,
    /// ScaNN). The Local store always searches exactly; Milvus cannot, except in collections created with -IndexType Exact.</summary>
    [Parameter]
    public SwitchParameter Exact { get; set; }

    private SimilaritySearch? _search;
    private PhotoProgress? _progress;
    private long _queried;

    protected override void BeginProcessing()
    {
        // The model first: a damaged one stops the command before a store is opened.
        double threshold = double.IsNaN(Threshold) ? Embedder.Model.DuplicateThreshold : Threshold;
        if (FindCollection() is not { } collection)
        {
            return; // one CollectionNotFound error; no photo is embedded for nothing
        }
        _search = new SimilaritySearch(Store, collection, collection.Store!, threshold, Calibration is { } c ? c.Probability : null);
        _progress = new PhotoProgress(this, $"Searching collection '{collection.Name}'");
        WriteVerbose($"Searching {Plural.Of(collection.Count, "photo")} of collection '{collection.Name}' by {Metric} distance" +
                     $"{(Metric == DistanceMetric.L2 ? "" : " (IsDuplicate, Similarity and L2Distance still follow the L2 distance)")}; " +
                     $"duplicates at L2 <= {threshold:0.###}.");
    }

    protected override void EndProcessing() => _progress?.Complete();

    protected override void ProcessRecord()
    {
        if (_search is null)
        {
            return;
        }
        var queries = new List<HouseQuery>();
        switch (ParameterSetName)
        {
            case "Embedding":
                queries.AddRange(Embedding.Where(HasVector).Select(HouseQuery.From));
                break;
            case "Id":
                var records = Wait(ct => Store.GetManyAsync(Id, ct)).ToDictionary(r => r.Id, StringComparer.Ordinal);
                foreach (string id in Id)
                {
                    if (!records.TryGetValue(id, out var record))
                    {
                        WriteError(new ErrorRecord(new ItemNotFoundException($"No photo with Id '{id}' in collection '{Collection}'."),
                            "RecordNotFound", ErrorCategory.ObjectNotFound, id));
                        continue;
                    }
                    queries.Add(HouseQuery.From(record));
                }
                break;
            default:
                bool literal = ParameterSetName == "LiteralPath";
                var files = ResolveFiles(literal ? LiteralPath : Path, literal).ToList();
                if (InputCountKnown)
                {
                    _progress!.Total = files.Count;
                }
                foreach (string file in files)
                {
                    _progress!.Report(_queried, _progress.Counted(_queried, "embedded"),
                        file, force: _queried == 0);
                    try
                    {
                        queries.Add(HouseQuery.From(Embedder.Embed(file)));
                    }
                    catch (HouseImageException e)
                    {
                        WriteImageError(e, file);
                    }
                    _queried++;
                }
                break;
        }
        if (queries.Count == 0)
        {
            return;
        }
        IReadOnlyList<IReadOnlyList<HouseMatch>> matches = [];
        try
        {
            var options = new SearchOptions { Metric = Metric, Exact = Exact };
            matches = Wait(ct => _search!.FindAsync(queries, Top, options, IncludeSelf, ct));
        }
        catch (ModelMismatchException e)
        {
            TerminateOnMismatch(e);
        }
        catch (NotSupportedException e)
        {
            Terminate(e, "SearchNotSupported", ErrorCategory.InvalidArgument, Store.Location);
        }
        foreach (var match in matches.SelectMany(m => m).Where(m => MinProbability == 0 || m.DuplicateProbability >= MinProbability))
        {
            WriteObject(match);
        }
    }
}
