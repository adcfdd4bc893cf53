using HouseSimilarity.Stores;
using HouseSimilarity.Stores.Local;
using static HouseSimilarity.Tests.LocalStoreTests;

namespace HouseSimilarity.Tests;

/// <summary>The embedded store's HNSW index: recall against exact search, rows changed after it was written, damaged files.</summary>
public sealed class LocalIndexTests : IDisposable
{
    private const string Model = "test-model-1";
    private const int MinRows = 2_000;
    private readonly string _dir = TestData.NewScratchDirectory();
    private string File => Path.Combine(_dir, "houses.db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private LocalStore Open() => new(File, CollectionName.Default, busyTimeout: 30, indexMinRows: MinRows);

    /// <summary>Vectors in clusters, as embeddings of photos are (houses, rooms, edited copies), not uniform noise.</summary>
    private static List<HouseEmbedding> Clustered(int count, Random rng, string prefix = "p")
    {
        var centres = Enumerable.Range(0, Math.Max(1, count / 40)).Select(_ => RandomUnit(rng)).ToList();
        return Enumerable.Range(0, count).Select(i => Record($"{prefix}{i:D6}", Near(centres[rng.Next(centres.Count)], rng, 0.6))).ToList();
    }

    private static float[] Near(float[] centre, Random rng, double spread)
    {
        var noise = RandomUnit(rng, centre.Length);
        var v = centre.Select((c, i) => c + (float)(spread * noise[i])).ToArray();
        VectorMath.Normalize(v);
        return v;
    }

    /// <summary>A closed store of 3,000 clustered photos with its index written.</summary>
    private async Task<List<HouseEmbedding>> IndexedStore(Random rng)
    {
        var records = Clustered(3_000, rng);
        using var store = Open();
        await store.UpsertAsync(records);
        Assert.True(await store.FinishIngestAsync());
        return records;
    }

    private string[] IndexFiles(string store = "houses.db") => Directory.GetFiles(_dir, $"{store}.default.*.hnsw*");

    private static async Task<List<string>> Ids(LocalStore store, float[] query, int k, bool exact) =>
        (await store.SearchAsync(query, k, new SearchOptions { Exact = exact })).Select(n => n.Id).ToList();

    [Fact]
    public async Task The_index_finds_what_exact_search_finds_with_the_same_distances()
    {
        var rng = new Random(11);
        var records = Clustered(12_000, rng);
        using var store = Open();
        await store.UpsertAsync(records);
        Assert.True(await store.FinishIngestAsync());
        Assert.Single(IndexFiles());
        Assert.Equal("Hnsw", (await store.GetCollectionAsync())!.IndexType);

        int found = 0, asked = 0;
        for (int q = 0; q < 200; q++)
        {
            // Re-uploads of stored photos: a stored vector moved a little.
            float[] query = Near(records[rng.Next(records.Count)].Vector, rng, 0.1);
            var exact = await store.SearchAsync(query, 10, new SearchOptions { Exact = true });
            var approximate = await store.SearchAsync(query, 10, SearchOptions.Default);
            found += approximate.Select(n => n.Id).Intersect(exact.Select(n => n.Id)).Count();
            asked += exact.Count;
            foreach (var n in approximate)
            {
                var stored = records.First(r => r.Id == n.Id);
                Assert.Equal(VectorMath.L2(query, stored.Vector), n.Distance, 6);
            }
            Assert.Equal(approximate.OrderBy(n => n.Distance).ThenBy(n => n.Id, StringComparer.Ordinal), approximate);
        }
        Assert.True(found >= 0.98 * asked, $"recall@10 {found / (double)asked:F4}");
    }

    [Fact]
    public async Task Identical_copies_cut_by_top_are_the_ones_exact_search_keeps()
    {
        var rng = new Random(17);
        var records = Clustered(3_000, rng);
        float[] copied = records[100].Vector;
        // Byte-identical re-uploads: one distance, so the Id decides which of them a top of 3 keeps.
        records.AddRange(new[] { "copy-e", "copy-b", "copy-d", "copy-a", "copy-c" }.Select(id => Record(id, copied)));
        using var store = Open();
        await store.UpsertAsync(records);
        Assert.True(await store.FinishIngestAsync());
        var query = Near(copied, rng, 0.05);
        foreach (int top in new[] { 1, 3, 6, 10 })
        {
            Assert.Equal(await Ids(store, query, top, exact: true), await Ids(store, query, top, exact: false));
        }
        Assert.Equal(["copy-a", "copy-b", "copy-c"], (await Ids(store, copied, 3, exact: false)).ToArray());
        // A longer candidate list, as a caller may ask: the same answer here, with the same distances.
        var longer = await store.SearchAsync(query, 10, new SearchOptions { Candidates = 400 });
        Assert.Equal(await store.SearchAsync(query, 10, new SearchOptions { Exact = true }), longer);
    }

    [Fact]
    public async Task Rows_added_replaced_and_removed_after_the_index_was_written_are_searched_as_they_are_now()
    {
        var rng = new Random(12);
        var records = Clustered(4_000, rng);
        using var store = Open();
        await store.UpsertAsync(records);
        Assert.True(await store.FinishIngestAsync());
        string indexFile = Assert.Single(IndexFiles());

        float[] added = RandomUnit(rng), replacement = RandomUnit(rng);
        float[] old = records[10].Vector, removed = records[20].Vector;
        await store.UpsertAsync([Record("new", added), Record(records[10].Id, replacement)]);
        Assert.True(await store.RemoveAsync(records[20].Id));
        // Too few changes to be worth a new file: they are scanned exactly beside the index.
        Assert.False(await store.FinishIngestAsync());
        Assert.Equal(indexFile, Assert.Single(IndexFiles()));

        Assert.Equal("new", (await Ids(store, added, 1, exact: false))[0]);
        var replaced = await store.SearchAsync(replacement, 1, SearchOptions.Default);
        Assert.Equal((records[10].Id, 0.0), (replaced[0].Id, Math.Round(replaced[0].Distance, 6)));
        Assert.DoesNotContain(records[20].Id, await Ids(store, removed, 10, exact: false));
        // The old vector of the replaced photo is no longer found under its Id.
        var nearOld = await store.SearchAsync(old, 10, SearchOptions.Default);
        Assert.DoesNotContain(nearOld, n => n.Id == records[10].Id && n.Distance < 1e-3);
        Assert.Equal(4_000, (await store.GetCollectionAsync())!.Count);
    }

    [Fact]
    public async Task Where_the_index_library_does_not_load_every_search_is_exact_and_changes_still_reach_the_index()
    {
        Assert.True(HnswIndex.Available, "USearch's native library ships for this platform and must load");
        var rng = new Random(16);
        var records = await IndexedStore(rng);
        string indexFile = Assert.Single(IndexFiles());

        // The same store on a platform without the native library (linux-arm64, macOS x64).
        using (var store = new LocalStore(File, CollectionName.Default, busyTimeout: 30, indexMinRows: MinRows, indexAvailable: () => false))
        {
            Assert.Equal("Exact", (await store.GetCollectionAsync())!.IndexType);
            await store.UpsertAsync(Clustered(1_500, rng, prefix: "q"));
            Assert.True(await store.RemoveAsync(records[5].Id));
            Assert.False(await store.FinishIngestAsync());
            Assert.Equal(indexFile, Assert.Single(IndexFiles()));
            for (int q = 0; q < 20; q++)
            {
                var query = Near(records[rng.Next(records.Count)].Vector, rng, 0.1);
                Assert.Equal(await Ids(store, query, 10, exact: true), await Ids(store, query, 10, exact: false));
            }
        }

        // Back where it loads: the removal made there is honoured by the index, the added rows are found.
        using (var store = Open())
        {
            Assert.DoesNotContain(records[5].Id, await Ids(store, records[5].Vector, 10, exact: false));
            Assert.Equal("q000007", (await Ids(store, (await store.GetAsync("q000007"))!.Vector, 1, exact: false))[0]);
            Assert.Equal(4_499, (await store.GetCollectionAsync())!.Count);
        }
    }

    [Fact]
    public async Task Enough_changes_write_a_new_file_that_replaces_the_old_one()
    {
        var rng = new Random(13);
        using var store = Open();
        await store.UpsertAsync(Clustered(3_000, rng));
        Assert.True(await store.FinishIngestAsync());
        string first = Assert.Single(IndexFiles());

        var more = Clustered(1_100, rng, prefix: "q");
        await store.UpsertAsync(more);
        await store.RemoveAsync("p000001");
        Assert.True(await store.FinishIngestAsync());
        string second = Assert.Single(IndexFiles());
        Assert.NotEqual(first, second);
        foreach (var r in more.Take(50))
        {
            Assert.Equal(r.Id, (await Ids(store, r.Vector, 1, exact: false))[0]);
        }
        Assert.DoesNotContain("p000001", await Ids(store, (await store.GetAsync("p000002"))!.Vector, 4_100, exact: false));
    }

    public static TheoryData<string> Damages => ["deleted", "truncated", "another collection's file", "garbage"];

    [Theory]
    [MemberData(nameof(Damages))]
    public async Task An_index_file_that_does_not_agree_with_the_rows_is_never_used_and_is_built_again(string damage)
    {
        var rng = new Random(14);
        var records = await IndexedStore(rng);
        string file = Assert.Single(IndexFiles());
        switch (damage)
        {
            case "deleted":
                System.IO.File.Delete(file);
                break;
            case "truncated":
                using (var stream = new FileStream(file, FileMode.Open)) stream.SetLength(stream.Length / 2);
                break;
            case "another collection's file":
                // A file of the same size and count but other vectors (a store restored beside a newer index).
                string other = Path.Combine(_dir, "other.db");
                using (var store = new LocalStore(other, CollectionName.Default, 30, MinRows))
                {
                    await store.UpsertAsync(Clustered(3_000, new Random(99)));
                    Assert.True(await store.FinishIngestAsync());
                }
                System.IO.File.Copy(Assert.Single(Directory.GetFiles(_dir, "other.db.default.*.hnsw")), file, overwrite: true);
                break;
            case "garbage":
                var bytes = new byte[new FileInfo(file).Length];
                new Random(5).NextBytes(bytes);
                System.IO.File.WriteAllBytes(file, bytes);
                break;
        }
        // As a new process sees it (the caches are keyed by file, so a store moved to a new name is new to them).
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (string part in Directory.GetFiles(_dir, "houses.db*"))
        {
            System.IO.File.Move(part, Path.Combine(_dir, "moved.db" + Path.GetFileName(part)["houses.db".Length..]));
        }
        using (var moved = new LocalStore(Path.Combine(_dir, "moved.db"), CollectionName.Default, 30, MinRows))
        {
            foreach (var r in records.Take(20))
            {
                Assert.Equal(r.Id, (await Ids(moved, r.Vector, 1, exact: false))[0]);
            }
        }
        string rebuilt = Assert.Single(IndexFiles("moved.db"));
        Assert.NotEqual(Path.GetFileName(file)["houses.db".Length..], Path.GetFileName(rebuilt)["moved.db".Length..]);
    }

    [Fact]
    public async Task Files_a_killed_writer_left_are_ignored_and_cleared_by_the_next_write()
    {
        var rng = new Random(15);
        using var store = Open();
        await store.UpsertAsync(Clustered(2_500, rng));
        Assert.True(await store.FinishIngestAsync());
        string current = Assert.Single(IndexFiles());
        // What a writer killed before recording its file leaves: a finished file the store does not name, and a
        // temporary one from before that.
        string orphan = Path.Combine(_dir, "houses.db.default.0123456789ab.hnsw"), temporary = orphan + ".tmp";
        System.IO.File.Copy(current, orphan);
        System.IO.File.WriteAllBytes(temporary, new byte[100]);
        System.IO.File.SetLastWriteTimeUtc(temporary, DateTime.UtcNow.AddDays(-1));

        Assert.Equal("p000003", (await Ids(store, (await store.GetAsync("p000003"))!.Vector, 1, exact: false))[0]);
        await store.UpsertAsync(Clustered(1_100, rng, prefix: "q"));
        Assert.True(await store.FinishIngestAsync());
        string written = Assert.Single(IndexFiles());
        Assert.DoesNotContain(written, new[] { current, orphan, temporary });
    }

    [Fact]
    public async Task A_store_of_schema_3_gets_row_keys_and_keeps_its_photos()
    {
        using (var old = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={File};Pooling=False"))
        {
            old.Open();
            using var create = old.CreateCommand();
            create.CommandText = """
                CREATE TABLE collections (name TEXT PRIMARY KEY, model_id TEXT NOT NULL, dimension INTEGER NOT NULL,
                    created_utc TEXT NOT NULL, generation INTEGER NOT NULL DEFAULT 0, row_count INTEGER NOT NULL DEFAULT 0);
                CREATE TABLE vectors (collection TEXT NOT NULL, id TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
                    width INTEGER NOT NULL, height INTEGER NOT NULL, added_utc TEXT NOT NULL, vector BLOB NOT NULL,
                    PRIMARY KEY (collection, id)) WITHOUT ROWID;
                CREATE TABLE store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE exclusions (collection TEXT NOT NULL, sha_a TEXT NOT NULL, sha_b TEXT NOT NULL, path_a TEXT NOT NULL,
                    path_b TEXT NOT NULL, added_utc TEXT NOT NULL, PRIMARY KEY (collection, sha_a, sha_b)) WITHOUT ROWID;
                INSERT INTO collections VALUES ('default', 'test-model-1', 2, '2026-01-01T00:00:00Z', 1, 2);
                INSERT INTO vectors VALUES ('default', 'a', '/a.jpg', 'aa', 1, 1, '2026-01-01T00:00:00.0000000Z', x'0000803F00000000');
                INSERT INTO vectors VALUES ('default', 'b', '/b.jpg', 'bb', 1, 1, '2026-01-01T00:00:00.0000000Z', x'000000000000803F');
                PRAGMA user_version = 3;
                """;
            create.ExecuteNonQuery();
        }
        using var store = Open();
        Assert.Equal(2, (await store.GetCollectionAsync())!.Count);
        Assert.Equal(["b", "a"], await Ids(store, [0f, 1f], 2, exact: false));
        await store.UpsertAsync([Record("c", [0.6f, 0.8f], model: Model)]);
        Assert.Equal(3, (await store.GetCollectionAsync())!.Count);
    }
}
