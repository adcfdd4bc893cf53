using HouseSimilarity.Services;
using HouseSimilarity.Stores;
using HouseSimilarity.Stores.AlloyDb;
using HouseSimilarity.Stores.Local;
using HouseSimilarity.Stores.PgVector;

namespace HouseSimilarity.Tests;

/// <summary>
/// What every backend promises, written once and run against each (Local, PgVector, AlloyDb on PostgreSQL, Milvus on
/// the contract server): upsert by Id, batched k-nearest search equal to brute force (ties by Id) and to single searches,
/// distance bounds, records filled in by the similarity search, ordinal read order, model and dimension checks.
/// What a backend cannot promise it says in its capabilities, and the suite reads them.
/// </summary>
public abstract class HouseStoreContract : IAsyncLifetime
{
    private readonly List<IHouseStore> _opened = [];

    /// <summary>Opens a new, empty collection of the backend under test.</summary>
    protected abstract IHouseStore OpenStore(string collection);

    /// <summary>The backend name collections report.</summary>
    protected abstract string BackendName { get; }

    protected IHouseStore Open(string? collection = null)
    {
        var store = OpenStore(collection ?? "c_" + Guid.NewGuid().ToString("N")[..16]);
        _opened.Add(store);
        return store;
    }

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var store in _opened)
        {
            try
            {
                await store.DropCollectionAsync();
            }
            catch (HouseStoreException)
            {
            }
            store.Dispose();
        }
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

    /// <summary>Exact where the backend can be asked to be; the collections here are small enough for any index.</summary>
    private static SearchOptions Exact(IHouseStore store, double? max = null) =>
        new() { Exact = store.Capabilities.ExactSearch, MaxDistance = max };

    [Fact]
    public async Task Upsert_then_re_add_updates_without_duplicates_and_roundtrips_every_field()
    {
        var store = Open();
        var random = new Random(1);
        var records = Vectors.Records("r", Enumerable.Range(0, 50).Select(_ => Vectors.RandomUnit(random)).ToList());
        var before = DateTime.UtcNow.AddSeconds(-5);
        await store.UpsertAsync(records);
        var again = records.Take(10).Select(r => Vectors.Record(r.Id, Vectors.RandomUnit(random))).ToList();
        again.ForEach(r => r.Path = "/moved/" + r.Id);
        await store.UpsertAsync(again);

        var collection = await store.GetCollectionAsync();
        Assert.NotNull(collection);
        Assert.Equal(50, collection.Count);
        Assert.Equal(Vectors.Model, collection.ModelId);
        Assert.Equal(Vectors.Dim, collection.Dimension);
        Assert.Equal(BackendName, collection.Backend);
        Assert.Equal(store.Location, collection.Location);

        var got = await store.GetAsync(again[3].Id);
        Assert.NotNull(got);
        Assert.Equal("/moved/" + again[3].Id, got.Path);
        Assert.Equal(again[3].Vector, got.Vector);
        Assert.Equal((again[3].Sha256, again[3].Width, 480), (got.Sha256, got.Width, got.Height));
        Assert.Equal(Vectors.Model, got.ModelId);
        Assert.Equal(store.Collection, got.Collection);
        Assert.Equal(DateTimeKind.Utc, got.AddedUtc.Kind);
        Assert.InRange(got.AddedUtc, before, DateTime.UtcNow.AddSeconds(5));
        Assert.Equal(records[20].Vector, (await store.GetAsync(records[20].Id))!.Vector);
        Assert.Null(await store.GetAsync("missing"));

        var some = await store.GetManyAsync([records[1].Id, "missing", records[2].Id, records[1].Id]);
        Assert.Equal(new[] { records[1].Id, records[2].Id }, some.Select(r => r.Id).Order(StringComparer.Ordinal));

        var all = await ReadAll(store);
        Assert.Equal(50, all.Count);
        Assert.Equal(50, all.Select(r => r.Id).Distinct().Count());
        Assert.Contains(await store.ListCollectionsAsync(), c => c.Name == store.Collection && c.Count == 50);
    }

    [Fact]
    public async Task A_batch_naming_one_id_twice_keeps_the_last_record()
    {
        var store = Open();
        var random = new Random(2);
        var last = Vectors.Record("same", Vectors.RandomUnit(random));
        last.Path = "/last.jpg";
        await store.UpsertAsync([Vectors.Record("same", Vectors.RandomUnit(random)), Vectors.Record("other", Vectors.RandomUnit(random)), last]);
        var got = await store.GetAsync("same");
        Assert.Equal("/last.jpg", got!.Path);
        Assert.Equal(last.Vector, got.Vector);
        Assert.Equal(2, (await store.GetCollectionAsync())!.Count);
    }

    [Fact]
    public async Task Remove_and_drop_then_the_collection_can_be_made_again_with_another_model()
    {
        var store = Open();
        Assert.False(await store.RemoveAsync("nothing-yet"));
        Assert.False(await store.DropCollectionAsync());
        var random = new Random(4);
        await store.UpsertAsync(Vectors.Records("r", Enumerable.Range(0, 5).Select(_ => Vectors.RandomUnit(random)).ToList()));
        Assert.True(await store.RemoveAsync("r000002"));
        Assert.False(await store.RemoveAsync("r000002"));
        Assert.Null(await store.GetAsync("r000002"));
        Assert.Equal(4, (await store.GetCollectionAsync())!.Count);
        Assert.DoesNotContain("r000002", (await store.SearchAsync(Vectors.RandomUnit(random), 10, Exact(store))).Select(n => n.Id));

        Assert.True(await store.DropCollectionAsync());
        Assert.Null(await store.GetCollectionAsync());
        Assert.DoesNotContain(await store.ListCollectionsAsync(), c => c.Name == store.Collection);
        Assert.False(await store.DropCollectionAsync());
        Assert.Empty(await store.SearchAsync(Vectors.RandomUnit(random), 5, Exact(store)));
        Assert.Empty(await ReadAll(store));
        await store.UpsertAsync([Vectors.Record("n", Vectors.RandomUnit(random), "model-2")]);
        Assert.Equal("model-2", (await store.GetCollectionAsync())!.ModelId);
    }

    [Fact]
    public async Task Read_all_is_in_ordinal_id_order()
    {
        var store = Open();
        var random = new Random(5);
        string[] ids = ["b", "B", "a", "_x", "a10", "a9", "Z", "é", "0", "quote\"and\\slash"];
        await store.UpsertAsync(ids.Select(id => Vectors.Record(id, Vectors.RandomUnit(random))).ToList());
        Assert.Equal(ids.Order(StringComparer.Ordinal), (await ReadAll(store)).Select(r => r.Id));
        Assert.True(await store.RemoveAsync("quote\"and\\slash"));
        Assert.Equal(ids.Length - 1, (await store.GetCollectionAsync())!.Count);
    }

    [Fact]
    public async Task A_model_or_dimension_mismatch_is_refused_and_stores_nothing()
    {
        var store = Open();
        var random = new Random(6);
        await store.UpsertAsync([Vectors.Record("a", Vectors.RandomUnit(random))]);
        var e = await Assert.ThrowsAsync<ModelMismatchException>(() =>
            store.UpsertAsync([Vectors.Record("b", Vectors.RandomUnit(random), "other-model")]));
        Assert.Equal((Vectors.Model, "other-model"), (e.StoredModelId, e.ModelId));
        Assert.Null(await store.GetAsync("b"));
        await Assert.ThrowsAsync<ModelMismatchException>(() =>
            store.SearchAsync(Vectors.RandomUnit(random), "other-model", 3, DistanceMetric.L2));
        await Assert.ThrowsAsync<ArgumentException>(() => store.SearchAsync(Vectors.RandomUnit(random, 64), 3, Exact(store)));
        await Assert.ThrowsAsync<ArgumentException>(() => store.UpsertAsync([Vectors.Record("c", Vectors.RandomUnit(random, 64))]));
        Assert.Equal(1, (await store.GetCollectionAsync())!.Count);
    }

    [Fact]
    public async Task Batched_k_nearest_equals_brute_force_and_single_searches_with_ties_by_id()
    {
        var store = Open();
        var random = new Random(7);
        var records = Vectors.Records("h", Vectors.Clustered(1500, seed: 7, clusters: 30));
        var twin = Vectors.RandomUnit(random);
        records.AddRange(new[] { "dup_b", "dup_a", "dup_c" }.Select(id => Vectors.Record(id, twin)));
        foreach (var batch in records.Chunk(500))
        {
            await store.UpsertAsync(batch);
        }
        var queries = Vectors.Clustered(12, seed: 8, clusters: 30).Append(twin).Append(Vectors.RandomUnit(random)).ToList();
        var many = await store.SearchManyAsync(queries, 10, Exact(store));
        Assert.Equal(queries.Count, many.Count);
        for (int q = 0; q < queries.Count; q++)
        {
            var expected = Vectors.BruteForce(records, queries[q], 10, DistanceMetric.L2);
            var single = await store.SearchAsync(queries[q], 10, Exact(store));
            Assert.Equal(expected.Select(x => x.Id), many[q].Select(n => n.Id));
            Assert.Equal(many[q], single);
            for (int i = 0; i < 10; i++)
            {
                Assert.Equal(expected[i].Distance, many[q][i].Distance, 1e-3);
            }
        }
        var ties = await store.SearchAsync(twin, 3, Exact(store));
        Assert.Equal(new[] { "dup_a", "dup_b", "dup_c" }, ties.Select(n => n.Id));
        Assert.All(ties, n => Assert.Equal(0, n.Distance, 1e-3));
    }

    [Fact]
    public async Task A_distance_bound_keeps_only_the_neighbours_within_it()
    {
        var store = Open();
        var records = Vectors.Records("b", Vectors.Clustered(600, seed: 9, clusters: 20));
        await store.UpsertAsync(records);
        var queries = Vectors.Clustered(6, seed: 10, clusters: 20);
        var unbounded = await store.SearchManyAsync(queries, 30, Exact(store));
        for (int q = 0; q < queries.Count; q++)
        {
            double bound = unbounded[q][14].Distance + 1e-4;
            var bounded = await store.SearchAsync(queries[q], 30, Exact(store, bound));
            Assert.Equal(unbounded[q].Where(n => n.Distance <= bound).Select(n => n.Id), bounded.Select(n => n.Id));
            Assert.All(bounded, n => Assert.True(n.Distance <= bound));
        }
    }

    [Fact]
    public async Task The_similarity_search_leaves_out_the_query_fills_in_records_and_judges_duplicates_by_L2()
    {
        var store = Open();
        var random = new Random(11);
        var records = Vectors.Records("s", Enumerable.Range(0, 40).Select(_ => Vectors.RandomUnit(random)).ToList());
        var near = (float[])records[0].Vector.Clone();
        near[0] += 0.05f;
        VectorMath.Normalize(near);
        records.Add(Vectors.Record("s_copy", near));
        await store.UpsertAsync(records);
        var collection = (await store.GetCollectionAsync())!;
        var reference = new HouseStoreReference(store.Backend, store.Location, store.Collection);
        var search = new SimilaritySearch(store, collection, reference, threshold: 0.2);

        var found = (await search.FindAsync([HouseQuery.From(records[0]), HouseQuery.From(records[5])], 3, Exact(store)));
        Assert.Equal(2, found.Count);
        Assert.Equal("s_copy", found[0][0].Id);
        Assert.DoesNotContain(found[0], m => m.Id == records[0].Id);
        Assert.Equal(new[] { 1, 2, 3 }, found[0].Select(m => m.Rank));
        Assert.True(found[0][0].IsDuplicate);
        Assert.False(found[0][1].IsDuplicate);
        Assert.Equal(records[40].Path, found[0][0].Path);
        Assert.Equal(VectorMath.Similarity(VectorMath.L2(records[0].Vector, near)), found[0][0].Similarity, 1e-4);
        Assert.Same(reference, found[0][0].Store);
        Assert.Equal(records[0].Path, found[0][0].Query);

        var self = await search.FindAsync([HouseQuery.From(records[0])], 1, Exact(store), includeSelf: true);
        Assert.Equal(records[0].Id, self[0][0].Id);
        await Assert.ThrowsAsync<ModelMismatchException>(() =>
            search.FindAsync([HouseQuery.From(Vectors.Record("x", near, "other"))], 1, Exact(store)));
        if (!store.Capabilities.Metrics.Contains(DistanceMetric.L1))
        {
            var e = await Assert.ThrowsAsync<NotSupportedException>(() =>
                search.FindAsync([HouseQuery.From(records[0])], 1, new SearchOptions { Metric = DistanceMetric.L1 }));
            Assert.Contains("L1", e.Message);
        }
        else
        {
            var l1 = await search.FindAsync([HouseQuery.From(records[5])], 5, new SearchOptions { Metric = DistanceMetric.L1, Exact = true });
            Assert.Equal(Vectors.BruteForce(records.Where(r => r.Id != records[5].Id), records[5].Vector, 5, DistanceMetric.L1).Select(x => x.Id),
                l1[0].Select(m => m.Id));
        }
    }

    [Fact]
    public async Task The_duplicate_scan_finds_the_connected_groups_of_near_copies_and_identical_bytes()
    {
        var store = Open();
        var random = new Random(31);
        var records = new List<HouseEmbedding>();
        // Three photos with 2..30 near copies each (more than the 16 neighbours asked at first), and 100 unrelated photos.
        int[] sizes = [3, 6, 31];
        for (int g = 0; g < sizes.Length; g++)
        {
            var center = Vectors.RandomUnit(random);
            for (int c = 0; c < sizes[g]; c++)
            {
                var copy = Vectors.Perturb(center, random, 0.05);
                records.Add(Vectors.Record($"g{g}_{c:D2}", copy));
            }
        }
        records.AddRange(Vectors.Records("u", Enumerable.Range(0, 100).Select(_ => Vectors.RandomUnit(random)).ToList()));
        // Two unrelated-looking vectors with the same bytes behind them (an exact copy re-embedded differently never
        // happens, but the scan must trust the hash).
        records[^1].Sha256 = records[^2].Sha256 = new string('a', 64);
        await store.UpsertAsync(records);

        var scan = new DuplicateScan(store, new HouseStoreReference(store.Backend, store.Location, store.Collection));
        var steps = new List<DuplicateScanProgress>();
        await foreach (var step in scan.RunAsync(new DuplicateScanOptions { Threshold = 0.3, BatchSize = 50 }, records.Count))
        {
            steps.Add(step);
        }
        Assert.Equal(records.Count, steps[^1].Done);
        Assert.True(steps.Count > 3);
        var groups = scan.Groups;
        Assert.Equal(4, groups.Count);
        Assert.Equal(nameof(DuplicateKind.Exact), groups[0].Kind);
        Assert.Equal(new[] { records[^2].Id, records[^1].Id }.Order(), groups[0].Members.Select(m => m.Id).Order());
        Assert.Equal(new[] { 3, 6, 31 }, groups.Skip(1).Select(g => g.Count).Order());
        foreach (var group in groups.Skip(1))
        {
            string prefix = group.Keeper.Id[..3];
            Assert.All(group.Members, m => Assert.StartsWith(prefix, m.Id));
            Assert.Equal(group.Count * (group.Count - 1) / 2, group.Pairs.Count);
            Assert.Equal(group.Pairs.Max(p => p.Distance), group.MaxDistance, 1e-9);
            Assert.Equal(group.Count - 1, group.Duplicates.Count);
            // Same size, no files, one batch: every rule ties and the first Id is kept.
            Assert.StartsWith("all tie on Resolution, FileSize, Oldest", group.KeeperReason);
            Assert.Equal(group.Members.Select(m => m.Id).Order(StringComparer.Ordinal).First(), group.Keeper.Id);
        }
    }

    private static string Sha(string text) =>
        Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));

    private static async Task<DuplicateScan> ScanAsync(IHouseStore store, long total)
    {
        var scan = new DuplicateScan(store, new HouseStoreReference(store.Backend, store.Location, store.Collection));
        await foreach (var _ in scan.RunAsync(new DuplicateScanOptions { Threshold = 0.3 }, total))
        {
        }
        return scan;
    }

    [Fact]
    public async Task Not_a_duplicate_decisions_are_kept_with_the_collection_by_content_and_the_scan_skips_them()
    {
        var store = Open();
        var random = new Random(41);
        var center = Vectors.RandomUnit(random);
        var records = Enumerable.Range(0, 4).Select(i => Vectors.Record($"p{i}", Vectors.Perturb(center, random, 0.05))).ToList();
        records.Add(Vectors.Record("x1", Vectors.RandomUnit(random)));
        records.Add(Vectors.Record("x2", Vectors.RandomUnit(random)));
        records.Add(Vectors.Record("u", Vectors.RandomUnit(random)));
        foreach (var record in records)
        {
            record.Sha256 = Sha(record.Id.TrimEnd('1', '2') == "x" ? "x" : record.Id);
        }
        await store.UpsertAsync(records);
        Assert.Empty(await store.ReadExclusionsAsync());
        Assert.Equal([2, 4], (await ScanAsync(store, records.Count)).Groups.Select(g => g.Count));

        // p0 is not a duplicate of the other p's; the byte-identical x's are not duplicates either.
        var made = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        await store.AddExclusionsAsync([
            .. Enumerable.Range(1, 3).Select(i => HouseDuplicateExclusion.Between(Sha("p0"), "/a/p0", Sha($"p{i}"), $"/a/p{i}", "", made)),
            HouseDuplicateExclusion.Between(Sha("x"), "/a/x1", Sha("x"), "/a/x2", "", made)]);
        // Named again (the other way round), a decision is replaced, not doubled.
        await store.AddExclusionsAsync([HouseDuplicateExclusion.Between(Sha("p1"), "/b/p1", Sha("p0"), "/b/p0", "", made.AddDays(1))]);
        var kept = await store.ReadExclusionsAsync();
        Assert.Equal(4, kept.Count);
        Assert.Equal(kept.OrderBy(e => e.Sha256A, StringComparer.Ordinal).ThenBy(e => e.Sha256B, StringComparer.Ordinal), kept);
        Assert.All(kept, e => Assert.True(string.CompareOrdinal(e.Sha256A, e.Sha256B) <= 0));
        Assert.All(kept, e => Assert.Equal(store.Collection, e.Collection));
        var replaced = kept.Single(e => new[] { e.Sha256A, e.Sha256B }.Order().SequenceEqual(new[] { Sha("p0"), Sha("p1") }.Order()));
        Assert.Equal(made.AddDays(1), replaced.AddedUtc);
        Assert.Equal(replaced.Sha256A == Sha("p0") ? ("/b/p0", "/b/p1") : ("/b/p1", "/b/p0"), (replaced.PathA, replaced.PathB));
        Assert.Empty(await Open().ReadExclusionsAsync());

        var scan = await ScanAsync(store, records.Count);
        var group = Assert.Single(scan.Groups);
        Assert.Equal(["p1", "p2", "p3"], group.Members.Select(m => m.Id).Order());
        Assert.Equal(3 + 1, group.Scan!.ExcludedPairs);

        Assert.Equal(2, await store.RemoveExclusionsAsync([
            HouseDuplicateExclusion.Key(Sha("p1"), Sha("p0")), HouseDuplicateExclusion.Key(Sha("p0"), Sha("p2")),
            HouseDuplicateExclusion.Key(Sha("never"), Sha("made"))]));
        Assert.Equal(2, (await store.ReadExclusionsAsync()).Count);
        // Removed and stored again, p3 keeps its decision: p0 joins the group through p1 and p2, without the p0-p3 pair.
        Assert.True(await store.RemoveAsync("p3"));
        await store.UpsertAsync([records[3]]);
        group = Assert.Single((await ScanAsync(store, records.Count)).Groups);
        Assert.Equal(4, group.Count);
        Assert.Equal(5, group.Pairs.Count);
        Assert.DoesNotContain(group.Pairs, p => new[] { p.A, p.B }.Order().SequenceEqual(["p0", "p3"]));

        Assert.True(await store.DropCollectionAsync());
        Assert.Empty(await store.ReadExclusionsAsync());
    }

    public static TheoryData<string, string> Unstorable => new()
    {
        { "nan", "NaN" }, { "infinite", "NaN or infinite" }, { "long", "is not of unit length" }, { "zero", "is not of unit length" },
        { "short", "has 127 values" }, { "none", "no vector" }, { "empty id", "Id is empty" }, { "nul", "control character U+0000" },
        { "newline", "control character U+000A" }, { "surrogate", "lone UTF-16 surrogate U+D800" }, { "too long id", "more than 2048" },
    };

    [Theory]
    [MemberData(nameof(Unstorable))]
    public async Task A_record_no_store_accepts_is_refused_by_every_backend_and_its_batch_stores_nothing(string kind, string message)
    {
        var store = Open();
        var random = new Random(51);
        var good = Vectors.Record("good", Vectors.RandomUnit(random));
        var bad = Vectors.Record("bad", Vectors.RandomUnit(random));
        switch (kind)
        {
            case "nan": bad.Vector[3] = float.NaN; break;
            case "infinite": bad.Vector[0] = float.PositiveInfinity; break;
            case "long": bad.Vector = bad.Vector.Select(x => x * 1.5f).ToArray(); break;
            case "zero": bad.Vector = new float[bad.Vector.Length]; break;
            case "short": bad.Vector = bad.Vector[..^1]; break;
            case "none": bad.Vector = null!; break;
            case "empty id": bad.Id = ""; break;
            case "nul": bad.Id = "a\0b.jpg"; break;
            case "newline": bad.Id = "a\nb.jpg"; break;
            case "surrogate": bad.Id = "a\ud800b.jpg"; break;
            case "too long id": bad.Id = new string('x', HouseRecordCheck.MaxIdLength + 1); break;
        }
        var error = await Assert.ThrowsAsync<InvalidHouseRecordException>(() => store.UpsertAsync([good, bad]));
        Assert.Contains(message, error.Message);
        Assert.Null(await store.GetCollectionAsync());

        // Through the ingestor (Add-HouseVector's path) the bad record is refused alone and the good ones are stored.
        var ingestor = new HouseIngestor(store, batchSize: 10);
        await ingestor.AddAsync(good);
        await Assert.ThrowsAsync<InvalidHouseRecordException>(() => ingestor.AddAsync(bad));
        await ingestor.AddAsync(Vectors.Record("good2", Vectors.RandomUnit(random)));
        Assert.True((await ingestor.FlushAsync())!.Stored);
        Assert.Equal(["good", "good2"], (await ReadAll(store)).Select(r => r.Id));
    }

    [Fact]
    public async Task The_ingestor_refuses_a_vector_of_another_dimension_than_the_collection()
    {
        var store = Open();
        var random = new Random(52);
        await store.UpsertAsync([Vectors.Record("a", Vectors.RandomUnit(random))]);
        var wide = Vectors.Record("wide", LocalStoreTests.RandomUnit(random, 200));
        var ingestor = new HouseIngestor(store, batchSize: 1);
        var error = await Assert.ThrowsAsync<InvalidHouseRecordException>(() => ingestor.AddAsync(wide));
        Assert.Contains("has 200 values, the collection's have 128", error.Message);
        Assert.True((await ingestor.AddAsync(Vectors.Record("b", Vectors.RandomUnit(random))))!.Stored);
        Assert.Equal(2, (await store.GetCollectionAsync())!.Count);
    }

    [Fact]
    public async Task Searching_a_collection_that_does_not_exist_finds_nothing()
    {
        var store = Open();
        var empty = await store.SearchManyAsync([Vectors.RandomUnit(new Random(21)), Vectors.RandomUnit(new Random(22))], 5, Exact(store));
        Assert.Equal(2, empty.Count);
        Assert.All(empty, Assert.Empty);
        Assert.Null(await store.GetCollectionAsync());
        Assert.Empty(await store.GetManyAsync(["a"]));
        Assert.Empty(await ReadAll(store));
        await store.ConnectAsync();
    }

    [Fact]
    public async Task The_ingestor_stores_in_batches_and_finishes()
    {
        var store = Open();
        var ingestor = new HouseIngestor(store, batchSize: 7);
        var records = Vectors.Records("i", Enumerable.Range(0, 30).Select(_ => Vectors.RandomUnit(new Random(23))).ToList());
        var batches = new List<IngestBatch>();
        foreach (var record in records)
        {
            if (await ingestor.AddAsync(record) is { } batch)
            {
                batches.Add(batch);
            }
        }
        Assert.Equal(2, ingestor.Pending);
        batches.Add((await ingestor.FlushAsync())!);
        await ingestor.CompleteAsync();
        Assert.Equal(new[] { 7, 7, 7, 7, 2 }, batches.Select(b => b.Records.Count));
        Assert.All(batches, b => Assert.True(b.Stored));
        Assert.Equal(30, ingestor.Stored);
        Assert.Equal(30, (await store.GetCollectionAsync())!.Count);
    }
}

public sealed class LocalStoreContract : HouseStoreContract, IDisposable
{
    private readonly string _dir = TestData.NewScratchDirectory();

    protected override string BackendName => "Local";

    protected override IHouseStore OpenStore(string collection) => new LocalStore(Path.Combine(_dir, "houses.db"), collection);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PgVectorStoreContract(PostgresFixture server) : HouseStoreContract
{
    protected override string BackendName => "PgVector";

    protected override IHouseStore OpenStore(string collection) =>
        new PgVectorStore(new PgVectorOptions { ConnectionString = server.ConnectionString }, collection);
}

[Collection(PostgresCollection.Name)]
public sealed class AlloyDbStoreContract(PostgresFixture server) : HouseStoreContract
{
    protected override string BackendName => "AlloyDb";

    protected override IHouseStore OpenStore(string collection) =>
        new AlloyDbStore(new PgVectorOptions { ConnectionString = server.ConnectionString }, collection);
}
