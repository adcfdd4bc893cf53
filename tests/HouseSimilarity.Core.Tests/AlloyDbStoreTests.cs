using HouseSimilarity.Stores;
using HouseSimilarity.Stores.AlloyDb;
using HouseSimilarity.Stores.Local;
using HouseSimilarity.Stores.PgVector;
using Npgsql;
using Xunit;

namespace HouseSimilarity.Tests;

/// <summary>The SQL the pgvector and AlloyDB stores generate, against the documented syntax (backend contracts 4 and 5).</summary>
public sealed class AlloyDbSqlTests
{
    [Fact]
    public void The_ScaNN_extension_is_created_with_cascade()
    {
        Assert.Equal("CREATE EXTENSION IF NOT EXISTS alloydb_scann CASCADE", AlloyDbStore.CreateExtensionSql);
        Assert.Equal("alloydb_scann", AlloyDbStore.ScannExtension);
    }

    [Fact]
    public void The_ScaNN_index_follows_the_documented_two_level_syntax()
    {
        Assert.Equal("CREATE INDEX \"hs_houses_ann\" ON \"hs_houses\" USING scann (embedding l2) WITH (num_leaves = 1000)",
            AlloyDbStore.CreateScannIndexSql("hs_houses", 1000));
        Assert.Equal("DROP INDEX IF EXISTS \"hs_houses_ann\"", AlloyDbStore.DropIndexSql("hs_houses"));
        Assert.Throws<ArgumentOutOfRangeException>(() => AlloyDbStore.CreateScannIndexSql("hs_houses", 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => AlloyDbStore.CreateScannIndexSql("hs_houses", 1_048_577));
    }

    [Fact]
    public void Leaves_to_search_is_set_locally_per_query()
    {
        Assert.Equal("SET LOCAL scann.num_leaves_to_search = 10", AlloyDbStore.SetLeavesToSearchSql(10));
        Assert.Equal("SET LOCAL hnsw.ef_search = 40", PgVectorStore.SetLocalSql("hnsw.ef_search", "40"));
        Assert.Equal("SET LOCAL enable_indexscan = off", PgVectorStore.SetLocalSql("enable_indexscan", "off"));
        Assert.Throws<ArgumentException>(() => PgVectorStore.SetLocalSql("hnsw.ef_search", "1; DROP TABLE x"));
        Assert.Throws<ArgumentException>(() => PgVectorStore.SetLocalSql("a;b", "1"));
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(99, 1)]          // rows/100 < 1: one leaf, not sqrt = 10
    [InlineData(100, 1)]
    [InlineData(5_000, 50)]      // rows/100 = 50 < sqrt = 71
    [InlineData(10_000, 100)]    // both 100
    [InlineData(1_000_000, 1_000)]
    [InlineData(100_000_000, 10_000)]
    public void Num_leaves_is_about_sqrt_rows_and_at_most_rows_over_100(long rows, int leaves)
    {
        Assert.Equal(leaves, AlloyDbStore.NumLeavesFor(rows));
    }

    [Fact]
    public void Num_leaves_stays_within_the_documented_bounds()
    {
        for (long rows = 0; rows < 3_000_000; rows = rows * 3 + 7)
        {
            int leaves = AlloyDbStore.NumLeavesFor(rows);
            Assert.InRange(leaves, 1, AlloyDbStore.MaxNumLeaves);
            if (rows >= 100)
            {
                Assert.True(leaves <= rows / 100, $"{rows} rows -> {leaves} leaves");
            }
            Assert.True(leaves <= Math.Max(1, Math.Round(Math.Sqrt(rows))), $"{rows} rows -> {leaves} leaves");
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(8, 8)]
    [InlineData(100, 10)]
    [InlineData(1000, 50)]
    public void Default_leaves_to_search(int numLeaves, int expected) =>
        Assert.Equal(expected, AlloyDbStore.DefaultLeavesToSearch(numLeaves));

    [Fact]
    public void An_index_is_rebuilt_once_the_table_doubled()
    {
        Assert.True(AlloyDbStore.NeedsRebuild(null, 10));
        Assert.False(AlloyDbStore.NeedsRebuild(10_000, 20_000));
        Assert.True(AlloyDbStore.NeedsRebuild(10_000, 20_001));
    }

    [Fact]
    public void ScaNN_does_not_index_L1()
    {
        var options = new PgVectorOptions
        {
            ConnectionString = "Host=127.0.0.1;Port=1", IndexType = VectorIndexType.ScaNN, Metric = DistanceMetric.L1,
        };
        Assert.Throws<ArgumentException>(() => new AlloyDbStore(options));
    }

    [Fact]
    public void The_HNSW_index_and_table_follow_pgvector_syntax()
    {
        Assert.Equal(
            "CREATE INDEX IF NOT EXISTS \"hs_h_ann\" ON \"hs_h\" USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)",
            PgVectorStore.CreateHnswIndexSql("hs_h", DistanceMetric.L2, 16, 64));
        Assert.Contains("USING hnsw (embedding vector_l1_ops)", PgVectorStore.CreateHnswIndexSql("hs_h", DistanceMetric.L1, 16, 64));
        Assert.Contains("embedding vector(128) NOT NULL", PgVectorStore.CreateTableSql("hs_h", 128));
        Assert.Contains("id text COLLATE \"C\" PRIMARY KEY", PgVectorStore.CreateTableSql("hs_h", 128));
    }

    [Fact]
    public void Searches_order_by_the_distance_operator_then_id()
    {
        Assert.Equal("SELECT q.ord, n.id, n.distance FROM unnest(@q) WITH ORDINALITY AS q(v, ord) CROSS JOIN LATERAL " +
                     "(SELECT id, embedding <-> q.v AS distance FROM \"hs_h\" ORDER BY embedding <-> q.v, id LIMIT @k) n " +
                     "ORDER BY q.ord, n.distance, n.id",
            PgVectorStore.SearchSql("hs_h", DistanceMetric.L2, exact: true, bounded: false));
        Assert.Contains("WHERE embedding <-> q.v <= @max ORDER BY embedding <-> q.v, id LIMIT @k",
            PgVectorStore.SearchSql("hs_h", DistanceMetric.L2, exact: true, bounded: true));
        string ann = PgVectorStore.SearchSql("hs_h", DistanceMetric.L2, exact: false, bounded: true);
        Assert.Contains("ORDER BY embedding <-> q.v LIMIT @k) n WHERE n.distance <= @max ORDER BY q.ord, n.distance, n.id", ann);
        string l1 = PgVectorStore.SearchSql("hs_h", DistanceMetric.L1, exact: false, bounded: false);
        Assert.Contains("embedding <+> q.v AS distance", l1);
        Assert.Contains("ORDER BY embedding <+> q.v LIMIT @k) n ORDER BY", l1);
    }

    [Theory]
    [InlineData(10, null, 100)]
    [InlineData(150, null, 150)]
    [InlineData(10, 40, 40)]
    [InlineData(10, 200, 200)]
    [InlineData(300, 200, 300)]
    [InlineData(5000, null, 1000)]
    public void Ef_search_is_the_option_or_100_and_never_below_top(int top, int? option, int expected) =>
        Assert.Equal(expected, PgVectorStore.EfSearchFor(top, option));
}

/// <summary>Runs only when HOUSESIM_ALLOYDB_CONNECTION names an AlloyDB Omni server.</summary>
public sealed class AlloyDbFactAttribute : FactAttribute
{
    public const string Variable = "HOUSESIM_ALLOYDB_CONNECTION";

    public AlloyDbFactAttribute()
    {
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(Variable)))
        {
            Skip = $"No AlloyDB Omni server: set {Variable} to an Npgsql connection string " +
                   "(docker run -p 5432:5432 -e POSTGRES_PASSWORD=... google/alloydbomni) to run the live ScaNN tests.";
        }
    }
}

