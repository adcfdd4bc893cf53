using System.Diagnostics;
using System.Management.Automation;
using HouseSimilarity.Services;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>
/// Embeds photos and stores their vectors. Photos are embedded in parallel and committed in batches; a
/// photo is reported (progress, -PassThru) only after its batch is durable, so Ctrl+C or a killed process
/// loses nothing already reported. A batch the store cannot take (server restarted, connection lost) is reported file
/// by file as not stored and the ingest goes on; running the same command again completes the collection (upsert by Id).
/// Ends by building what waits for the bulk load (AlloyDB's ScaNN index), also after Ctrl+C.
/// </summary>
[Cmdlet(VerbsCommon.Add, "HouseVector", DefaultParameterSetName = "Path")]
[OutputType(typeof(HouseRecord))]
public sealed class AddHouseVectorCommand : HouseCollectionCmdletBase
{
    private readonly Stopwatch _clock = new();
    private OrderedParallelQueue<string, HouseEmbedding>? _queue;
    private HouseIngestor? _ingestor;
    private long _failed, _lastProgress = -1;
    private string _current = "";

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = "Path")]
    [SupportsWildcards]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "LiteralPath")]
    [Alias("PSPath", "LP")]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>Vectors already made by Get-HouseEmbedding: stored without embedding again.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "Embedding")]
    public HouseEmbedding[] Embedding { get; set; } = [];

    /// <summary>Photos per transaction.</summary>
    [Parameter]
    [ValidateRange(1, 100_000)]
    public int BatchSize { get; set; } = 64;

    /// <summary>Emit the stored record of each photo.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    /// <summary>The index a new collection gets (Hnsw; Exact: none; ScaNN: AlloyDb; IvfFlat, AutoIndex: Milvus). An
    /// existing collection keeps its own.</summary>
    [Parameter]
    public VectorIndexType IndexType { get; set; }

    protected override VectorIndexType? RequestedIndexType => IsBound(nameof(IndexType)) ? IndexType : null;

    /// <summary>PgVector / AlloyDb: the metric a new collection's HNSW index is built for (L1: vector_l1_ops). Searches
    /// in the other metric still work, as exact scans. The Local store searches both exactly.</summary>
    [Parameter]
    public DistanceMetric IndexMetric { get; set; } = DistanceMetric.L2;

    protected override DistanceMetric RequestedIndexMetric => IndexMetric;

    protected override void BeginProcessing()
    {
        // The model first: a damaged one stops the command before a store is opened or created.
        var embedder = Embedder;
        _ingestor = new HouseIngestor(Store, BatchSize);
        _queue = new OrderedParallelQueue<string, HouseEmbedding>((path, _) => embedder.Embed(path),
            Environment.ProcessorCount, Cancellation);
        _clock.Start();
    }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == "Embedding")
        {
            foreach (var embedding in Embedding)
            {
                Accept(embedding);
            }
            return;
        }
        bool literal = ParameterSetName == "LiteralPath";
        foreach (string file in ResolveFiles(literal ? LiteralPath : Path, literal))
        {
            _queue!.Post(file);
        }
        Collect(_queue!.Take(keepInFlight: _queue.Window));
    }

    protected override void EndProcessing()
    {
        Collect(_queue!.TakeAll());
        Report(Ingest(_ingestor!.FlushAsync));
        WriteProgress(new ProgressRecord(1, Activity, "Done") { RecordType = ProgressRecordType.Completed });
        try
        {
            if (Wait(_ingestor.CompleteAsync, throwStoreErrors: true))
            {
                WriteVerbose($"Built the vector index of collection '{Collection}'.");
            }
        }
        catch (HouseStoreException e)
        {
            WriteError(StoreErrorRecord(new HouseStoreException(
                    $"The photos are stored, but the index of collection '{Collection}' could not be built (searches scan " +
                    $"every row until the next Add-HouseVector builds it): {e.Message}", e, e.Kind, e.Location),
                ErrorCategory.WriteError, Store.Location));
        }
        long stored = _ingestor.Stored, notStored = _ingestor.NotStored;
        WriteVerbose($"Stored {stored} photos in collection '{Collection}' ({Store.Location}); {_failed} could not be read, {notStored} not stored.");
        if (notStored > 0)
        {
            WriteWarning($"{notStored} photos were not stored in collection '{Collection}' (see the errors). Run the same " +
                         "command again to add them: photos already stored are updated, never duplicated.");
        }
    }

    /// <summary>After Ctrl+C (or a terminating error) the ingest still ends as EndProcessing would: indexes are built.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // Not the stopped command's token; bounded so that Ctrl+C stays prompt even when the server hangs.
            _ingestor?.Abandon(TimeSpan.FromSeconds(60));
        }
        base.Dispose(disposing);
    }

    private string Activity => $"Adding photos to collection '{Collection}'";

    private void Collect(IEnumerable<OrderedParallelQueue<string, HouseEmbedding>.Result> results)
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
                Accept(result.Value!);
            }
        }
    }

    private void Accept(HouseEmbedding embedding)
    {
        _current = embedding.Path;
        Report(Ingest(ct => _ingestor!.AddAsync(embedding, ct)));
        ReportProgress();
    }

    /// <summary>Runs an ingest step; a model mismatch stops the command, since nothing it embeds could be stored.</summary>
    private IngestBatch? Ingest(Func<CancellationToken, Task<IngestBatch?>> step)
    {
        try
        {
            return Wait(step);
        }
        catch (ModelMismatchException e)
        {
            TerminateOnMismatch(e);
            return null;
        }
        catch (InvalidHouseRecordException e)
        {
            // Refused before its batch: the photos around it are stored as usual.
            _failed++;
            WriteError(new ErrorRecord(e, "InvalidRecord", ErrorCategory.InvalidData, _current));
            return null;
        }
    }

    /// <summary>A stored batch is emitted (-PassThru); a batch not stored is one error per photo, and the ingest goes on.</summary>
    private void Report(IngestBatch? batch)
    {
        if (batch is null)
        {
            return;
        }
        if (batch.Error is { } e)
        {
            foreach (var embedding in batch.Records)
            {
                var error = StoreErrorRecord(new HouseStoreException(
                    $"'{embedding.Path}' was not stored in collection '{Collection}': {e.Message}", e, e.Kind, e.Location),
                    ErrorCategory.WriteError, embedding.Path);
                WriteError(new ErrorRecord(error.Exception, "NotStored", error.CategoryInfo.Category, embedding.Path));
            }
            return;
        }
        if (PassThru)
        {
            var here = Here;
            foreach (var embedding in batch.Records)
            {
                WriteObject(HouseRecord.From(embedding, here, batch.AddedUtc));
            }
        }
    }

    private void ReportProgress()
    {
        long tick = _clock.ElapsedMilliseconds / 250;
        if (tick == _lastProgress)
        {
            return;
        }
        _lastProgress = tick;
        long stored = _ingestor!.Stored;
        double rate = (stored + _ingestor.Pending) / Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
        WriteProgress(new ProgressRecord(1, Activity,
            $"{stored} stored, {_ingestor.Pending} waiting for their batch, {_failed} failed, {_ingestor.NotStored} not stored ({rate:F1} photos/s)")
        {
            CurrentOperation = _current,
        });
    }
}
