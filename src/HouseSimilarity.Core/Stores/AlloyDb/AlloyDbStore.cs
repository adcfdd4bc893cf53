using System.Globalization;
using System.Text.Json;
using HouseSimilarity.Stores.PgVector;
using Npgsql;

namespace HouseSimilarity.Stores.AlloyDb;

/// <summary>AlloyDB's ScaNN settings, beside the PostgreSQL ones.</summary>
public sealed class ScannOptions
{
    /// <summary>ScaNN <c>num_leaves</c>; null: sized from the row count when the index is built.</summary>
    public int? NumLeaves { get; set; }

    /// <summary>ScaNN <c>scann.num_leaves_to_search</c> per query; null: see <see cref="AlloyDbStore.DefaultLeavesToSearch"/>.</summary>
    public int? LeavesToSearch { get; set; }

    /// <summary>Fewest rows a ScaNN index is built for; smaller collections are searched exactly.</summary>
    public long MinRows { get; set; } = 10_000;
}

/// <summary>
/// AlloyDB (Omni): the pgvector store, plus Google's ScaNN index when <see cref="PgVectorOptions.IndexType"/> is
/// <see cref="VectorIndexType.ScaNN"/>, contributed through the PostgreSQL store's hooks (extensions, index state, search
/// settings, after-upsert and finish-ingest). As AlloyDB advises, the ScaNN index is not created on an empty table: it is
/// built once the collection holds <see cref="ScannOptions.MinRows"/> rows (automatically after the upsert that crosses
/// it) and rebuilt by <see cref="FinishIngestAsync"/> when the table has grown past twice the rows it was built for.
/// Until then searches are exact scans. With HNSW or Exact it behaves as <see cref="PgVectorStore"/>.
/// </summary>
public sealed class AlloyDbStore : PgVectorStore
{
    public const string ScannExtension = "alloydb_scann";

    /// <summary>ScaNN's largest num_leaves for a two-level tree.</summary>
    public const int MaxNumLeaves = 1_048_576;

    private readonly ScannOptions _scann;

    public override string Backend => AlloyDbStoreProvider.BackendName;

    protected override IReadOnlyList<VectorIndexType> IndexTypes => AlloyDbStoreProvider.Indexes;

