using System.Text.RegularExpressions;

namespace HouseSimilarity.Stores;

/// <summary>
/// One collection of photo vectors in one backend. Every backend has the same semantics: upsert by Id, true distances
/// (Euclidean L2 by default), the collection remembers the model id its vectors were made with. What a backend cannot
/// promise (atomic batches, exact search, a metric) it says in <see cref="Capabilities"/>.
/// </summary>
public interface IHouseStore : IDisposable
{
    string Backend { get; }
    /// <summary>Where the data lives (file path, server), without secrets.</summary>
    string Location { get; }
    string Collection { get; }
    StoreCapabilities Capabilities { get; }

    /// <summary>Reaches the server, if there is one, so that an unreachable server or a wrong password fails at once.</summary>
    Task ConnectAsync(CancellationToken cancellationToken = default) => Task.CompletedTask;

    /// <summary>The collection, or null when nothing was added to it yet.</summary>
    Task<HouseCollection?> GetCollectionAsync(CancellationToken cancellationToken = default);

    Task<IReadOnlyList<HouseCollection>> ListCollectionsAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Inserts or replaces records by Id (all of one model), atomically per call where
    /// <see cref="StoreCapabilities.AtomicBatches"/> says so. Creates the collection on first use.
    /// </summary>
    Task UpsertAsync(IReadOnlyList<HouseEmbedding> records, CancellationToken cancellationToken = default);

    /// <summary>The <paramref name="k"/> nearest records to one vector, nearest first.</summary>
    Task<IReadOnlyList<Neighbour>> SearchAsync(float[] query, int k, SearchOptions options,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// The <paramref name="k"/> nearest records to each of many vectors (one list per query, in query order). Backends
    /// that can answer many queries in one pass or round trip override this; the default asks one query at a time.
    /// </summary>
    async Task<IReadOnlyList<IReadOnlyList<Neighbour>>> SearchManyAsync(IReadOnlyList<float[]> queries, int k,
        SearchOptions options, CancellationToken cancellationToken = default)
    {
        var result = new List<IReadOnlyList<Neighbour>>(queries.Count);
        foreach (var query in queries)
        {
            result.Add(await SearchAsync(query, k, options, cancellationToken));
        }
        return result;
    }

    /// <summary>The stored records of these Ids, in no particular order; Ids that are not stored are left out.</summary>
    Task<IReadOnlyList<HouseRecord>> GetManyAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken = default);

    /// <summary>Every record of the collection, in ordinal Id order.</summary>
    IAsyncEnumerable<HouseRecord> ReadAllAsync(CancellationToken cancellationToken = default);

    Task<bool> RemoveAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Deletes the whole collection and its decisions; false when it did not exist.</summary>
    Task<bool> DropCollectionAsync(CancellationToken cancellationToken = default);

    /// <summary>The collection's "not a duplicate" decisions, in (Sha256A, Sha256B) order.</summary>
    Task<IReadOnlyList<HouseDuplicateExclusion>> ReadExclusionsAsync(CancellationToken cancellationToken = default);

    /// <summary>Remembers these decisions with the collection (a pair already there is replaced).</summary>
    Task AddExclusionsAsync(IReadOnlyList<HouseDuplicateExclusion> exclusions, CancellationToken cancellationToken = default);

    /// <summary>Forgets these pairs (<see cref="HouseDuplicateExclusion.Key"/> order); how many were there.</summary>
    Task<int> RemoveExclusionsAsync(IReadOnlyList<(string Sha256A, string Sha256B)> pairs, CancellationToken cancellationToken = default);

    /// <summary>
    /// Ends an ingest: builds what waits for the bulk load (a deferred index). Cheap when nothing waits; true when it
    /// built something.
    /// </summary>
    Task<bool> FinishIngestAsync(CancellationToken cancellationToken = default) => Task.FromResult(false);
}

/// <summary>One answer of a nearest-neighbour search: a stored Id and its distance in the searched metric.</summary>
public readonly record struct Neighbour(string Id, double Distance);

/// <summary>How a search is run.</summary>
public sealed record SearchOptions
{
    public static SearchOptions Default { get; } = new();

    public DistanceMetric Metric { get; init; } = DistanceMetric.L2;
    /// <summary>Only neighbours at most this far (in <see cref="Metric"/>); null: no bound.</summary>
    public double? MaxDistance { get; init; }
    /// <summary>Scan every vector instead of using an approximate index (where <see cref="StoreCapabilities.ExactSearch"/>).</summary>
    public bool Exact { get; init; }
    /// <summary>
    /// Candidates an approximate index weighs per query (HNSW's ef), where a search may choose it (the embedded store):
    /// more finds more of the true neighbours, more slowly. Null: the store's default.
    /// </summary>
    public int? Candidates { get; init; }
}

/// <summary>What a backend can promise; shared code reads this instead of knowing backends.</summary>
public sealed record StoreCapabilities
{
    /// <summary>The metrics searches can use.</summary>
    public required IReadOnlyList<DistanceMetric> Metrics { get; init; }
    /// <summary>Whether one upsert call is stored all or nothing (a transaction).</summary>
    public required bool AtomicBatches { get; init; }
    /// <summary>Whether a search can be asked to be exact (<see cref="SearchOptions.Exact"/>) whatever the index.</summary>
    public required bool ExactSearch { get; init; }
    /// <summary>The largest k one search answers.</summary>
    public int MaxK { get; init; } = int.MaxValue;
    /// <summary>Why a metric is missing, for the message that refuses it.</summary>
    public string? MetricNote { get; init; }
}

public static partial class CollectionName
{
    public const string Default = "default";

    /// <summary>
    /// Collection names become table and collection names in the server backends, so every backend accepts the same
    /// safe set: a letter or underscore, then letters, digits and underscores, at most 63 characters.
    /// </summary>
    public static string Validate(string name)
    {
        if (!Pattern().IsMatch(name))
        {
            throw new ArgumentException(
                $"'{name}' is not a valid collection name: use a letter or '_' followed by letters, digits or '_' (at most 63).",
                nameof(name));
        }
        return name;
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex Pattern();
}

public static class HouseStoreExtensions
{
    /// <summary>
    /// The model id and dimension every record of one upsert shares; ArgumentException when they differ, and
    /// <see cref="InvalidHouseRecordException"/> for a record no store accepts (bad Id, non-finite or non-unit vector).
    /// </summary>
    public static (string ModelId, int Dimension) CheckBatch(IReadOnlyList<HouseEmbedding> records)
    {
        string modelId = records[0].ModelId;
        int dimension = records[0].Vector?.Length ?? 0;
        foreach (var record in records)
        {
            HouseRecordCheck.Check(record, dimension);
            if (record.ModelId != modelId)
            {
                throw new ArgumentException("All records of one batch must come from the same model.", nameof(records));
            }
            if (record.Vector.Length != dimension || dimension == 0)
            {
                throw new ArgumentException("All records of one batch must have vectors of the same, non-zero length.", nameof(records));
            }
        }
        return (modelId, dimension);
    }

    /// <summary>One stored record, or null.</summary>
    public static async Task<HouseRecord?> GetAsync(this IHouseStore store, string id, CancellationToken cancellationToken = default) =>
        (await store.GetManyAsync([id], cancellationToken)).FirstOrDefault();
}