public sealed class AlloyDbLiveTests
{
    private static string Connection => Environment.GetEnvironmentVariable(AlloyDbFactAttribute.Variable)!;

    [AlloyDbFact]
    public async Task ScaNN_is_deferred_until_the_table_is_big_enough_then_searched_with_good_recall()
    {
        string collection = "t_" + Guid.NewGuid().ToString("N")[..16];
        var options = new PgVectorOptions { ConnectionString = Connection, IndexType = VectorIndexType.ScaNN };
        using var store = new AlloyDbStore(options, collection, new ScannOptions { MinRows = 5_000 });
        using var exact = new AlloyDbStore(options, collection);
        try
        {
            var vectors = Vectors.Clustered(10_100, seed: 31);
            var records = Vectors.Records("s", vectors.Take(10_000).ToList());
            await store.UpsertAsync(records.Take(1_000).ToList());
            Assert.Null(await ScannLeavesAsync(collection));
            foreach (var batch in records.Skip(1_000).Chunk(3_000))
            {
                await store.UpsertAsync(batch);
            }
            // The upsert that crossed 5000 rows built it (sized for the rows then); the end of the ingest rebuilds
            // it once the table has doubled.
            Assert.NotNull(await ScannLeavesAsync(collection));
            await store.FinishIngestAsync();
            Assert.Equal(AlloyDbStore.NumLeavesFor(10_000), await ScannLeavesAsync(collection));
            Assert.False(await store.FinishIngestAsync());

            int hits = 0;
            foreach (var query in vectors.Skip(10_000))
            {
                var truth = await exact.SearchAsync(query, Vectors.Model, 10, DistanceMetric.L2, exact: true);
                var found = await store.SearchAsync(query, Vectors.Model, 10, DistanceMetric.L2);
                hits += found.Select(m => m.Id).Intersect(truth.Select(m => m.Id)).Count();
            }
            Assert.True(hits >= 0.9 * 1000, $"ScaNN recall@10 {hits / 1000.0:F3}");
        }
        finally
        {
            await store.DropCollectionAsync();
        }
    }

    private static async Task<int?> ScannLeavesAsync(string collection)
    {
        await using var connection = new NpgsqlConnection(Connection);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT (c.index_state::json->>'NumLeaves')::int FROM hs_collections c
            WHERE c.name = @n AND EXISTS (SELECT 1 FROM pg_indexes i WHERE i.indexname = @i AND i.indexdef LIKE '%USING scann%')
            """, connection);
        command.Parameters.AddWithValue("n", collection);
        command.Parameters.AddWithValue("i", PgVectorStore.IndexName(PgVectorStore.TableName(collection)));
        return await command.ExecuteScalarAsync() is int leaves ? leaves : null;
    }
}
