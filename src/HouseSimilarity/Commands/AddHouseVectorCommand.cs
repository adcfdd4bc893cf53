using System.Diagnostics;
using System.Management.Automation;

namespace HouseSimilarity.Commands;

/// <summary>
/// Embeds photos and stores their vectors. Photos are embedded in parallel and committed in batches; a
/// photo is reported (progress, -PassThru) only after its batch is durable, so Ctrl+C or a killed process
/// loses nothing already reported.
/// </summary>
[Cmdlet(VerbsCommon.Add, "HouseVector", DefaultParameterSetName = "Path", SupportsShouldProcess = false)]
[OutputType(typeof(HouseRecord))]
public sealed class AddHouseVectorCommand : HouseCollectionCmdletBase
{
    private readonly List<HouseEmbedding> _batch = [];
    private readonly Stopwatch _clock = new();
    private OrderedParallelQueue<string, HouseEmbedding>? _queue;
    private long _stored, _failed, _lastProgress = -1;
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

    protected override void BeginProcessing()
    {
        _ = Store;
        _queue = new OrderedParallelQueue<string, HouseEmbedding>((path, _) => Embedder.Embed(path),
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
        Collect(_queue!.Take(keepInFlight: 2 * _queue.Parallelism));
    }

    protected override void EndProcessing()
    {
        Collect(_queue!.TakeAll());
        Flush();
        WriteProgress(new ProgressRecord(1, Activity, "Done") { RecordType = ProgressRecordType.Completed });
        WriteVerbose($"Stored {_stored} photos in collection '{Collection}' ({Store.Location}); {_failed} failed.");
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
        _batch.Add(embedding);
        _current = embedding.Path;
        if (_batch.Count >= BatchSize)
        {
            Flush();
        }
        ReportProgress();
    }

    private void Flush()
    {
        if (_batch.Count == 0)
        {
            return;
        }
        try
        {
            Wait(ct => Store.UpsertAsync(_batch, ct));
        }
        catch (ModelMismatchException e)
        {
            TerminateOnMismatch(e);
        }
        catch (HouseStoreException e)
        {
            Terminate(e, "StoreWriteFailed", ErrorCategory.WriteError, Collection);
        }
        _stored += _batch.Count;
        if (PassThru)
        {
            DateTime now = DateTime.UtcNow;
            foreach (var embedding in _batch)
            {
                WriteObject(HouseRecord.From(embedding, Collection, now));
            }
        }
        _batch.Clear();
    }

    private void ReportProgress()
    {
        long tick = _clock.ElapsedMilliseconds / 250;
        if (tick == _lastProgress)
        {
            return;
        }
        _lastProgress = tick;
        double rate = (_stored + _batch.Count) / Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
        WriteProgress(new ProgressRecord(1, Activity, $"{_stored} stored, {_batch.Count} embedded, {_failed} failed ({rate:F1} photos/s)")
        {
            CurrentOperation = _current,
        });
    }
}
