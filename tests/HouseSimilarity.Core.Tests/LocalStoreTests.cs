using HouseSimilarity.Stores;
using HouseSimilarity.Stores.AlloyDb;
using HouseSimilarity.Stores.Local;
using HouseSimilarity.Stores.PgVector;

namespace HouseSimilarity.Tests;

public sealed class LocalStoreTests : IDisposable
{
    private const string Model = "test-model-1";
    private readonly string _dir = TestData.NewScratchDirectory();
    private string File => Path.Combine(_dir, "houses.db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    internal static float[] RandomUnit(Random rng, int dim = 128)
    {
        var v = new float[dim];
        for (int i = 0; i < dim; i++) v[i] = (float)(rng.NextDouble() * 2 - 1);
        VectorMath.Normalize(v);
        return v;
    }

    internal static HouseEmbedding Record(string id, float[] vector, string model = Model, string sha = "") => new()
    {
        Id = id, Path = "/photos/" + id, Sha256 = sha.Length > 0 ? sha : id.GetHashCode().ToString("x8"),
        Width = 800, Height = 600, ModelId = model, Vector = vector,
    };

    [Fact]
    public async Task Re_adding_an_id_updates_instead_of_duplicating()
    {
        var rng = new Random(1);
        using var store = new LocalStore(File);
        await store.UpsertAsync([Record("a", RandomUnit(rng)), Record("b", RandomUnit(rng))]);
        float[] replacement = RandomUnit(rng);
        await store.UpsertAsync([Record("a", replacement)]);

        Assert.Equal(2, (await store.GetCollectionAsync())!.Count);
        Assert.Equal(replacement, (await store.GetAsync("a"))!.Vector);
        var nearest = await store.SearchAsync(replacement, Model, 1, DistanceMetric.L2);
        Assert.Equal("a", nearest[0].Id);
        Assert.Equal(0, nearest[0].Distance, 5);
        Assert.Equal(1, nearest[0].Similarity, 5);
    }

    [Fact]
    public async Task A_store_made_before_decisions_existed_opens_keeps_its_photos_and_keeps_decisions()
    {
        using (var store = new LocalStore(File))
        {
            await store.UpsertAsync([Record("a", RandomUnit(new Random(3)))]);
        }
        // A schema 1 file: no exclusions table.
        using (var old = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={File};Pooling=False"))
        {
            old.Open();
            using var downgrade = old.CreateCommand();
            downgrade.CommandText = "DROP TABLE exclusions; PRAGMA user_version = 1;";
            downgrade.ExecuteNonQuery();
        }
        using (var store = new LocalStore(File))
        {
            Assert.Equal(1, (await store.GetCollectionAsync())!.Count);
            Assert.Empty(await store.ReadExclusionsAsync());
            await store.AddExclusionsAsync([new HouseDuplicateExclusion(new string('b', 64), new string('A', 64)) { PathA = "/x", PathB = "/y" }]);
            var kept = Assert.Single(await store.ReadExclusionsAsync());
            Assert.Equal((new string('a', 64), new string('b', 64)), (kept.Sha256A, kept.Sha256B));
        }
    }

    [Fact]
    public async Task Rows_that_are_not_vectors_never_break_or_lead_a_search()
    {
        var rng = new Random(4);
        var target = RandomUnit(rng);
        using (var store = new LocalStore(File))
        {
            await store.UpsertAsync([Record("target", target), .. Enumerable.Range(0, 20).Select(i => Record($"r{i:D2}", RandomUnit(rng)))]);
        }
        // Written behind the store's back (an older version, a hand edit): NaN values and a row of another length.
        using (var raw = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={File};Pooling=False"))
        {
            raw.Open();
            using var poison = raw.CreateCommand();
            poison.CommandText = "UPDATE vectors SET vector = $nan WHERE id IN ('r00', 'r01'); UPDATE vectors SET vector = $wide WHERE id = 'r02';" +
                                 "UPDATE collections SET generation = generation + 1";
            poison.Parameters.AddWithValue("$nan", System.Runtime.InteropServices.MemoryMarshal.AsBytes(Enumerable.Repeat(float.NaN, 128).ToArray().AsSpan()).ToArray());
            poison.Parameters.AddWithValue("$wide", new byte[200 * sizeof(float)]);
            poison.ExecuteNonQuery();
        }
        using (var store = new LocalStore(File))
        {
            var nearest = await store.SearchAsync(target, 5, new SearchOptions { Exact = true });
            Assert.Equal("target", nearest[0].Id);
            Assert.DoesNotContain(nearest, n => n.Id is "r00" or "r01" or "r02");
            Assert.All(nearest, n => Assert.True(double.IsFinite(n.Distance)));
        }
    }

    [Theory]
    [InlineData(128)]
    [InlineData(13)]
    [InlineData(130)]
    [InlineData(1)]
    public void The_tiled_dot_kernel_equals_one_dot_product_at_a_time(int dim)
    {
        var rng = new Random(dim);
        var row = RandomUnit(rng, dim);
        var queries = Enumerable.Range(0, VectorMath.QueryTile).Select(_ => RandomUnit(rng, dim)).ToArray();
        var tile = queries.SelectMany(q => q).ToArray();
        var dots = new float[VectorMath.QueryTile];
        VectorMath.Dots(row, tile, dots);
        for (int t = 0; t < queries.Length; t++)
        {
            Assert.Equal(System.Numerics.Tensors.TensorPrimitives.Dot(row, queries[t]), dots[t], 5);
        }
        Assert.Throws<ArgumentException>(() => VectorMath.Dots(row, tile.AsSpan(1), dots));
    }

    [Fact]
    public async Task Identical_bytes_under_two_ids_are_both_kept()
    {
        float[] v = RandomUnit(new Random(2));
        using var store = new LocalStore(File);
        await store.UpsertAsync([Record("one.jpg", v, sha: "abc"), Record("copy.jpg", v, sha: "abc")]);
        var all = new List<HouseRecord>();
        await foreach (var r in store.ReadAllAsync()) all.Add(r);
        Assert.Equal(["copy.jpg", "one.jpg"], all.Select(r => r.Id));
        Assert.All(all, r => Assert.Equal("abc", r.Sha256));
    }

    [Theory]
    [InlineData(DistanceMetric.L2)]
    [InlineData(DistanceMetric.L1)]
    public async Task Exact_top_k_matches_a_brute_force_reference(DistanceMetric metric)
    {
        var rng = new Random(3);
        var records = Enumerable.Range(0, 40_000).Select(i => Record($"p{i:D6}", RandomUnit(rng))).ToList();
        using var store = new LocalStore(File);
        await store.UpsertAsync(records);
        for (int q = 0; q < 5; q++)
        {
            float[] query = RandomUnit(rng);
            var expected = records
                .Select(r => (r.Id, Distance: VectorMath.Distance(query, r.Vector, metric)))
                .OrderBy(r => r.Distance).ThenBy(r => r.Id, StringComparer.Ordinal).Take(10).ToList();
            // 40k rows: past the size where searches go through the index, unless asked to be exact.
            var actual = await store.SearchAsync(query, Model, 10, metric, exact: true);
            Assert.Equal(expected.Select(e => e.Id), actual.Select(a => a.Id));
            Assert.Equal(Enumerable.Range(1, 10), actual.Select(a => a.Rank));
            for (int i = 0; i < 10; i++)
            {
                Assert.Equal(expected[i].Distance, actual[i].Distance, 4);
                var stored = records.First(r => r.Id == actual[i].Id);
                Assert.Equal(VectorMath.Similarity(VectorMath.L2(query, stored.Vector)), actual[i].Similarity, 4);
            }
        }
    }

    [Fact]
    public async Task Equal_distances_come_out_in_id_order()
    {
        float[] v = RandomUnit(new Random(4));
        using var store = new LocalStore(File);
        await store.UpsertAsync(new[] { "d", "b", "c", "a" }.Select(id => Record(id, v)).ToList());
        var top = await store.SearchAsync(v, Model, 3, DistanceMetric.L2);
        Assert.Equal(["a", "b", "c"], top.Select(m => m.Id));
    }

    [Fact]
    public async Task Another_model_is_refused_for_writes_and_searches()
    {
        var rng = new Random(5);
        using var store = new LocalStore(File);
        await store.UpsertAsync([Record("a", RandomUnit(rng))]);
        var write = await Assert.ThrowsAsync<ModelMismatchException>(() => store.UpsertAsync([Record("b", RandomUnit(rng), "other-model")]));
        Assert.Contains("test-model-1", write.Message);
        Assert.Contains("other-model", write.Message);
        await Assert.ThrowsAsync<ModelMismatchException>(() => store.SearchAsync(RandomUnit(rng), "other-model", 3, DistanceMetric.L2));
        Assert.Equal(1, (await store.GetCollectionAsync())!.Count);
    }

    [Fact]
    public async Task Data_survives_reopening_and_other_writers_are_seen()
    {
        var rng = new Random(6);
        float[] a = RandomUnit(rng), b = RandomUnit(rng);
        using (var first = new LocalStore(File, "listings"))
        {
            await first.UpsertAsync([Record("a", a)]);
        }
        using var reader = new LocalStore(File, "listings");
        Assert.Equal("a", (await reader.SearchAsync(b, Model, 5, DistanceMetric.L2)).Single().Id);
        using (var writer = new LocalStore(File, "listings"))
        {
            await writer.UpsertAsync([Record("b", b)]);
        }
        // The reader's cached vectors must be refreshed by the other writer's commit.
        Assert.Equal("b", (await reader.SearchAsync(b, Model, 5, DistanceMetric.L2))[0].Id);
        Assert.Equal(["listings"], (await reader.ListCollectionsAsync()).Select(c => c.Name));
    }

    [Fact]
    public async Task A_deleted_and_recreated_store_file_never_serves_old_vectors()
    {
        var rng = new Random(8);
        float[] old = RandomUnit(rng), fresh = RandomUnit(rng);
        using (var store = new LocalStore(File))
        {
            await store.UpsertAsync([Record("old", old)]);
            Assert.Single(await store.SearchAsync(old, Model, 5, DistanceMetric.L2));
        }
        foreach (string f in Directory.GetFiles(_dir)) System.IO.File.Delete(f);
        using var recreated = new LocalStore(File);
        await recreated.UpsertAsync([Record("fresh", fresh)]);
        Assert.Equal(["fresh"], (await recreated.SearchAsync(old, Model, 5, DistanceMetric.L2)).Select(m => m.Id));
    }

    [Fact]
    public async Task Remove_and_drop()
    {
        var rng = new Random(7);
        using var store = new LocalStore(File);
        using var other = new LocalStore(File, "other");
        await store.UpsertAsync([Record("a", RandomUnit(rng)), Record("b", RandomUnit(rng))]);
        await other.UpsertAsync([Record("a", RandomUnit(rng))]);

        Assert.True(await store.RemoveAsync("a"));
        Assert.False(await store.RemoveAsync("a"));
        Assert.Null(await store.GetAsync("a"));
        Assert.Equal(["b"], (await store.SearchAsync(RandomUnit(rng), Model, 5, DistanceMetric.L2)).Select(m => m.Id));

        Assert.True(await store.DropCollectionAsync());
        Assert.Null(await store.GetCollectionAsync());
        Assert.Empty(await store.SearchAsync(RandomUnit(rng), Model, 5, DistanceMetric.L2));
        Assert.NotNull(await other.GetAsync("a"));
    }

    [Fact]
    public async Task A_collections_size_is_kept_with_its_rows_and_counted_once_for_an_older_store()
    {
        var rng = new Random(14);
        using (var store = new LocalStore(File))
        {
            await store.UpsertAsync([Record("a", RandomUnit(rng)), Record("b", RandomUnit(rng)), Record("c", RandomUnit(rng))]);
            await store.UpsertAsync([Record("a", RandomUnit(rng)), Record("b", RandomUnit(rng)), Record("d", RandomUnit(rng))]);
            Assert.Equal(4, (await store.GetCollectionAsync())!.Count);
            Assert.True(await store.RemoveAsync("c"));
            Assert.False(await store.RemoveAsync("c"));
            Assert.Equal(3, (await store.GetCollectionAsync())!.Count);
        }
        // A schema 2 store: no counter; opening it counts each collection once.
        using (var old = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={File};Pooling=False"))
        {
            old.Open();
            using var downgrade = old.CreateCommand();
            downgrade.CommandText = "ALTER TABLE collections DROP COLUMN row_count; PRAGMA user_version = 2;";
            downgrade.ExecuteNonQuery();
        }
        using (var store = new LocalStore(File))
        {
            Assert.Equal(3, (await store.GetCollectionAsync())!.Count);
            await store.UpsertAsync([Record("e", RandomUnit(rng))]);
            Assert.Equal(4, (await store.ListCollectionsAsync()).Single().Count);
        }
    }

    [Fact]
    public async Task Copies_of_one_store_file_never_answer_with_each_others_vectors()
    {
        var rng = new Random(9);
        float[] shared = RandomUnit(rng), onlyA = RandomUnit(rng), onlyB = RandomUnit(rng);
        using (var original = new LocalStore(File))
        {
            await original.UpsertAsync([Record("shared", shared)]);
        }
        string copy = Path.Combine(_dir, "copy.db");
        System.IO.File.Copy(File, copy);
        using var a = new LocalStore(File);
        using var b = new LocalStore(copy);
        // One change each from the same state: a counter would give both copies the same generation.
        await a.UpsertAsync([Record("onlyA", onlyA)]);
        Assert.Equal("onlyA", (await a.SearchAsync(onlyA, Model, 1, DistanceMetric.L2))[0].Id);
        await b.UpsertAsync([Record("onlyB", onlyB)]);
        var fromCopy = await b.SearchAsync(onlyB, Model, 5, DistanceMetric.L2);
        Assert.Equal(["onlyB", "shared"], fromCopy.Select(m => m.Id).Take(2));
        Assert.Equal(0, fromCopy[0].Distance, 5);
        Assert.DoesNotContain("onlyB", (await a.SearchAsync(onlyB, Model, 5, DistanceMetric.L2)).Select(m => m.Id));
    }

    [Fact]
    public async Task Searches_racing_another_writers_removes_return_the_rows_that_exist()
    {
        var rng = new Random(10);
        var records = Enumerable.Range(0, 200).Select(i => Record($"r{i:D3}", RandomUnit(rng))).ToList();
        using (var seed = new LocalStore(File))
        {
            await seed.UpsertAsync(records);
        }
        var ids = records.Select(r => r.Id).ToHashSet();
        var writer = Task.Run(async () =>
        {
            using var store = new LocalStore(File);
            for (int round = 0; round < 150; round++)
            {
                var record = records[round % records.Count];
                await store.RemoveAsync(record.Id);
                await store.UpsertAsync([record]);
            }
        });
        using var reader = new LocalStore(File);
        int searches = 0;
        while (!writer.IsCompleted || searches < 50)
        {
            var query = records[searches % records.Count].Vector;
            var found = await reader.SearchManyAsync([query, RandomUnit(rng)], 10, new SearchOptions());
            Assert.All(found, list => Assert.Equal(10, list.Count));
            Assert.All(found.SelectMany(list => list), n => Assert.Contains(n.Id, ids));
            searches++;
        }
        await writer;
        Assert.Equal(200, (await reader.GetCollectionAsync())!.Count);
    }

    [Fact]
    public async Task A_writer_that_holds_the_file_too_long_is_a_busy_store_error()
    {
        using (var store = new LocalStore(File))
        {
            await store.UpsertAsync([Record("a", RandomUnit(new Random(11)))]);
        }
        using var holder = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={File};Pooling=False");
        holder.Open();
        using var transaction = holder.BeginTransaction(deferred: false);
        using var waiting = new LocalStore(File, CollectionName.Default, busyTimeout: 1);
        var e = await Assert.ThrowsAsync<HouseStoreException>(() => waiting.UpsertAsync([Record("b", RandomUnit(new Random(12)))]));
        Assert.Equal(StoreFailure.Busy, e.Kind);
        Assert.Equal(File, e.Location);
        Assert.Contains(File, e.Message);
        transaction.Rollback();
        await waiting.UpsertAsync([Record("b", RandomUnit(new Random(12)))]);
        Assert.Equal(2, (await waiting.GetCollectionAsync())!.Count);
    }

    [Theory]
    [InlineData(0)]      // garbage from the first byte: not a database
    [InlineData(4096)]   // a valid header, damaged pages after it
    public async Task A_damaged_store_file_is_a_corrupt_store_error(int keep)
    {
        var rng = new Random(13);
        using (var store = new LocalStore(File))
        {
            await store.UpsertAsync(Enumerable.Range(0, 300).Select(i => Record($"id{i}", RandomUnit(rng))).ToList());
        }
        var bytes = System.IO.File.ReadAllBytes(File);
        rng.NextBytes(bytes.AsSpan(keep));
        System.IO.File.WriteAllBytes(File, bytes);
        var e = await Assert.ThrowsAsync<HouseStoreException>(async () =>
        {
            using var damaged = new LocalStore(File);
            await damaged.SearchManyAsync([RandomUnit(rng)], 5, new SearchOptions());
        });
        Assert.Equal(StoreFailure.Corrupt, e.Kind);
        Assert.Contains(File, e.Message);
    }

    [Fact]
    public void A_folder_the_system_refuses_is_a_permission_error_and_leaves_nothing()
    {
        Assert.True(OperatingSystem.IsLinux(), "sysfs refuses new entries to every user, root included, on Linux");
        string refused = Path.Combine("/sys", "housesimilarity-test", "houses.db");
        var e = Assert.Throws<HouseStoreException>(() => new LocalStore(refused));
        Assert.Equal(StoreFailure.PermissionDenied, e.Kind);
        Assert.Contains(refused, e.Message);
        Assert.False(Directory.Exists(Path.GetDirectoryName(refused)));
    }

    [Theory]
    [InlineData("x; DROP TABLE y")]
    [InlineData("")]
    [InlineData("1abc")]
    [InlineData("a-b")]
    public void Unsafe_collection_names_are_refused(string name) =>
        Assert.Throws<ArgumentException>(() => new LocalStore(File, name));

    [Fact]
    public void Unwritable_location_is_a_store_error()
    {
        string blocker = Path.Combine(_dir, "a-file");
        System.IO.File.WriteAllText(blocker, "");
        var e = Assert.Throws<HouseStoreException>(() => new LocalStore(Path.Combine(blocker, "houses.db")));
        Assert.Contains("a-file", e.Message);
    }
}
