using System.Management.Automation;
using HouseSimilarity.Services;
using HouseSimilarity.Stores;
using HouseSimilarity.Stores.Local;

namespace HouseSimilarity.Commands;

/// <summary>
/// Finds every group of duplicate photos in a collection: byte-identical copies and near copies (resized, recompressed,
/// cropped, recoloured, watermarked, mirrored) within the threshold, merged into connected groups, each with a suggested
/// keeper. Piped photos are checked against the collection (and one another) without being stored; -Path scans photos
/// with no collection at all; -Since checks only what was added lately.
/// </summary>
[Cmdlet(VerbsCommon.Find, "HouseDuplicate", DefaultParameterSetName = "Collection")]
[OutputType(typeof(HouseDuplicateGroup))]
public sealed class FindHouseDuplicateCommand : HouseCollectionCmdletBase
{
    private readonly List<HouseEmbedding> _probes = [];
    private OrderedParallelQueue<string, HouseEmbedding>? _queue;

    /// <summary>Photos or folders to scan by themselves, with no stored collection: embedded, grouped, nothing stored.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Path")]
    [SupportsWildcards]
    public string[] Path { get; set; } = [];

    /// <summary>-Path: also the photos in subfolders.</summary>
    [Parameter(ParameterSetName = "Path")]
    public SwitchParameter Recurse { get; set; }

