using System.Diagnostics;
using System.Net;
using HouseSimilarity.Stores;
using HouseSimilarity.Stores.AlloyDb;
using HouseSimilarity.Stores.Local;
using HouseSimilarity.Stores.PgVector;
using Npgsql;
using Pgvector.Npgsql;
using Xunit;
using Xunit.Abstractions;

namespace HouseSimilarity.Tests;

/// <summary>
/// A real PostgreSQL + pgvector server: $HOUSESIM_PG_CONNECTION, or the one tools/test-postgres.sh starts
/// (installing pgvector on first use). Never skipped: no server is a failure.
/// </summary>
public sealed class PostgresFixture
{
    public string ConnectionString { get; }
    public string RepoRoot { get; }

    public PostgresFixture()
    {
        RepoRoot = FindRepoRoot();
        string? fromEnv = Environment.GetEnvironmentVariable("HOUSESIM_PG_CONNECTION");
        ConnectionString = !string.IsNullOrWhiteSpace(fromEnv) ? fromEnv : RunScript("start", TimeSpan.FromMinutes(15));
    }

    /// <summary>Restarts the server (tools/test-postgres.sh restart) on the port of the connection string.</summary>
    public Process StartRestart() => Start("restart");

    public string RunScript(string verb, TimeSpan timeout)
    {
        using var process = Start(verb);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"tools/test-postgres.sh {verb} did not finish within {timeout}.");
        }
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"tools/test-postgres.sh {verb} failed ({process.ExitCode}); the PostgreSQL tests need it:\n{stderr.Result}");
        }
        return stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Last();
    }

    private Process Start(string verb)
    {
        var info = new ProcessStartInfo("bash")
        {
            WorkingDirectory = RepoRoot, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(RepoRoot, "tools", "test-postgres.sh"));
        info.ArgumentList.Add(verb);
        if (ConnectionString is not null)
        {
            info.Environment["HOUSESIM_PG_PORT"] = new NpgsqlConnectionStringBuilder(ConnectionString).Port.ToString();
        }
        return Process.Start(info) ?? throw new InvalidOperationException("Cannot start bash.");
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "HouseSimilarity.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"No HouseSimilarity.sln above {AppContext.BaseDirectory}.");
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    /// <summary>Every test that talks to the server is in this collection, so a restart never hits another test.</summary>
    public const string Name = "postgres";
}

/// <summary>Random and clustered unit vectors, records, and the brute-force reference.</summary>
internal static class Vectors
{
    public const int Dim = 128;
    public const string Model = "test-model-1";

    public static float[] RandomUnit(Random random, int dim = Dim)
    {
        var v = new float[dim];
        for (int i = 0; i < dim; i++)
        {
            v[i] = (float)Gaussian(random);
        }
        VectorMath.Normalize(v);
        return v;
    }

    /// <summary>
    /// Embedding-like data: clusters (houses, rooms) each spread over a few directions of its own, plus a little noise,
    /// so the data has a low intrinsic dimension as real embeddings do.
    /// </summary>
    public static List<float[]> Clustered(int count, int seed, int clusters = 300, int spread = 16, double noise = 0.06)
    {
        var random = new Random(seed);
        var centers = Enumerable.Range(0, clusters).Select(_ => RandomUnit(random)).ToArray();
        var bases = Enumerable.Range(0, clusters)
            .Select(_ => Enumerable.Range(0, spread).Select(_ => RandomUnit(random)).ToArray()).ToArray();
        var result = new List<float[]>(count);
        for (int n = 0; n < count; n++)
        {
            int c = random.Next(clusters);
            var v = (float[])centers[c].Clone();
            foreach (var direction in bases[c])
            {
                float z = (float)(Gaussian(random) * 0.3);
                for (int i = 0; i < Dim; i++)
                {
                    v[i] += z * direction[i];
                }
            }
            for (int i = 0; i < Dim; i++)
            {
                v[i] += (float)(Gaussian(random) * noise);
            }
            VectorMath.Normalize(v);
            result.Add(v);
        }
        return result;
    }

