using HouseSimilarity.Stores;

namespace HouseSimilarity.Services;

/// <summary>One batch handed to the store: stored whole, or (with <see cref="Error"/>) not stored.</summary>
public sealed record IngestBatch(IReadOnlyList<HouseEmbedding> Records, DateTime AddedUtc, HouseStoreException? Error)
{
    public bool Stored => Error is null;
}

/// <summary>
/// What an ingest means, the same for Add-HouseVector and the benchmarks: embeddings are gathered into batches of
/// <see cref="BatchSize"/> and upserted; a batch the store refuses (server gone, disk full) is reported as not stored
/// and the ingest goes on; a record counts as stored only once its batch came back. <see cref="CompleteAsync"/> ends an
/// ingest (it builds what waits for the bulk load), also after a stop.
/// </summary>
public sealed class HouseIngestor(IHouseStore store, int batchSize)
{
    private List<HouseEmbedding> _batch = new(batchSize);
    private bool _completed;
    private int? _dimension;

    public IHouseStore Store { get; } = store;
    public int BatchSize { get; } = batchSize > 0 ? batchSize : throw new ArgumentOutOfRangeException(nameof(batchSize));
    public long Stored { get; private set; }
    public long NotStored { get; private set; }
    /// <summary>Records waiting for their batch to fill.</summary>
    public int Pending => _batch.Count;

    /// <summary>
    /// Adds one record; when that fills the batch, stores it and returns how it went. A record no store accepts (bad Id,
    /// a vector that is not finite, not of unit length or not of the collection's dimension) is refused here with
    /// <see cref="InvalidHouseRecordException"/>, so that it never spoils the batch of the good ones.
    /// </summary>
    public async Task<IngestBatch?> AddAsync(HouseEmbedding record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (_dimension is null)
        {
            try
            {
                _dimension = (await Store.GetCollectionAsync(cancellationToken))?.Dimension ?? record.Vector?.Length ?? 0;
            }
            catch (HouseStoreException)
            {
                // The store is unreachable: the batch reports it, photo by photo, when it is stored.
                _dimension = record.Vector?.Length ?? 0;
            }
        }
        HouseRecordCheck.Check(record, _dimension.Value);
        _batch.Add(record);
        return _batch.Count >= BatchSize ? await FlushAsync(cancellationToken) : null;
    }

    /// <summary>
    /// Stores what is pending. A store failure is returned as a batch not stored; a model mismatch (nothing this
    /// ingest makes could be stored) is thrown.
    /// </summary>
    public async Task<IngestBatch?> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_batch.Count == 0)
        {
            return null;
        }
        var records = _batch;
        _batch = new List<HouseEmbedding>(BatchSize);
        try
        {
            await Store.UpsertAsync(records, cancellationToken);
        }
        catch (HouseStoreException e)
        {
            NotStored += records.Count;
            return new IngestBatch(records, DateTime.UtcNow, e);
        }
        Stored += records.Count;
        return new IngestBatch(records, DateTime.UtcNow, null);
    }

    /// <summary>Ends the ingest: builds what waits for the bulk load (a deferred index). True when it built something.</summary>
    public async Task<bool> CompleteAsync(CancellationToken cancellationToken = default)
    {
        _completed = true;
        return Stored > 0 && await Store.FinishIngestAsync(cancellationToken);
    }

    /// <summary>
    /// After a stop (Ctrl+C, a terminating error): what was pending is dropped (it was never reported stored), and the
    /// ingest still ends as <see cref="CompleteAsync"/> would, within <paramref name="limit"/>. Never throws.
    /// </summary>
    public void Abandon(TimeSpan limit)
    {
        _batch.Clear();
        if (_completed || Stored == 0)
        {
            return;
        }
        _completed = true;
        try
        {
            using var bounded = new CancellationTokenSource(limit);
            Store.FinishIngestAsync(bounded.Token).GetAwaiter().GetResult();
        }
        catch (Exception)
        {
            // The next ingest builds what is missing.
        }
    }
}
