using System.Globalization;
using Npgsql;
using NpgsqlTypes;

namespace HouseSimilarity.Stores;

/// <summary>
/// AlloyDB (Omni): the pgvector store, plus Google's ScaNN index when <see cref="PgVectorOptions.IndexKind"/> is
/// <see cref="VectorIndexKind.ScaNN"/>. As AlloyDB advises, the ScaNN index is not created on an empty table: it is
/// built once the collection holds <see cref="PgVectorOptions.ScannMinRows"/> rows (automatically after the upsert
/// that crosses it) and rebuilt by <see cref="BuildIndexAsync"/> when the table has grown past twice the rows it was
/// built for. Until then searches are exact scans. With HNSW or Exact it behaves as <see cref="PgVectorStore"/>.
/// </summary>
public sealed class AlloyDbStore : PgVectorStore
{
    public const string ScannExtension = "alloydb_scann";

    /// <summary>ScaNN's largest num_leaves for a two-level tree.</summary>
    public const int MaxNumLeaves = 1_048_576;

    public override string Backend => "AlloyDb";

    public AlloyDbStore(PgVectorOptions options, string collection = CollectionName.Default)
        : base(options, collection, allowScann: true)
    {
        if (options.IndexKind == VectorIndexKind.ScaNN && options.Metric != DistanceMetric.L2)
        {
            throw new ArgumentException(
                "ScaNN indexes L2, dot product or cosine, not L1: use -IndexType Hnsw for an L1 collection.", nameof(options));
        }
        if (options.ScannNumLeaves is < 1 or > MaxNumLeaves)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ScannNumLeaves, "ScaNN num_leaves must be 1..1048576.");
        }
        if (options.ScannLeavesToSearch is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.ScannLeavesToSearch, "scann.num_leaves_to_search must be at least 1.");
        }
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

    private protected override bool HasUsableIndex(CollectionInfo info) =>
        info.IndexKind == VectorIndexKind.ScaNN ? info.ScannNumLeaves is not null : base.HasUsableIndex(info);

    private protected override IEnumerable<(string Name, string Value)> SearchSettings(CollectionInfo info, int top, bool exact)
    {
        if (info.IndexKind != VectorIndexKind.ScaNN || exact)
        {
            return base.SearchSettings(info, top, exact);
        }
        int leaves = Math.Min(info.ScannNumLeaves!.Value, Options.ScannLeavesToSearch ?? DefaultLeavesToSearch(info.ScannNumLeaves.Value));
        return [("scann.num_leaves_to_search", leaves.ToString(CultureInfo.InvariantCulture))];
    }

    private protected override async Task AfterUpsertAsync(CancellationToken ct)
    {
        if (Options.IndexKind == VectorIndexKind.ScaNN)
        {
            await BuildScannAsync(onlyIfMissing: true, ct);
        }
    }

    /// <summary>Builds the ScaNN index when the table is big enough and has none, or has doubled since it was built.</summary>
    public override async Task<bool> BuildIndexAsync(CancellationToken cancellationToken = default) =>
        await BuildScannAsync(onlyIfMissing: false, cancellationToken) || await base.BuildIndexAsync(cancellationToken);

    private Task<bool> BuildScannAsync(bool onlyIfMissing, CancellationToken cancellationToken) =>
        RunAsync("index", async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            // FOR UPDATE: one builder at a time; writers wait for the build (CREATE INDEX blocks them anyway).
            var info = await ReadInfoAsync(connection, ct, " FOR UPDATE");
            if (info is not { IndexKind: VectorIndexKind.ScaNN } || (onlyIfMissing && info.ScannNumLeaves is not null))
            {
                return false;
            }
            long rows;
            await using (var count = new NpgsqlCommand($"SELECT count(*) FROM {Quote(Table)}", connection))
            {
                rows = Convert.ToInt64(await count.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
            }
            if (rows < Options.ScannMinRows || (info.ScannNumLeaves is not null && !NeedsRebuild(info.IndexedRows, rows)))
            {
                return false;
            }
            int leaves = Options.ScannNumLeaves ?? NumLeavesFor(rows);
            await ExecuteAsync(connection, DropIndexSql(Table), ct);
            await ExecuteAsync(connection, CreateScannIndexSql(Table, leaves), ct, timeout: 0);
            await using (var update = new NpgsqlCommand(
                $"UPDATE {MetadataTable} SET scann_num_leaves = @l, indexed_rows = @r WHERE name = @n", connection))
            {
                update.Parameters.AddWithValue("l", NpgsqlDbType.Integer, leaves);
                update.Parameters.AddWithValue("r", NpgsqlDbType.Bigint, rows);
                update.Parameters.AddWithValue("n", NpgsqlDbType.Text, Collection);
                await update.ExecuteNonQueryAsync(ct);
            }
            await transaction.CommitAsync(ct);
            return true;
        }, cancellationToken);
}