    /// <summary><paramref name="v"/> plus Gaussian noise of L2 norm <paramref name="radius"/>, renormalised: a near copy.</summary>
    public static float[] Perturb(float[] v, Random random, double radius)
    {
        var noise = Enumerable.Range(0, v.Length).Select(_ => Gaussian(random)).ToArray();
        double norm = Math.Sqrt(noise.Sum(x => x * x));
        var result = v.Select((x, i) => (float)(x + noise[i] * radius / norm)).ToArray();
        VectorMath.Normalize(result);
        return result;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    public static HouseEmbedding Record(string id, float[] vector, string model = Model) => new()
    {
        Id = id, Path = "/photos/" + id + ".jpg", Sha256 = Convert.ToHexStringLower(BitConverter.GetBytes(id.GetHashCode())),
        Width = 640 + id.Length, Height = 480, ModelId = model, Vector = vector,
    };

    public static List<HouseEmbedding> Records(string prefix, IReadOnlyList<float[]> vectors, int start = 0) =>
        vectors.Select((v, i) => Record($"{prefix}{start + i:D6}", v)).ToList();

    public static List<(string Id, double Distance)> BruteForce(IEnumerable<HouseEmbedding> records, float[] query, int top,
        DistanceMetric metric) =>
        records.Select(r => (r.Id, Distance: Distance(r.Vector, query, metric)))
            .OrderBy(x => x.Distance).ThenBy(x => x.Id, StringComparer.Ordinal).Take(top).ToList();

    public static double Distance(float[] a, float[] b, DistanceMetric metric)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = (double)a[i] - b[i];
            sum += metric == DistanceMetric.L1 ? Math.Abs(d) : d * d;
        }
        return metric == DistanceMetric.L1 ? sum : Math.Sqrt(sum);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PgVectorStoreTests(PostgresFixture server, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly List<PgVectorStore> _opened = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _opened)
        {
            try
            {
                await store.DropCollectionAsync();
            }
            catch (HouseStoreException)
            {
                // A test that broke the connection on purpose; nothing to clean there.
            }
            store.Dispose();
        }
    }

    private static string NewCollection() => "t_" + Guid.NewGuid().ToString("N")[..16];

    /// <summary>For the tests' own SQL: a pooled connection would not survive the restart test.</summary>
    private string Unpooled => new NpgsqlConnectionStringBuilder(server.ConnectionString) { Pooling = false }.ConnectionString;

    private PgVectorStore Open(string? collection = null, Action<PgVectorOptions>? configure = null, bool alloy = false)
    {
        var options = new PgVectorOptions { ConnectionString = server.ConnectionString, RetryDelay = TimeSpan.FromMilliseconds(500) };
        configure?.Invoke(options);
        PgVectorStore store = alloy ? new AlloyDbStore(options, collection ?? NewCollection())
                                    : new PgVectorStore(options, collection ?? NewCollection());
        _opened.Add(store);
        return store;
    }

    private static async Task<List<HouseRecord>> ReadAll(IHouseStore store)
    {
        var all = new List<HouseRecord>();
        await foreach (var record in store.ReadAllAsync())
        {
            all.Add(record);
        }
        return all;
    }

    [Fact]
    public async Task Row_by_row_upsert_stores_the_same_as_the_COPY_path()
    {
        var random = new Random(3);
        var records = Vectors.Records("x", Enumerable.Range(0, 30).Select(_ => Vectors.RandomUnit(random)).ToList());
        var bulk = Open();
        var rows = Open();
        await bulk.UpsertAsync(records);
        await rows.UpsertRowByRowAsync(records);
        await rows.UpsertRowByRowAsync(records.Take(5).ToList());
        var a = await ReadAll(bulk);
        var b = await ReadAll(rows);
        Assert.Equal(a.Select(r => (r.Id, r.Path, r.Sha256, r.Width, r.Height)), b.Select(r => (r.Id, r.Path, r.Sha256, r.Width, r.Height)));
        Assert.Equal(a.Select(r => r.Vector), b.Select(r => r.Vector));
    }

    [Theory]
    [InlineData(VectorIndexType.Exact, false)]
    [InlineData(VectorIndexType.Hnsw, true)]
    public async Task Exact_top_k_equals_brute_force_and_LocalStore(VectorIndexType kind, bool exactSearch)
    {
        var store = Open(configure: o => o.IndexType = kind);
        var random = new Random(7);
        var records = Vectors.Records("h", Vectors.Clustered(3000, seed: 7, clusters: 30));
        // Three photos with the same vector: their tie must be broken by Id, in both stores.
        var twin = Vectors.RandomUnit(random);
        records.AddRange(new[] { "dup_b", "dup_a", "dup_c" }.Select(id => Vectors.Record(id, twin)));
        string file = Path.Combine(Path.GetTempPath(), $"hs-{Guid.NewGuid():N}.db");
        try
        {
            using var local = new LocalStore(file, store.Collection);
            foreach (var batch in records.Chunk(1000))
            {
                await store.UpsertAsync(batch);
                await local.UpsertAsync(batch);
            }
            var queries = Vectors.Clustered(15, seed: 8, clusters: 30).Append(twin).Append(Vectors.RandomUnit(random)).ToList();
            foreach (var (query, top) in queries.Select((q, i) => (q, i % 2 == 0 ? 10 : 25)))
            {
                var expected = Vectors.BruteForce(records, query, top, DistanceMetric.L2);
                var pg = await store.SearchAsync(query, Vectors.Model, top, DistanceMetric.L2, exactSearch);
                var loc = await local.SearchAsync(query, Vectors.Model, top, DistanceMetric.L2);
                Assert.Equal(expected.Select(x => x.Id), pg.Select(m => m.Id));
                Assert.Equal(loc.Select(m => m.Id), pg.Select(m => m.Id));
                for (int i = 0; i < top; i++)
                {
                    Assert.Equal(i + 1, pg[i].Rank);
                    Assert.Equal(expected[i].Distance, pg[i].Distance, 1e-4);
                    Assert.Equal(loc[i].Distance, pg[i].Distance, 1e-4);
                    Assert.Equal(loc[i].Similarity, pg[i].Similarity, 1e-4);
                    Assert.Equal(VectorMath.Similarity(pg[i].Distance), pg[i].Similarity, 1e-5);
                    Assert.Equal(nameof(DistanceMetric.L2), pg[i].Metric);
                    Assert.Equal((loc[i].Path, loc[i].Sha256, loc[i].Width, loc[i].Height),
                        (pg[i].Path, pg[i].Sha256, pg[i].Width, pg[i].Height));
                }
            }
            var ties = await store.SearchAsync(twin, Vectors.Model, 3, DistanceMetric.L2, exactSearch);
            Assert.Equal(new[] { "dup_a", "dup_b", "dup_c" }, ties.Select(m => m.Id));
            Assert.All(ties, m => Assert.Equal(0, m.Distance, 1e-6));
        }
        finally
        {
            DeleteDb(file);
        }
    }

    [Fact]
    public async Task L1_search_matches_brute_force_and_LocalStore_with_an_L1_HNSW_index()
    {
        var l1 = Open(configure: o => o.Metric = DistanceMetric.L1);
        var l1Exact = Open(l1.Collection, o => o.Metric = DistanceMetric.L1);
        var vectors = Vectors.Clustered(2010, seed: 9, clusters: 100);
        var records = Vectors.Records("p", vectors.Take(2000).ToList());
        await l1.UpsertAsync(records);
        Assert.Equal("vector_l1_ops", await IndexOpClassAsync(l1.Collection));
        Assert.Contains("Index Scan", await ExplainSearchAsync(l1.Collection, vectors[2000], DistanceMetric.L1));

        string file = Path.Combine(Path.GetTempPath(), $"hs-{Guid.NewGuid():N}.db");
        try
        {
            using var local = new LocalStore(file, l1.Collection);
            await local.UpsertAsync(records);
            int hits = 0, total = 0;
            foreach (var query in vectors.Skip(2000))
            {
                var expected = Vectors.BruteForce(records, query, 10, DistanceMetric.L1);
                var exact = await l1Exact.SearchAsync(query, Vectors.Model, 10, DistanceMetric.L1, exact: true);
                var loc = await local.SearchAsync(query, Vectors.Model, 10, DistanceMetric.L1);
                Assert.Equal(expected.Select(x => x.Id), exact.Select(m => m.Id));
                Assert.Equal(loc.Select(m => m.Id), exact.Select(m => m.Id));
                for (int i = 0; i < 10; i++)
                {
                    Assert.Equal(nameof(DistanceMetric.L1), exact[i].Metric);
                    Assert.Equal(expected[i].Distance, exact[i].Distance, 1e-3);
                    Assert.Equal(loc[i].Distance, exact[i].Distance, 1e-3);
                    // Similarity stays the L2-based one.
                    var vector = records.First(r => r.Id == exact[i].Id).Vector;
                    Assert.Equal(VectorMath.Similarity(Vectors.Distance(vector, query, DistanceMetric.L2)), exact[i].Similarity, 1e-4);
                    Assert.Equal(loc[i].Similarity, exact[i].Similarity, 1e-4);
                }
                var ann = await l1.SearchAsync(query, Vectors.Model, 10, DistanceMetric.L1);
                hits += ann.Select(m => m.Id).Intersect(expected.Select(x => x.Id)).Count();
                total += 10;
                // An L2 search of an L1 collection is exact (no index serves it).
                var l2 = await l1.SearchAsync(query, Vectors.Model, 10, DistanceMetric.L2);
                Assert.Equal(Vectors.BruteForce(records, query, 10, DistanceMetric.L2).Select(x => x.Id), l2.Select(m => m.Id));
            }
            output.WriteLine($"L1 HNSW recall@10 {hits}/{total}");
            Assert.True(hits >= 0.95 * total, $"L1 HNSW recall {hits}/{total}");
        }
        finally
        {
            DeleteDb(file);
        }
    }

    [Fact]
    public async Task Hnsw_recall_at_10_is_at_least_0_99_on_10k_clustered_vectors()
    {
        // The index is built after the load (DeferIndex + FinishIngestAsync), as an ingest of many photos does.
        var ann = Open(configure: o => o.DeferIndex = true);
        var exact = Open(ann.Collection);
        var vectors = Vectors.Clustered(10_100, seed: 11);
        var records = Vectors.Records("v", vectors.Take(10_000).ToList());
        var watch = Stopwatch.StartNew();
        foreach (var batch in records.Chunk(2_000))
        {
            await ann.UpsertAsync(batch);
        }
        var copy = watch.Elapsed;
        Assert.Null(await IndexOpClassAsync(ann.Collection));
        Assert.True(await ann.FinishIngestAsync());
        Assert.False(await ann.FinishIngestAsync());
        var ingest = watch.Elapsed;
        Assert.Equal(10_000, (await ann.GetCollectionAsync())!.Count);
        Assert.Equal("vector_l2_ops", await IndexOpClassAsync(ann.Collection));
        Assert.Contains("Index Scan", await ExplainSearchAsync(ann.Collection, vectors[10_000]));

        int hits = 0, total = 0;
        watch.Restart();
        foreach (var query in vectors.Skip(10_000))
        {
            var truth = await exact.SearchAsync(query, Vectors.Model, 10, DistanceMetric.L2, exact: true);
            var found = await ann.SearchAsync(query, Vectors.Model, 10, DistanceMetric.L2);
            hits += found.Select(m => m.Id).Intersect(truth.Select(m => m.Id)).Count();
            total += truth.Count;
            // Where both found a row, they agree on its distance.
            foreach (var m in found.Where(m => truth.Any(t => t.Id == m.Id)))
            {
                Assert.Equal(truth.First(t => t.Id == m.Id).Distance, m.Distance, 1e-6);
            }
        }
        double recall = (double)hits / total;
        output.WriteLine($"recall@10 = {recall:F4} at ef_search {PgVectorStore.EfSearchFor(10, null)}; COPY {copy.TotalSeconds:F1} s, " +
                         $"with index build {ingest.TotalSeconds:F1} s; 200 searches {watch.Elapsed.TotalSeconds:F1} s");
        Assert.True(recall >= 0.99, $"recall@10 = {recall:F4} (ingest {ingest.TotalSeconds:F1} s, queries {watch.Elapsed.TotalSeconds:F1} s)");
    }

    [Fact]
    public async Task A_deferred_HNSW_index_is_built_by_FinishIngestAsync_and_searches_are_exact_until_then()
    {
        var store = Open(configure: o => o.DeferIndex = true);
        var vectors = Vectors.Clustered(1_010, seed: 24);
        var records = Vectors.Records("d", vectors.Take(1_000).ToList());
        await store.UpsertAsync(records);
        Assert.Null(await IndexOpClassAsync(store.Collection));
        foreach (var query in vectors.Skip(1_000))
        {
            var found = await store.SearchAsync(query, Vectors.Model, 10, DistanceMetric.L2);
            Assert.Equal(Vectors.BruteForce(records, query, 10, DistanceMetric.L2).Select(x => x.Id), found.Select(m => m.Id));
        }
        Assert.True(await store.FinishIngestAsync());
        Assert.Equal("vector_l2_ops", await IndexOpClassAsync(store.Collection));
        // Later upserts go into the index; a non-deferred store on the same collection never builds a second one.
        await Open(store.Collection).UpsertAsync(Vectors.Records("e", vectors.Skip(1_000).ToList()));
        Assert.False(await store.FinishIngestAsync());
        Assert.Equal(1_010, (await store.GetCollectionAsync())!.Count);
        // An Exact collection has nothing to build.
        var plain = Open(configure: o => o.IndexType = VectorIndexType.Exact);
        await plain.UpsertAsync(records.Take(10).ToList());
        Assert.False(await plain.FinishIngestAsync());
        Assert.Null(await IndexOpClassAsync(plain.Collection));
    }

    [Theory]
    [InlineData("x; DROP TABLE y")]
    [InlineData("hs_collections\"; --")]
    [InlineData("1abc")]
    [InlineData("")]
    public void A_bad_collection_name_is_refused_before_any_SQL(string name)
    {
        // Port 1: nothing listens there, so any attempt to connect would show up as a HouseStoreException.
        var options = new PgVectorOptions { ConnectionString = "Host=127.0.0.1;Port=1;Database=none;Username=u;Password=p" };
        Assert.Throws<ArgumentException>(() => new PgVectorStore(options, name));
        Assert.Throws<ArgumentException>(() => new AlloyDbStore(options, name));
        Assert.Throws<ArgumentException>(() => PgVectorStore.TableName(name));
    }

    [Fact]
    public void Table_names_fit_PostgreSQL_identifiers_and_never_collide()
    {
        Assert.Equal("hs_default", PgVectorStore.TableName("default"));
        Assert.NotEqual(PgVectorStore.MetadataTable, PgVectorStore.TableName("collections"));
        string long1 = new string('a', 62) + "1", long2 = new string('a', 62) + "2";
        Assert.NotEqual(PgVectorStore.TableName(long1), PgVectorStore.TableName(long2));
        Assert.All(new[] { long1, long2, "collections", "x" }, n =>
            Assert.True(PgVectorStore.IndexName(PgVectorStore.TableName(n)).Length <= 63));
        Assert.Equal("\"hs_a\"\"b\"", PgVectorStore.Quote("hs_a\"b"));
    }

    [Fact]
    public async Task Long_and_reserved_collection_names_work_as_separate_collections()
    {
        var random = new Random(12);
        var a = Open(new string('c', 62) + "1");
        var b = Open(new string('c', 62) + "2");
        var reserved = Open("collections");
        await a.UpsertAsync([Vectors.Record("a", Vectors.RandomUnit(random))]);
        await b.UpsertAsync([Vectors.Record("b1", Vectors.RandomUnit(random)), Vectors.Record("b2", Vectors.RandomUnit(random))]);
        await reserved.UpsertAsync([Vectors.Record("r", Vectors.RandomUnit(random))]);
        Assert.Equal(1, (await a.GetCollectionAsync())!.Count);
        Assert.Equal(2, (await b.GetCollectionAsync())!.Count);
        Assert.Equal(1, (await reserved.GetCollectionAsync())!.Count);
        var all = await reserved.ListCollectionsAsync();
        Assert.Contains(all, c => c.Name == "collections" && c.Count == 1);
    }

    [Fact]
    public async Task A_collection_dropped_while_the_collections_are_listed_is_left_out()
    {
        var random = new Random(14);
        var kept = Open();
        var dropped = Open();
        await kept.UpsertAsync([Vectors.Record("a", Vectors.RandomUnit(random))]);
        await dropped.UpsertAsync([Vectors.Record("b", Vectors.RandomUnit(random))]);
        // What another client's drop looks like between the read of the metadata rows and the count of each table.
        await using (var connection = new NpgsqlConnection(Unpooled))
        {
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP TABLE {PgVectorStore.Quote(PgVectorStore.TableName(dropped.Collection))}", connection);
            await drop.ExecuteNonQueryAsync();
        }
        var all = await kept.ListCollectionsAsync();
        Assert.Contains(all, c => c.Name == kept.Collection && c.Count == 1);
        Assert.DoesNotContain(all, c => c.Name == dropped.Collection);
        Assert.Null(await dropped.GetCollectionAsync());
    }

    [Fact]
    public async Task A_wrong_password_is_a_HouseStoreException_that_never_shows_the_password()
    {
        const string secret = "Wr0ng-S3cret-Pa55";
        var builder = new NpgsqlConnectionStringBuilder(server.ConnectionString) { Password = secret };
        var store = Open(configure: o => o.ConnectionString = builder.ConnectionString);
        var e = await Assert.ThrowsAsync<HouseStoreException>(() =>
            store.UpsertAsync([Vectors.Record("a", Vectors.RandomUnit(new Random(13)))]));
        Assert.DoesNotContain(secret, e.ToString());
        Assert.Contains($"{builder.Host}:{builder.Port}", e.Message);
        Assert.Contains(builder.Database!, e.Message);
        Assert.Contains("28P01", e.Message);
        Assert.DoesNotContain(secret, store.Location);

        // The same through a credential.
        var viaCredential = Open(configure: o => o.Credential = new NetworkCredential(builder.Username, secret));
        var e2 = await Assert.ThrowsAsync<HouseStoreException>(() => viaCredential.GetCollectionAsync());
        Assert.DoesNotContain(secret, e2.ToString());
        Assert.DoesNotContain(secret, viaCredential.Location);
        Assert.StartsWith("Cannot connect to PostgreSQL at", e2.Message);
    }

    [Fact]
    public async Task The_right_password_through_a_credential_works()
    {
        var builder = new NpgsqlConnectionStringBuilder(server.ConnectionString);
        string password = builder.Password!;
        builder.Password = null;
        var store = Open(configure: o =>
        {
            o.ConnectionString = builder.ConnectionString;
            o.Credential = new NetworkCredential(builder.Username, password);
        });
        await store.UpsertAsync([Vectors.Record("a", Vectors.RandomUnit(new Random(14)))]);
        Assert.Equal(1, (await store.GetCollectionAsync())!.Count);
        Assert.Equal($"postgresql://{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}", store.Location);
    }

    [Fact]
    public async Task An_unreachable_server_is_a_HouseStoreException_naming_host_and_port()
    {
        var store = Open(configure: o =>
        {
            o.ConnectionString = "Host=127.0.0.1;Port=1;Database=housesim;Username=postgres;Password=topsecretvalue;Timeout=5";
            o.RetryDelay = TimeSpan.FromMilliseconds(50);
        });
        var e = await Assert.ThrowsAsync<HouseStoreException>(() =>
            store.SearchAsync(Vectors.RandomUnit(new Random(15)), Vectors.Model, 5, DistanceMetric.L2));
        Assert.Contains("127.0.0.1:1", e.Message);
        Assert.Contains("housesim", e.Message);
        Assert.DoesNotContain("topsecretvalue", e.ToString());
        Assert.DoesNotContain('\n', e.Message);
        var batch = await Assert.ThrowsAsync<HouseStoreException>(() =>
            store.UpsertAsync([Vectors.Record("a", Vectors.RandomUnit(new Random(16)))]));
        Assert.Contains("not stored", batch.Message);
    }

    [Fact]
    public async Task ScaNN_on_plain_PostgreSQL_names_the_missing_extension_and_the_fix()
    {
        Assert.Throws<ArgumentException>(() =>
            new PgVectorStore(new PgVectorOptions { ConnectionString = server.ConnectionString, IndexType = VectorIndexType.ScaNN }));
        var store = Open(configure: o => o.IndexType = VectorIndexType.ScaNN, alloy: true);
        var e = await Assert.ThrowsAsync<HouseStoreException>(() =>
            store.UpsertAsync([Vectors.Record("a", Vectors.RandomUnit(new Random(17)))]));
        Assert.Contains("alloydb_scann", e.Message);
        Assert.Contains("AlloyDB Omni", e.Message);
        Assert.Contains("-IndexType Hnsw", e.Message);
    }

    [Fact]
    public async Task AlloyDb_store_with_HNSW_works_on_plain_pgvector()
    {
        var store = Open(alloy: true);
        Assert.Equal("AlloyDb", store.Backend);
        var records = Vectors.Records("a", Vectors.Clustered(300, seed: 18));
        await store.UpsertAsync(records);
        Assert.False(await store.FinishIngestAsync());
        var query = records[7].Vector;
        var found = await store.SearchAsync(query, Vectors.Model, 5, DistanceMetric.L2);
        Assert.Equal(records[7].Id, found[0].Id);
        Assert.Equal("AlloyDb", (await store.GetCollectionAsync())!.Backend);
    }

    [Fact]
    public async Task A_restart_between_two_upserts_is_survived_by_retrying_on_a_fresh_connection()
    {
        var store = Open();
        var random = new Random(19);
        var first = Vectors.Records("a", Enumerable.Range(0, 100).Select(_ => Vectors.RandomUnit(random)).ToList());
        var second = Vectors.Records("b", Enumerable.Range(0, 100).Select(_ => Vectors.RandomUnit(random)).ToList());
        var noRetry = Open(store.Collection, o => o.TransientRetries = 0);
        await noRetry.UpsertAsync(first);
        server.RunScript("restart", TimeSpan.FromMinutes(2));
        // Without a retry the dead pooled connection fails the batch (reported, not lost)...
        var e = await Assert.ThrowsAsync<HouseStoreException>(() => noRetry.UpsertAsync(second));
        Assert.Contains("not stored", e.Message);
        Assert.Equal(100, (await store.GetCollectionAsync())!.Count);

        await store.GetCollectionAsync();   // leaves a pooled connection for the restart to kill
        server.RunScript("restart", TimeSpan.FromMinutes(2));
        // ...with one, the pool is cleared and the batch goes through on a fresh connection.
        await store.UpsertAsync(second);
        Assert.Equal(200, (await store.GetCollectionAsync())!.Count);
    }

    [Fact]
    public async Task A_restart_during_an_ingest_loses_nothing_silently_and_a_rerun_completes_without_duplicates()
    {
        // No retry, so that the restart shows as failed batches; no HNSW index, which is not the point here.
        var store = Open(configure: o => { o.TransientRetries = 0; o.DeferIndex = true; });
        var vectors = Vectors.Clustered(200 * 120, seed: 20);
        var batches = vectors.Chunk(200).Select((chunk, b) => Vectors.Records($"b{b:D3}_", chunk)).ToList();
        await store.UpsertAsync(batches[0]);

        var stored = new List<int> { 0 };
        var failed = new List<(int Batch, HouseStoreException Error)>();
        var clock = Stopwatch.StartNew();
        TimeSpan restarted = TimeSpan.Zero;
        using var restart = server.StartRestart();
        var restartOut = restart.StandardError.ReadToEndAsync();
        int next = 1, afterRestart = 0;
        while (next < batches.Count && afterRestart < 5)
        {
            try
            {
                await store.UpsertAsync(batches[next]);
                stored.Add(next);
            }
            catch (HouseStoreException e)
            {
                failed.Add((next, e));
                await Task.Delay(100);   // as a user's loop would go on: not all batches into the few seconds of downtime
            }
            next++;
            if (restart.HasExited && afterRestart++ == 0)
            {
                restarted = clock.Elapsed;
            }
        }
        await restart.WaitForExitAsync();
        output.WriteLine($"{next} batches sent, {failed.Count} reported failed, restart done after {restarted.TotalSeconds:F1} s, loop {clock.Elapsed.TotalSeconds:F1} s; " +
                         $"first error: {failed.FirstOrDefault().Error?.Message}");
        Assert.True(restart.ExitCode == 0, await restartOut);
        Assert.True(failed.Count > 0, $"no batch saw the restart ({next} batches sent)");
        Assert.All(failed, f => Assert.Contains("not stored", f.Error.Message));

        var present = new HashSet<string>();
        var check = Open(store.Collection);
        await foreach (var record in check.ReadAllAsync())
        {
            present.Add(record.Id);
        }
        // Every batch reported stored is there in full; a failed one is all there or not at all.
        foreach (int b in stored)
        {
            Assert.All(batches[b], r => Assert.Contains(r.Id, present));
        }
        foreach (var (b, _) in failed)
        {
            int here = batches[b].Count(r => present.Contains(r.Id));
            Assert.True(here == 0 || here == batches[b].Count, $"batch {b} half stored ({here})");
        }

        // The user re-runs the whole ingest: everything lands once.
        for (int b = 0; b < next; b++)
        {
            await check.UpsertAsync(batches[b]);
        }
        var all = await ReadAll(check);
        Assert.Equal(next * 200, all.Count);
        Assert.Equal(all.Count, all.Select(r => r.Id).Distinct().Count());
        Assert.Equal(next * 200L, (await check.GetCollectionAsync())!.Count);
    }

    [Fact]
    public async Task A_top_beyond_ef_search_limits_still_returns_top_rows()
    {
        var store = Open();
        var records = Vectors.Records("k", Vectors.Clustered(1500, seed: 22));
        await store.UpsertAsync(records);
        var query = Vectors.Clustered(1, seed: 23)[0];
        var found = await store.SearchAsync(query, Vectors.Model, 1200, DistanceMetric.L2);
        Assert.Equal(Vectors.BruteForce(records, query, 1200, DistanceMetric.L2).Select(x => x.Id), found.Select(m => m.Id));
    }

    private async Task<string?> IndexOpClassAsync(string collection)
    {
        await using var connection = new NpgsqlConnection(Unpooled);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT opc.opcname FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_opclass opc ON opc.oid = i.indclass[0] JOIN pg_am am ON am.oid = opc.opcmethod
            WHERE t.relname = @t AND am.amname = 'hnsw'
            """, connection);
        command.Parameters.AddWithValue("t", PgVectorStore.TableName(collection));
        return (string?)await command.ExecuteScalarAsync();
    }

    private async Task<string> ExplainSearchAsync(string collection, float[] query, DistanceMetric metric = DistanceMetric.L2)
    {
        var builder = new NpgsqlDataSourceBuilder(Unpooled);
        builder.UseVector();
        await using var source = builder.Build();
        await using var connection = await source.OpenConnectionAsync();
        await using var command = new NpgsqlCommand(
            "EXPLAIN " + PgVectorStore.SearchSql(PgVectorStore.TableName(collection), metric, exact: false, bounded: false), connection);
        command.Parameters.Add(new NpgsqlParameter { ParameterName = "q", DataTypeName = "vector[]", Value = new[] { new Pgvector.Vector(query) } });
        command.Parameters.AddWithValue("k", 10);
        var plan = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            plan.Add(reader.GetString(0));
        }
        return string.Join('\n', plan);
    }

    internal static void DeleteDb(string file)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in new[] { file, file + "-wal", file + "-shm" })
        {
            try
            {
                File.Delete(f);
            }
            catch (IOException)
            {
            }
        }
    }
}