    public AlloyDbStore(PgVectorOptions options, string collection = CollectionName.Default, ScannOptions? scann = null)
        : base(options, collection)
    {
        _scann = scann ?? new ScannOptions();
        if (options.IndexType == VectorIndexType.ScaNN && options.Metric != DistanceMetric.L2)
        {
            throw new ArgumentException(
                "ScaNN indexes L2, dot product or cosine, not L1: use -IndexType Hnsw for an L1 collection.", nameof(options));
        }
        if (_scann.NumLeaves is < 1 or > MaxNumLeaves)
        {
            throw new ArgumentOutOfRangeException(nameof(scann), _scann.NumLeaves, "ScaNN num_leaves must be 1..1048576.");
        }
        if (_scann.LeavesToSearch is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(scann), _scann.LeavesToSearch, "scann.num_leaves_to_search must be at least 1.");
        }
    }

    /// <summary>What the store keeps about a built ScaNN index (the metadata row's index_state).</summary>
    private sealed record ScannState(int NumLeaves, long IndexedRows)
    {
        public static ScannState? Read(string? json) => json is null ? null : JsonSerializer.Deserialize<ScannState>(json);
        public string Write() => JsonSerializer.Serialize(this);
    }

    // ---------------------------------------------------------------------------------------------------------
    // SQL, as small pure functions (tests assert them against the documented syntax).

    /// <summary>CASCADE also installs <c>vector</c>.</summary>
    public const string CreateExtensionSql = "CREATE EXTENSION IF NOT EXISTS alloydb_scann CASCADE";

    /// <summary><c>CREATE INDEX … USING scann (embedding l2) WITH (num_leaves = N)</c>: a two-level tree, SQ8 quantizer.</summary>
    public static string CreateScannIndexSql(string table, int numLeaves)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numLeaves, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(numLeaves, MaxNumLeaves);
        return $"CREATE INDEX {Quote(IndexName(table))} ON {Quote(table)} USING scann (embedding l2) " +
               $"WITH (num_leaves = {numLeaves.ToString(CultureInfo.InvariantCulture)})";
    }

    public static string DropIndexSql(string table) => $"DROP INDEX IF EXISTS {Quote(IndexName(table))}";

    /// <summary>SET LOCAL scann.num_leaves_to_search = n (query-time recall knob).</summary>
    public static string SetLeavesToSearchSql(int leaves) =>
        SetLocalSql("scann.num_leaves_to_search", leaves.ToString(CultureInfo.InvariantCulture));

    /// <summary>
    /// num_leaves for a table of <paramref name="rows"/> rows: about sqrt(rows) (AlloyDB's balanced start), but no
    /// more than rows/100 (AlloyDB: keep num_leaves ≤ rows/100), and at least 1.
    /// </summary>
    public static int NumLeavesFor(long rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        long leaves = Math.Min((long)Math.Round(Math.Sqrt(rows)), rows / 100);
        return (int)Math.Clamp(leaves, 1, MaxNumLeaves);
    }

    /// <summary>
    /// Leaves searched per query when the option is not set: 5 % of the leaves, at least 10 (or all of them).
    /// AlloyDB's own default, 1 %, trades much recall for speed on collections of this size.
    /// </summary>
    public static int DefaultLeavesToSearch(int numLeaves) =>
        Math.Min(numLeaves, Math.Max(10, (int)Math.Ceiling(numLeaves * 0.05)));

    /// <summary>Whether an index built for <paramref name="indexedRows"/> should be rebuilt for <paramref name="rows"/>.</summary>
    public static bool NeedsRebuild(long? indexedRows, long rows) => indexedRows is not long built || rows > 2 * built;

    // ---------------------------------------------------------------------------------------------------------

    protected override IEnumerable<PostgresExtension> Extensions => Options.IndexType == VectorIndexType.ScaNN
        ? [new(ScannExtension, CreateExtensionSql, "use AlloyDB Omni (where the extension ships), or choose -IndexType Hnsw"),
           .. base.Extensions]
        : base.Extensions;

    protected override bool HasUsableIndex(CollectionInfo info) =>
        info.IndexType == VectorIndexType.ScaNN ? ScannState.Read(info.IndexState) is not null : base.HasUsableIndex(info);

    protected override IEnumerable<(string Name, string Value)> SearchSettings(CollectionInfo info, int top, bool exact)
    {
        if (info.IndexType != VectorIndexType.ScaNN || exact || ScannState.Read(info.IndexState) is not { } state)
        {
            return base.SearchSettings(info, top, exact);
        }
        int leaves = Math.Min(state.NumLeaves, _scann.LeavesToSearch ?? DefaultLeavesToSearch(state.NumLeaves));
        return [("scann.num_leaves_to_search", leaves.ToString(CultureInfo.InvariantCulture))];
    }

    protected override async Task AfterUpsertAsync(CancellationToken ct)
    {
        if (Options.IndexType == VectorIndexType.ScaNN)
        {
            await BuildScannAsync(onlyIfMissing: true, ct);
        }
    }

    /// <summary>Builds the ScaNN index when the table is big enough and has none, or has doubled since it was built.</summary>
    public override async Task<bool> FinishIngestAsync(CancellationToken cancellationToken = default) =>
        await BuildScannAsync(onlyIfMissing: false, cancellationToken) || await base.FinishIngestAsync(cancellationToken);

    private Task<bool> BuildScannAsync(bool onlyIfMissing, CancellationToken cancellationToken) =>
        RunAsync("index", async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            // FOR UPDATE: one builder at a time; writers wait for the build (CREATE INDEX blocks them anyway).
            var info = await ReadInfoAsync(connection, ct, " FOR UPDATE");
            var state = ScannState.Read(info?.IndexState);
            if (info is not { IndexType: VectorIndexType.ScaNN } || (onlyIfMissing && state is not null))
            {
                return false;
            }
            long rows;
            await using (var count = new NpgsqlCommand($"SELECT count(*) FROM {Quote(Table)}", connection))
            {
                rows = Convert.ToInt64(await count.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
            }
            if (rows < _scann.MinRows || (state is not null && !NeedsRebuild(state.IndexedRows, rows)))
            {
                return false;
            }
            int leaves = _scann.NumLeaves ?? NumLeavesFor(rows);
            await ExecuteAsync(connection, DropIndexSql(Table), ct);
            await ExecuteAsync(connection, CreateScannIndexSql(Table, leaves), ct, timeout: 0);
            await SaveIndexStateAsync(connection, new ScannState(leaves, rows).Write(), ct);
            await transaction.CommitAsync(ct);
            return true;
        }, cancellationToken);
}
