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
/// Ends by building what waits for the bulk load (AlloyDB's ScaNN index), also after Ctrl+C. A folder adds its photos,
/// streamed from the file system; -WhatIf and -Confirm ask before each photo, since adding overwrites a stored record.
/// </summary>
[Cmdlet(VerbsCommon.Add, "HouseVector", DefaultParameterSetName = "Path", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(HouseRecord))]
public sealed class AddHouseVectorCommand : HouseCollectionCmdletBase
{
    private OrderedParallelQueue<string, HouseEmbedding>? _queue;
    private HouseIngestor? _ingestor;
    private PhotoProgress? _progress;
    private long _failed, _skipped;
    private string _current = "";

    /// <summary>Photos or folders; wildcards allowed. A folder adds the photos in it (-Recurse: in its subfolders too).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = "Path")]
    [SupportsWildcards]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "LiteralPath")]
    [Alias("PSPath", "LP")]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>Vectors already made by Get-HouseEmbedding (or records, also after ConvertTo-Json | ConvertFrom-Json):
    /// stored without embedding again.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "Embedding")]
    [HouseEmbeddingTransformation]
    public HouseEmbedding[] Embedding { get; set; } = [];

    /// <summary>A folder adds the photos of its subfolders too.</summary>
    [Parameter(ParameterSetName = "Path")]
    [Parameter(ParameterSetName = "LiteralPath")]
    public SwitchParameter Recurse { get; set; }

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

    protected override bool CreatesStore => true;

    /// <summary>-WhatIf (or $WhatIfPreference): nothing is embedded, and no store is opened or created.</summary>
    private bool WhatIf =>
        (MyInvocation.BoundParameters.TryGetValue("WhatIf", out object? w) && w is SwitchParameter { IsPresent: true }) ||
        (!MyInvocation.BoundParameters.ContainsKey("WhatIf") && LanguagePrimitives.IsTrue(GetVariableValue("WhatIfPreference")));

    protected override void BeginProcessing()
    {
        // The model first: a damaged one stops the command before a store is opened or created.
        var embedder = Embedder;
        if (!WhatIf)
        {
            // Opened here, so that an unreachable server stops the command before any photo is embedded.
            _ingestor = new HouseIngestor(Store, BatchSize);
        }
        _queue = new OrderedParallelQueue<string, HouseEmbedding>((path, _) => embedder.Embed(path),
            Environment.ProcessorCount, Cancellation);
        _progress = new PhotoProgress(this, Activity);
    }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == "Embedding")
        {
            if (InputCountKnown)
            {
                _progress!.Total = Embedding.Length;
            }
            foreach (var embedding in Embedding)
            {
                if (Confirmed(embedding.Path))
                {
                    Accept(embedding);
                }
            }
            return;
        }
        bool literal = ParameterSetName == "LiteralPath";
        var named = ResolveFiles(literal ? LiteralPath : Path, literal, FolderPolicy.Include).ToList();
        if (InputCountKnown)
        {
            // Counted by streaming through the folders once: their listings are never held whole.
            _progress!.Total = named.Sum(p => Directory.Exists(p) ? PhotosIn(p, Recurse).LongCount() : 1L);
        }
        foreach (string file in named.SelectMany(p => Directory.Exists(p) ? PhotosIn(p, Recurse) : [p]))
        {
            if (!Confirmed(file))
            {
                continue;
            }
            _queue!.Post(file);
            Collect(_queue.Take(keepInFlight: _queue.Window));
        }
    }

    private bool Confirmed(string path)
    {
        string collection = RequestedCollection ?? Target.Collection;
        if (ShouldProcess($"{path} (into collection '{collection}', {Target.Backend} {Target.Location}; a stored record of it is replaced)",
                "Add house vector"))
        {
            return true;
        }
        _skipped++;
        return false;
    }

    protected override void EndProcessing()
    {
        Collect(_queue!.TakeAll());
        _progress!.Complete();
        if (_ingestor is null)
        {
            return; // -WhatIf: nothing was embedded or stored
        }
        Report(Ingest(_ingestor.FlushAsync));
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
        WriteVerbose($"Stored {Plural.Of(stored, "photo")} in collection '{Collection}' ({Store.Location}); {_failed} could not be " +
                     $"read or refused, {notStored} not stored.");
        if (notStored > 0)
        {
            WriteWarning($"{Plural.Of(notStored, "photo")} {(notStored == 1 ? "was" : "were")} not stored in collection '{Collection}' " +
                         "(see the errors). Run the same command again to add them: photos already stored are updated, never duplicated.");
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
                WriteIngestError(ImageErrorRecord(result.Error, result.Item));
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
        if (_ingestor is not null)
        {
            Report(Ingest(ct => _ingestor.AddAsync(embedding, ct)));
            ReportProgress();
        }
    }

    /// <summary>
    /// Writes a per-photo error. When -ErrorAction Stop (or $ErrorActionPreference) turns it into a stop, the photos
    /// embedded before it (waiting for their batch) are stored first, and a warning says what was stored and what was
    /// not: once the error is written the pipeline is stopping and nothing more can be reported.
    /// </summary>
    private void WriteIngestError(ErrorRecord record)
    {
        if (_ingestor is not null && ErrorsStop)
        {
            int pending = _ingestor.Pending;
            Report(Ingest(_ingestor.FlushAsync));
            WriteWarning($"Stopped at '{record.TargetObject}' (-ErrorAction Stop): {Plural.Of(_ingestor.Stored, "photo")} " +
                         $"stored in collection '{Collection}' ({pending} of them just before the stop), " +
                         $"{Plural.Of(_ingestor.NotStored, "photo")} not stored; '{record.TargetObject}' and the photos after it were not added.");
        }
        WriteError(record);
    }

    /// <summary>Whether a non-terminating error stops this command: -ErrorAction Stop, or $ErrorActionPreference.</summary>
    private bool ErrorsStop =>
        (MyInvocation.BoundParameters.TryGetValue("ErrorAction", out object? given)
            ? given
            : GetVariableValue("ErrorActionPreference")) is { } preference &&
        LanguagePrimitives.TryConvertTo(preference, out ActionPreference action) && action == ActionPreference.Stop;

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
            WriteIngestError(new ErrorRecord(e, "InvalidRecord", ErrorCategory.InvalidData, _current));
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
        long stored = _ingestor!.Stored, pending = _ingestor.Pending, notStored = _ingestor.NotStored;
        long done = stored + pending + notStored + _failed;
        string of = _progress!.Total is { } total ? $" of {total:N0}" : "";
        _progress.Report(done,
            $"{stored:N0}{of} stored; {pending:N0} embedded, waiting to be stored with their batch; {_failed:N0} unreadable or refused; " +
            $"{notStored:N0} not stored", _current, force: done == 1 || done == _progress.Total);
    }
}
