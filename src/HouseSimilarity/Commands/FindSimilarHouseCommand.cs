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

    /// <summary>Where a piped match or record came from (its Store property): its Id is searched around there.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = "Id", DontShow = true)]
    [Alias("Store")]
    public object? SourceStore { get; set; }

    private readonly Dictionary<IHouseStore, SimilaritySearch?> _searches = [];
    private PhotoProgress? _progress;
    private double _threshold;
    private long _queried;

    protected override void BeginProcessing()
    {
        // The model first: a damaged one stops the command before a store is opened.
        _threshold = double.IsNaN(Threshold) ? Model.DuplicateThreshold : Threshold;
        _progress = new PhotoProgress(this, "Searching for similar photos");
    }

    protected override void EndProcessing() => _progress?.Complete();

    /// <summary>The search of a store's collection, made once; null (after one CollectionNotFound error) when it does not exist.</summary>
    private SimilaritySearch? SearchOf(IHouseStore store)
    {
        if (!_searches.TryGetValue(store, out var search))
        {
            var collection = FindCollection(store, ReferenceTo(store));
            search = collection is null
                ? null
                : new SimilaritySearch(store, collection, collection.Store!, _threshold, Calibration is { } c ? c.Probability : null);
            _searches[store] = search;
            if (collection is not null)
            {
                WriteVerbose($"Searching {Plural.Of(collection.Count, "photo")} of collection '{collection.Name}' by {Metric} distance" +
                             $"{(Metric == DistanceMetric.L2 ? "" : " (IsDuplicate, Similarity and L2Distance still follow the L2 distance)")}; " +
                             $"duplicates at L2 <= {_threshold:0.###}.");
            }
        }
        return search;
    }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == "Id")
        {
            // Each Id is searched around in the collection it came from (a piped match or record), else the command's.
            foreach (var byStore in Id.Select(id => (Id: id, Store: StoreOf(SourceStore, id))).Where(x => x.Store is not null)
                         .GroupBy(x => x.Store!))
            {
                if (SearchOf(byStore.Key) is not { } search)
                {
                    continue;
                }
                var ids = byStore.Select(x => x.Id).ToList();
                var records = Wait(ct => byStore.Key.GetManyAsync(ids, ct)).ToDictionary(r => r.Id, StringComparer.Ordinal);
                var found = new List<HouseQuery>();
                foreach (string id in ids)
                {
                    if (!records.TryGetValue(id, out var record))
                    {
                        WriteError(new ErrorRecord(new ItemNotFoundException($"No photo with Id '{id}' in collection '{byStore.Key.Collection}'."),
                            "RecordNotFound", ErrorCategory.ObjectNotFound, id));
                        continue;
                    }
                    found.Add(HouseQuery.From(record));
                }
                Search(search, found);
            }
            return;
        }
        // A missing collection is one error, before any photo is embedded for nothing.
        if (SearchOf(Store) is not { } own)
        {
            return;
        }
        var queries = new List<HouseQuery>();
        if (ParameterSetName == "Embedding")
        {
            queries.AddRange(Embedding.Where(HasVector).Select(HouseQuery.From));
        }
        else
        {
            bool literal = ParameterSetName == "LiteralPath";
            var files = ResolveFiles(literal ? LiteralPath : Path, literal).ToList();
            if (InputCountKnown)
            {
                _progress!.Total = files.Count;
            }
            foreach (string file in files)
            {
                _progress!.Report(_queried, _progress.Counted(_queried, "embedded"), file, force: _queried == 0);
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
        }
        Search(own, queries);
    }

    private void Search(SimilaritySearch search, List<HouseQuery> queries)
    {
        if (queries.Count == 0)
        {
            return;
        }
        IReadOnlyList<IReadOnlyList<HouseMatch>> matches = [];
        try
        {
            var options = new SearchOptions { Metric = Metric, Exact = Exact };
            matches = Wait(ct => search.FindAsync(queries, Top, options, IncludeSelf, ct));
        }
        catch (ModelMismatchException e)
        {
            TerminateOnMismatch(e);
        }
        catch (NotSupportedException e)
        {
            Terminate(e, "SearchNotSupported", ErrorCategory.InvalidArgument, search.Store.Location);
        }
        foreach (var match in matches.SelectMany(m => m).Where(m => MinProbability == 0 || m.DuplicateProbability >= MinProbability))
        {
            WriteObject(match);
        }
    }
}