    /// <summary>Photos to check against the collection (and one another), for example from Get-ChildItem; not stored.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "LiteralPath")]
    [Alias("PSPath", "LP")]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>Embeddings (Get-HouseEmbedding) to check against the collection (and one another); not stored.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "Embedding")]
    public HouseEmbedding[] Embedding { get; set; } = [];

    /// <summary>Check only the photos added to the collection since then, against the whole collection.</summary>
    [Parameter(ParameterSetName = "Collection")]
    public DateTime Since { get; set; }

    /// <summary>
    /// L2 distance at or below which two photos are duplicates. Default: the model's calibrated threshold, made stricter
    /// for large collections so that at most one false pair is expected per 1,000 photos (models/MODEL.md).
    /// </summary>
    [Parameter]
    [ValidateRange(0.0, 2.0)]
    public double Threshold { get; set; } = double.NaN;

    /// <summary>Only pairs at least this likely to be the same photo: the threshold becomes the distance of that probability, if stricter.</summary>
    [Parameter]
    [ValidateRange(0.0, 1.0)]
    public double MinProbability { get; set; }

    /// <summary>Only byte-identical copies (same SHA-256); no vector search.</summary>
    [Parameter]
    public SwitchParameter ExactOnly { get; set; }

    /// <summary>The keeper policy, tried in order until one rule tells the members apart. Default: Resolution, FileSize, Oldest.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public KeeperRule[] KeepBy { get; set; } = [.. DuplicateScan.DefaultKeepBy];

    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case "Embedding":
                _probes.AddRange(Embedding);
                break;
            case "LiteralPath":
                Post(ResolveFiles(LiteralPath, literal: true, FolderPolicy.Include).SelectMany(Photos));
                break;
            case "Path":
                Post(ResolveFiles(Path, literal: false, FolderPolicy.Include).SelectMany(Photos));
                break;
        }
    }

    private IEnumerable<string> Photos(string path) => Directory.Exists(path)
        ? Directory.EnumerateFiles(path, "*", Recurse ? SearchOption.AllDirectories : SearchOption.TopDirectoryOnly)
            .Where(f => HouseSimilarity.Imaging.HouseImageLoader.Extensions.Contains(System.IO.Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
        : [path];

    private void Post(IEnumerable<string> files)
    {
        // Made here, not in BeginProcessing: the parameter set of piped input is known only once it is bound.
        var embedder = Embedder;
        _queue ??= new OrderedParallelQueue<string, HouseEmbedding>((path, _) => embedder.Embed(path), Environment.ProcessorCount, Cancellation);
        foreach (string file in files)
        {
            _queue!.Post(file);
        }
        Collect(_queue!.Take(keepInFlight: _queue.Window));
    }

    private void Collect(IEnumerable<OrderedParallelQueue<string, HouseEmbedding>.Result> results)
    {
        foreach (var result in results)
        {
            if (result.Error is not null)
            {
                WriteImageError(result.Error, result.Item);
            }
            else
            {
                _probes.Add(result.Value!);
            }
        }
        WriteProgress(new ProgressRecord(1, "Finding duplicate photos", $"{Plural.Of(_probes.Count, "photo")} embedded"));
    }

    protected override void EndProcessing()
    {
        if (_queue is not null)
        {
            Collect(_queue.TakeAll());
        }
        if (ParameterSetName == "Path")
        {
            ScanAlone(Options(_probes.Count));
            return;
        }
        if (FindCollection() is not { } collection)
        {
            return;
        }
        var options = Options(collection.Count + _probes.Count);
        var probes = ParameterSetName == "Collection" ? null : _probes;
        if (probes?.FirstOrDefault(p => p.ModelId != collection.ModelId) is { } foreign)
        {
            TerminateOnMismatch(new ModelMismatchException(collection.Name, collection.ModelId, foreign.ModelId));
        }
        Scan(new DuplicateScan(Store, collection.Store!), options, collection.Count, probes,
            $"Finding duplicate photos in collection '{collection.Name}'");
    }

    /// <summary>The scan's options; the threshold follows the number of photos unless -Threshold says otherwise.</summary>
    private DuplicateScanOptions Options(long photos)
    {
        double threshold;
        var calibration = Calibration;
        if (calibration is null)
        {
            threshold = double.IsNaN(Threshold) ? Model.DuplicateThreshold : Threshold;
            WriteWarning("This module has no duplicate calibration for its model: probabilities are not given, and the threshold " +
                         $"{threshold:F3} does not follow the collection size (rebuild with ./build.ps1 -Task Model).");
        }
        else if (double.IsNaN(Threshold))
        {
            // Unrelated pairs grow with the square of the collection: keep about one false pair per 1,000 photos.
            threshold = Math.Min(Model.DuplicateThreshold, calibration.ThresholdFor(photos, Math.Max(1, photos / 1000.0)));
            WriteVerbose($"Threshold {threshold:F3} for {Plural.Of(photos, "photo")}: about {calibration.ExpectedFalsePairs(threshold, photos):F1} " +
                         $"false pairs expected, {calibration.Recall(threshold):P1} of edited copies found (models/MODEL.md).");
        }
        else
        {
            threshold = Threshold;
            WriteVerbose($"Threshold {threshold:F3}: about {calibration.ExpectedFalsePairs(threshold, photos):F1} false pairs expected " +
                         $"among {Plural.Of(photos, "photo")}.");
        }
        if (MinProbability > 0 && calibration is not null)
        {
            threshold = Math.Min(threshold, calibration.DistanceFor(MinProbability));
        }
        return new DuplicateScanOptions
        {
            Threshold = threshold, ExactOnly = ExactOnly, KeepBy = KeepBy, Probability = calibration is null ? null : calibration.Probability,
            Since = IsBound(nameof(Since)) ? Since.ToUniversalTime() : null,
        };
    }

    /// <summary>-Path: the photos alone, in a throwaway embedded store that is deleted afterwards.</summary>
    private void ScanAlone(DuplicateScanOptions options)
    {
        string file = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"housesim-scan-{Guid.NewGuid():N}.db");
        try
        {
            using var store = new LocalStore(file, CollectionName.Default);
            // Ids are the paths; a photo named twice is scanned once.
            var photos = _probes.DistinctBy(p => p.Id, StringComparer.Ordinal).ToList();
            foreach (var batch in photos.Chunk(512))
            {
                Wait(ct => store.UpsertAsync(batch, ct));
            }
            var source = new HouseStoreReference(store.Backend, "(not stored)", "");
            Scan(new DuplicateScan(store, source), options, photos.Count, null, $"Finding duplicates among {Plural.Of(photos.Count, "photo")}");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (string f in new[] { file, file + "-wal", file + "-shm" })
            {
                File.Delete(f);
            }
        }
    }

    private void Scan(DuplicateScan scan, DuplicateScanOptions options, long total, IReadOnlyList<HouseEmbedding>? probes, string activity)
    {
        var steps = scan.RunAsync(options, total, probes, Cancellation).GetAsyncEnumerator(Cancellation);
        try
        {
            while (Wait(_ => steps.MoveNextAsync().AsTask()))
            {
                var (done, all) = steps.Current;
                WriteProgress(new ProgressRecord(1, activity, $"{done:N0} of {Plural.Of(all, "photo")}")
                {
                    PercentComplete = all == 0 ? 100 : (int)Math.Min(100, 100 * done / all),
                });
            }
        }
        finally
        {
            steps.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        WriteProgress(new ProgressRecord(1, activity, "Done") { RecordType = ProgressRecordType.Completed });
        WriteVerbose($"{Plural.Of(scan.Groups.Count, "duplicate group")} ({scan.Groups.Count(g => g.Kind == nameof(DuplicateKind.Exact))} exact) at threshold {options.Threshold:F3}.");
        foreach (var group in scan.Groups)
        {
            WriteObject(group);
        }
    }
}
