using System.Numerics.Tensors;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;

namespace HouseSimilarity.Stores.Local;

/// <summary>
/// The embedded default store: one SQLite file (WAL, synchronous=FULL, so a committed batch survives a
/// killed process) and exact SIMD search over an in-memory copy of the vectors, reloaded only when the
/// collection's change token says a writer (this process or another) changed it.
/// </summary>
public sealed class LocalStore : IHouseStore
{
    public const string FileName = "houses.db";

    // Keyed by file and collection, and checked against the collection's change token (random, rewritten by every
    // change): two copies of one file, or a file replaced by another, can never answer with each other's vectors.
    // Delta: the rows an index file does not hold yet (the whole collection when Delta is false).
    private static readonly ConcurrentDictionary<(string File, string Collection, bool Delta), Snapshot> Snapshots = new();
    // The mapped index file of each collection; a file is never changed once written, so its name identifies it.
    private static readonly ConcurrentDictionary<(string File, string Collection), HnswIndex> Indexes = new();

    /// <summary>
    /// Collections with fewer rows are searched exactly by default (below this an exact scan is about as fast as the index, and
    /// exact); larger ones through the HNSW index. Chosen by measurement (bench/RESULTS.md); HOUSESIM_INDEX_MIN_ROWS
    /// sets another.
    /// </summary>
    public static int DefaultIndexMinRows =>
        int.TryParse(Environment.GetEnvironmentVariable("HOUSESIM_INDEX_MIN_ROWS"), out int rows) && rows > 0 ? rows : 20_000;

    /// <summary>
    /// HNSW candidates per search by default, as PostgreSQL's hnsw.ef_search here. At 1M clustered vectors, one thread:
    /// recall@10 0.971 with 64 (0.68 ms), 0.988 with 96 (1.06 ms) and with 128 (1.41 ms); see bench/RESULTS.md.
    /// </summary>
    public const int DefaultCandidates = 100;

    private readonly int _indexMinRows;
    private readonly Func<bool> _indexAvailable;

    private readonly SqliteConnection _connection = null!;
    private readonly string _file;

    public string Backend => LocalStoreProvider.BackendName;
    public string Location => _file;
    public string Collection { get; }

    public StoreCapabilities Capabilities { get; } = new()
    {
        Metrics = [DistanceMetric.L2, DistanceMetric.L1], AtomicBatches = true, ExactSearch = true,
    };

    public LocalStore(string? file, string collection = CollectionName.Default) : this(file, collection, busyTimeout: 30)
    {
    }

    /// <param name="busyTimeout">Seconds to wait for another writer before failing with <see cref="StoreFailure.Busy"/>.</param>
    /// <param name="indexMinRows">Where searches start to use the index (<see cref="DefaultIndexMinRows"/> when null).</param>
    /// <param name="indexAvailable">Whether the index library runs here (<see cref="HnswIndex.Available"/> when null).</param>
    internal LocalStore(string? file, string collection, int busyTimeout, int? indexMinRows = null, Func<bool>? indexAvailable = null)
    {
        Collection = CollectionName.Validate(collection);
        _indexMinRows = indexMinRows ?? DefaultIndexMinRows;
        _indexAvailable = indexAvailable ?? (() => HnswIndex.Available);
        _file = Path.GetFullPath(file ?? DefaultFile);
        // What this constructor made, removed again if the store cannot be created (a full disk must not leave an empty file).
        string? newFolder = FirstMissingFolder(Path.GetDirectoryName(_file)!);
        bool newFile = !File.Exists(_file);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_file)!);
            _connection = new SqliteConnection(new SqliteConnectionStringBuilder
            {
                DataSource = _file,
                Mode = SqliteOpenMode.ReadWriteCreate,
                DefaultTimeout = busyTimeout,
                // A pooled connection would outlive a deleted or replaced store file and read the old one.
                Pooling = false,
            }.ToString());
            _connection.Open();
            Execute("PRAGMA synchronous = FULL;");
            // The schema is created once per file (user_version marks it), so opening an existing store only reads.
            using (var version = Command("PRAGMA user_version"))
            {
                if (Convert.ToInt64(version.ExecuteScalar()) < SchemaVersion)
                {
                    CreateSchema();
                }
            }
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
        {
            var error = Translate(e, newFile ? "create" : "open");
            _connection?.Dispose();
            if (newFile)
            {
                RemoveCreated(newFolder);
            }
            throw error;
        }
    }

    private static string? FirstMissingFolder(string folder)
    {
        string? missing = null;
        for (var current = folder; !string.IsNullOrEmpty(current) && !Directory.Exists(current); current = Path.GetDirectoryName(current))
        {
            missing = current;
        }
        return missing;
    }

    /// <summary>Removes the file (and its journal files, and the folders) that a failed create left behind.</summary>
    private void RemoveCreated(string? newFolder)
    {
        try
        {
            foreach (string suffix in new[] { "", "-wal", "-shm", "-journal" })
            {
                File.Delete(_file + suffix);
            }
            if (newFolder is not null && Directory.Exists(newFolder))
            {
                Directory.Delete(newFolder, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The error that stopped the create is the one to report.
        }
    }

    // 2: the exclusions table. 3: collections.row_count, so that a collection's size is read, not counted.
    // 4: a key per row (never reused, so that an index file can say which rows it holds), the index record and the
    // keys removed since the index was written.
    private const int SchemaVersion = 4;

    private void CreateSchema()
    {
        Execute("PRAGMA journal_mode = WAL;");
        using var transaction = _connection.BeginTransaction(deferred: false);
        // A store made before schema 4 keeps its vectors in a table without row keys: they move to the new table below.
        bool keyless = Count("SELECT count(*) FROM sqlite_master WHERE name = 'vectors'") == 1
            && Count("SELECT count(*) FROM pragma_table_info('vectors') WHERE name = 'key'") == 0;
        if (keyless)
        {
            Execute("ALTER TABLE vectors RENAME TO vectors_v3;");
        }
        Execute($"""
            CREATE TABLE IF NOT EXISTS collections (
                name TEXT PRIMARY KEY, model_id TEXT NOT NULL, dimension INTEGER NOT NULL,
                created_utc TEXT NOT NULL, generation INTEGER NOT NULL DEFAULT 0, row_count INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS vectors (
                key INTEGER PRIMARY KEY AUTOINCREMENT,
                collection TEXT NOT NULL, id TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
                width INTEGER NOT NULL, height INTEGER NOT NULL, added_utc TEXT NOT NULL, vector BLOB NOT NULL,
                UNIQUE (collection, id));
            CREATE TABLE IF NOT EXISTS removed_keys (
                collection TEXT NOT NULL, key INTEGER NOT NULL, PRIMARY KEY (collection, key)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS exclusions (
                collection TEXT NOT NULL, sha_a TEXT NOT NULL, sha_b TEXT NOT NULL, path_a TEXT NOT NULL, path_b TEXT NOT NULL,
                added_utc TEXT NOT NULL, PRIMARY KEY (collection, sha_a, sha_b)) WITHOUT ROWID;
            INSERT INTO store (key, value) VALUES ('id', '{Guid.NewGuid():N}') ON CONFLICT (key) DO NOTHING;
            """);
        if (keyless)
        {
            Execute("""
                INSERT INTO vectors (collection, id, path, sha256, width, height, added_utc, vector)
                SELECT collection, id, path, sha256, width, height, added_utc, vector FROM vectors_v3 ORDER BY collection, id;
                DROP TABLE vectors_v3;
                """);
        }
        // Columns an older store lacks; its collections get their counter, counted once.
        foreach (var (column, definition) in new[]
        {
            ("row_count", "INTEGER NOT NULL DEFAULT 0"), ("index_token", "TEXT"), ("index_key", "INTEGER NOT NULL DEFAULT 0"),
            ("index_count", "INTEGER NOT NULL DEFAULT 0"), ("index_bytes", "INTEGER NOT NULL DEFAULT 0"),
        })
        {
            if (Count($"SELECT count(*) FROM pragma_table_info('collections') WHERE name = '{column}'") == 0)
            {
                Execute($"ALTER TABLE collections ADD COLUMN {column} {definition};");
                if (column == "row_count")
                {
                    Execute("UPDATE collections SET row_count = (SELECT count(*) FROM vectors v WHERE v.collection = collections.name);");
                }
            }
        }
        Execute($"PRAGMA user_version = {SchemaVersion};");
        transaction.Commit();
    }

    private long Count(string sql, params (string Name, object Value)[] parameters)
    {
        using var command = Command(sql, parameters);
        return Convert.ToInt64(command.ExecuteScalar());
    }

    /// <summary>$XDG_DATA_HOME/HouseSimilarity/houses.db (on Windows under %LOCALAPPDATA%).</summary>
    public static string DefaultFile
    {
        get
        {
            string? xdg = Environment.GetEnvironmentVariable("XDG_DATA_HOME");
            string root = !string.IsNullOrEmpty(xdg) ? xdg : Environment.GetFolderPath(
                Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create);
            return Path.Combine(root, "HouseSimilarity", FileName);
        }
    }

    public Task<HouseCollection?> GetCollectionAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Run("read", () => ReadCollections(Collection).FirstOrDefault()));

    public Task<IReadOnlyList<HouseCollection>> ListCollectionsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<HouseCollection>>(Run("list the collections beside", () => ReadCollections(null)));

    private List<HouseCollection> ReadCollections(string? name)
    {
        using var command = Command("""
            SELECT c.name, c.model_id, c.dimension, c.row_count, c.index_token IS NOT NULL AND c.row_count >= $min
            FROM collections c WHERE $name IS NULL OR c.name = $name ORDER BY c.name
            """, ("$name", (object?)name ?? DBNull.Value), ("$min", _indexMinRows));
        using var reader = command.ExecuteReader();
        var result = new List<HouseCollection>();
        while (reader.Read())
        {
            result.Add(new HouseCollection
            {
                Name = reader.GetString(0), ModelId = reader.GetString(1), Dimension = reader.GetInt32(2),
                Count = reader.GetInt64(3), Backend = Backend, Location = _file, Metric = "L2, L1",
                IndexType = reader.GetBoolean(4) && _indexAvailable() ? nameof(VectorIndexType.Hnsw) : nameof(VectorIndexType.Exact),
            });
        }
        return result;
    }

    public Task UpsertAsync(IReadOnlyList<HouseEmbedding> records, CancellationToken cancellationToken = default)
    {
        if (records.Count > 0)
        {
            Run("store records in", () => Upsert(records, cancellationToken));
        }
        return Task.CompletedTask;
    }

    private void Upsert(IReadOnlyList<HouseEmbedding> records, CancellationToken cancellationToken)
    {
        var (modelId, dimension) = HouseStoreExtensions.CheckBatch(records);
        using var transaction = _connection.BeginTransaction(deferred: false);
        bool indexed = EnsureCollection(modelId, dimension);
        // A replaced row is removed and inserted again: it gets a new key, so an index file never holds a stale vector
        // under a live key. Only new rows count.
        using var remove = Command("DELETE FROM vectors WHERE collection = $c AND id = $id RETURNING key", ("$c", Collection), ("$id", ""));
        using var insert = Command("""
            INSERT INTO vectors (collection, id, path, sha256, width, height, added_utc, vector)
            VALUES ($c, $id, $path, $sha, $w, $h, $added, $vector)
            """, RecordParameters);
        string added = DateTime.UtcNow.ToString("O");
        long replaced = 0;
        foreach (var record in records)
        {
            cancellationToken.ThrowIfCancellationRequested();
            remove.Parameters["$id"].Value = record.Id;
            if (remove.ExecuteScalar() is long oldKey)
            {
                replaced++;
                RemovedFromIndex(oldKey, indexed);
            }
            Bind(insert, record, added, MemoryMarshal.AsBytes(record.Vector.AsSpan()).ToArray()).ExecuteNonQuery();
        }
        using var count = Command("UPDATE collections SET row_count = row_count + $n WHERE name = $c",
            ("$c", Collection), ("$n", records.Count - replaced));
        count.ExecuteNonQuery();
        BumpGeneration();
        transaction.Commit();
    }

    /// <summary>
    /// Remembers a removed key for the next index update, which takes it out of the graph. Searches skip it anyway
    /// (its row is gone); the list is kept only where an index is or may soon be.
    /// </summary>
    private void RemovedFromIndex(long key, bool indexed)
    {
        if (indexed)
        {
            using var tombstone = Command("INSERT OR IGNORE INTO removed_keys (collection, key) VALUES ($c, $k)", ("$c", Collection), ("$k", key));
            tombstone.ExecuteNonQuery();
        }
    }

    private static SqliteCommand Bind(SqliteCommand command, HouseEmbedding record, string added, byte[] vector)
    {
        command.Parameters["$id"].Value = record.Id;
        command.Parameters["$path"].Value = record.Path;
        command.Parameters["$sha"].Value = record.Sha256;
        command.Parameters["$w"].Value = record.Width;
        command.Parameters["$h"].Value = record.Height;
        command.Parameters["$added"].Value = added;
        command.Parameters["$vector"].Value = vector;
        return command;
    }

    private (string, object)[] RecordParameters =>
        [("$c", Collection), ("$id", ""), ("$path", ""), ("$sha", ""), ("$w", 0), ("$h", 0), ("$added", ""), ("$vector", Array.Empty<byte>())];

    /// <summary>Creates the collection on first use; whether it has (or may soon have) an index.</summary>
    private bool EnsureCollection(string modelId, int dimension)
    {
        using var read = Command("SELECT model_id, dimension, index_token IS NOT NULL OR row_count >= $min FROM collections WHERE name = $c",
            ("$c", Collection), ("$min", _indexMinRows));
        using (var reader = read.ExecuteReader())
        {
            if (reader.Read())
            {
                if (reader.GetString(0) != modelId)
                {
                    throw new ModelMismatchException(Collection, reader.GetString(0), modelId);
                }
                if (reader.GetInt32(1) != dimension)
                {
                    throw new ArgumentException($"The records have {dimension} dimensions; the collection has {reader.GetInt32(1)}.");
                }
                return reader.GetBoolean(2);
            }
        }
        using var create = Command(
            "INSERT INTO collections (name, model_id, dimension, created_utc) VALUES ($c, $m, $d, $t)",
            ("$c", Collection), ("$m", modelId), ("$d", dimension), ("$t", DateTime.UtcNow.ToString("O")));
        create.ExecuteNonQuery();
        return false;
    }

    /// <summary>
    /// Marks a change. The "generation" is a random token, not a counter: two copies of one file that each change
    /// once must not end up with equal values.
    /// </summary>
    private void BumpGeneration()
    {
        using var bump = Command("UPDATE collections SET generation = random() WHERE name = $c", ("$c", Collection));
        bump.ExecuteNonQuery();
    }

    public async Task<IReadOnlyList<Neighbour>> SearchAsync(float[] query, int k, SearchOptions options,
        CancellationToken cancellationToken = default) =>
        (await SearchManyAsync([query], k, options, cancellationToken))[0];

    /// <summary>
    /// L2 searches of a collection of at least <see cref="DefaultIndexMinRows"/> rows ask its HNSW index and scan the rows
    /// added since the index was written; every other search is one exact pass over the vectors for all queries
    /// together (blocks of rows shared by every query).
    /// </summary>
    public Task<IReadOnlyList<IReadOnlyList<Neighbour>>> SearchManyAsync(IReadOnlyList<float[]> queries, int k,
        SearchOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (!options.Exact && options.Metric == DistanceMetric.L2 && Run("search", () => IndexedSearch(queries, k, options, cancellationToken)) is { } found)
        {
            return Task.FromResult(found);
        }
        Snapshot snapshot = Run("search", () => LoadSnapshot(delta: false));
        CheckDimensions(queries, snapshot.Ids.Length > 0 ? snapshot.Dimension : null);
        var nearest = snapshot.Nearest(queries, k, options, cancellationToken);
        var result = new IReadOnlyList<Neighbour>[queries.Count];
        for (int q = 0; q < queries.Count; q++)
        {
            result[q] = nearest[q].Select(n => new Neighbour(snapshot.Ids[n.Index], n.Distance)).ToList();
        }
        return Task.FromResult<IReadOnlyList<IReadOnlyList<Neighbour>>>(result);
    }

    private static void CheckDimensions(IReadOnlyList<float[]> queries, int? dimension)
    {
        if (dimension is int d && queries.FirstOrDefault(q => q.Length != d) is { } query)
        {
            throw new ArgumentException($"The query has {query.Length} dimensions; the collection has {d}.");
        }
    }

    /// <summary>
    /// The search through the index, or null when the collection is small enough to scan, or has no index that agrees
    /// with its rows and none can be built (a read-only store): then the exact scan answers.
    /// </summary>
    private IReadOnlyList<IReadOnlyList<Neighbour>>? IndexedSearch(IReadOnlyList<float[]> queries, int k, SearchOptions options,
        CancellationToken ct)
    {
        for (int attempt = 0; ; attempt++)
        {
            using (var transaction = _connection.BeginTransaction(deferred: true))
            {
                var state = ReadState();
                if (state is null || state.Rows < _indexMinRows || !_indexAvailable())
                {
                    return null;
                }
                if (OpenIndex(state) is { } index)
                {
                    CheckDimensions(queries, state.Dimension);
                    return IndexedSearch(index, state, queries, k, options, ct);
                }
            }
            // Missing, or not the file the store recorded (a copied store, a damaged or foreign file): built again.
            if (attempt > 0 || !TryUpdateIndex(rebuild: true, ct))
            {
                return null;
            }
        }
    }

    private IReadOnlyList<IReadOnlyList<Neighbour>> IndexedSearch(HnswIndex index, CollectionState state, IReadOnlyList<float[]> queries,
        int k, SearchOptions options, CancellationToken ct)
    {
        var delta = LoadSnapshot(delta: true, state);
        // Entries of removed or replaced rows still in the graph: asked for on top of k, and skipped below. USearch
        // weighs max(its expansion, results asked) candidates, so asking for more results is how a search gets more.
        long dead = Math.Max(0, index.Count - (state.Rows - delta.Ids.Length));
        int ask = (int)Math.Min(index.Count, Math.Max(k + dead, options.Candidates ?? DefaultCandidates));
        double bound = options.MaxDistance ?? double.PositiveInfinity;
        var hits = new (ulong Key, double Distance)[queries.Count][];
        Parallel.For(0, queries.Count, new ParallelOptions { CancellationToken = ct, MaxDegreeOfParallelism = Environment.ProcessorCount }, q =>
        {
            // The distances are computed again from the vectors, as the exact scan computes them.
            hits[q] = index.Search(queries[q], ask)
                .Select(key => (key, index.Vector(key) is { } v ? VectorMath.L2(queries[q], v) : double.NaN))
                .Where(h => h.Item2 <= bound).OrderBy(h => h.Item2).ToArray();
        });
        // Keys to Ids, nearest first and only until k are found, in this transaction: a key whose row is gone is a
        // removed or replaced photo.
        var ids = new Dictionary<ulong, string?>();
        var found = new List<Neighbour>[queries.Count];
        using (var lookup = Command("SELECT id FROM vectors WHERE key = $k AND collection = $c", ("$c", Collection), ("$k", 0L)))
        {
            for (int q = 0; q < queries.Count; q++)
            {
                found[q] = new List<Neighbour>(k);
                foreach (var (key, distance) in hits[q])
                {
                    // Past the k-th distance; ties with it stay, for the order by Id below.
                    if (found[q].Count >= k && distance > found[q][k - 1].Distance)
                    {
                        break;
                    }
                    if (!ids.TryGetValue(key, out string? id))
                    {
                        lookup.Parameters["$k"].Value = (long)key;
                        ids[key] = id = lookup.ExecuteScalar() as string;
                    }
                    if (id is not null)
                    {
                        found[q].Add(new Neighbour(id, distance));
                    }
                }
            }
        }
        var recent = delta.Ids.Length > 0 ? delta.Nearest(queries, k, options, ct) : null;
        var result = new IReadOnlyList<Neighbour>[queries.Count];
        for (int q = 0; q < queries.Count; q++)
        {
            IEnumerable<Neighbour> merged = found[q];
            if (recent is not null)
            {
                merged = merged.Concat(recent[q].Select(n => new Neighbour(delta.Ids[n.Index], n.Distance)));
            }
            result[q] = merged.OrderBy(n => n.Distance).ThenBy(n => n.Id, StringComparer.Ordinal).Take(k).ToList();
        }
        return result;
    }

    /// <summary>What one read of the collections table says of a collection.</summary>
    private sealed record CollectionState(long Generation, int Dimension, long Rows, IndexRecord? Index);

    private CollectionState? ReadState()
    {
        using var read = Command("""
            SELECT generation, dimension, row_count, index_token, index_key, index_count, index_bytes FROM collections WHERE name = $c
            """, ("$c", Collection));
        using var reader = read.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }
        var index = reader.IsDBNull(3) ? null : new IndexRecord(reader.GetString(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetInt64(6));
        return new CollectionState(reader.GetInt64(0), reader.GetInt32(1), reader.GetInt64(2), index);
    }

    /// <summary>
    /// The mapped index file the store records, checked against it (size, vector count, and the first and last rows
    /// it holds compared with the store's), or null when there is none or it does not agree.
    /// </summary>
    private HnswIndex? OpenIndex(CollectionState state)
    {
        if (state.Index is not { } record)
        {
            return null;
        }
        string file = HnswIndex.PathFor(_file, Collection, record.Token);
        if (Indexes.TryGetValue((_file, Collection), out var cached) && cached.File == file)
        {
            return cached;
        }
        HnswIndex index;
        try
        {
            index = HnswIndex.OpenView(file, record, state.Dimension);
        }
        catch (InvalidDataException)
        {
            return null;
        }
        if (!HoldsRows(index, record))
        {
            index.Dispose();
            return null;
        }
        // The file it replaces stays mapped until collected: a search on another thread may still be reading it.
        Indexes[(_file, Collection)] = index;
        return index;
    }

    /// <summary>Whether the index holds the first and the last rows it should, with the store's vectors.</summary>
    private bool HoldsRows(HnswIndex index, IndexRecord record)
    {
        // "+collection": the rows are found by key (the row id), not through the (collection, id) index.
        using var sample = Command("""
            SELECT key, vector FROM (SELECT key, vector FROM vectors WHERE key <= $k AND +collection = $c ORDER BY key DESC LIMIT 2)
            UNION ALL SELECT key, vector FROM (SELECT key, vector FROM vectors WHERE key <= $k AND +collection = $c ORDER BY key LIMIT 1)
            """, ("$c", Collection), ("$k", record.CoveredKey));
        using var reader = sample.ExecuteReader();
        while (reader.Read())
        {
            var stored = MemoryMarshal.Cast<byte, float>((byte[])reader.GetValue(1));
            if (index.Vector((ulong)reader.GetInt64(0)) is not { } vector || !stored.SequenceEqual(vector))
            {
                return false;
            }
        }
        return true;
    }

    public Task<bool> FinishIngestAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Run("index", () => TryUpdateIndex(rebuild: false, cancellationToken)));

    /// <summary>
    /// Brings the index up to date where it is due: built when a collection reaches <see cref="DefaultIndexMinRows"/> or its
    /// file does not agree with the rows (or <paramref name="rebuild"/>), caught up when the rows added or removed since
    /// it was written reach 1/32 of it (until then searches scan them exactly). True when a file was written.
    /// </summary>
    private bool TryUpdateIndex(bool rebuild, CancellationToken ct)
    {
        CollectionState? state;
        bool catchUp;
        using (var transaction = _connection.BeginTransaction(deferred: true))
        {
            state = ReadState();
            if (state is null || state.Rows < _indexMinRows || !_indexAvailable())
            {
                return false;
            }
            catchUp = !rebuild && state.Index is { } record && OpenIndex(state) is not null;
            if (catchUp)
            {
                long added = Count("SELECT count(*) FROM vectors WHERE key > $k AND +collection = $c", ("$c", Collection), ("$k", state.Index!.CoveredKey));
                long removed = Count("SELECT count(*) FROM removed_keys WHERE collection = $c", ("$c", Collection));
                if (added + removed < Math.Max(1024, state.Index.Count / 32))
                {
                    return false;
                }
                // Removed nodes stay in the graph as detours: past 1/8 of it, a new graph is better than a patched one.
                catchUp = removed < state.Index.Count / 8;
            }
        }
        WriteIndex(state.Index, catchUp, ct);
        return true;
    }

    /// <summary>
    /// Writes a new index file from one consistent read of the rows (a catch-up: the current file, less the removed
    /// keys, plus the rows added since), then records it, unless another writer recorded a newer one meanwhile.
    /// </summary>
    private void WriteIndex(IndexRecord? basis, bool catchUp, CancellationToken ct)
    {
        HnswIndex index;
        long covered;
        var seenRemoved = new List<long>();
        using (var transaction = _connection.BeginTransaction(deferred: true))
        {
            var state = ReadState();
            if (state is null || state.Index?.Token != basis?.Token)
            {
                return;
            }
            using (var removed = Command("SELECT key FROM removed_keys WHERE collection = $c", ("$c", Collection)))
            using (var reader = removed.ExecuteReader())
            {
                while (reader.Read())
                {
                    seenRemoved.Add(reader.GetInt64(0));
                }
            }
            index = catchUp ? LoadOrNull(basis!, state.Dimension) ?? HnswIndex.New(state.Dimension) : HnswIndex.New(state.Dimension);
            // A file that could not be read whole after all is replaced by a new graph of every row.
            catchUp = index.Count > 0;
            covered = catchUp ? basis!.CoveredKey : 0;
            try
            {
                foreach (long key in catchUp ? seenRemoved : [])
                {
                    index.Remove((ulong)key);
                }
                using var rows = Command(catchUp
                    ? "SELECT key, vector FROM vectors WHERE key > $k AND +collection = $c ORDER BY key"
                    : "SELECT key, vector FROM vectors WHERE collection = $c", ("$c", Collection), ("$k", covered));
                using var reader = rows.ExecuteReader();
                var chunk = new List<(ulong, float[])>(16_384);
                while (true)
                {
                    bool more = reader.Read();
                    if (more && reader.GetBytes(1, 0, null, 0, 0) == state.Dimension * sizeof(float))
                    {
                        long key = reader.GetInt64(0);
                        covered = Math.Max(covered, key);
                        chunk.Add(((ulong)key, MemoryMarshal.Cast<byte, float>((byte[])reader.GetValue(1)).ToArray()));
                    }
                    if (chunk.Count == chunk.Capacity || (!more && chunk.Count > 0))
                    {
                        index.Add(chunk, ct);
                        chunk.Clear();
                    }
                    if (!more)
                    {
                        break;
                    }
                }
            }
            catch
            {
                index.Dispose();
                throw;
            }
        }
        // Written outside the read: other writers go on meanwhile, and the file is recorded only if none of them
        // recorded another one.
        IndexRecord written;
        try
        {
            written = index.Save(_file, Collection) with { CoveredKey = covered };
        }
        finally
        {
            index.Dispose();
        }
        using (var transaction = _connection.BeginTransaction(deferred: false))
        {
            if (ReadState()?.Index?.Token != basis?.Token)
            {
                HnswIndex.TryDelete(HnswIndex.PathFor(_file, Collection, written.Token));
                return;
            }
            using var record = Command("""
                UPDATE collections SET index_token = $t, index_key = $k, index_count = $n, index_bytes = $b WHERE name = $c
                """, ("$c", Collection), ("$t", written.Token), ("$k", written.CoveredKey), ("$n", written.Count), ("$b", written.Bytes));
            record.ExecuteNonQuery();
            using var forget = Command("DELETE FROM removed_keys WHERE collection = $c AND key = $k", ("$c", Collection), ("$k", 0L));
            foreach (long key in seenRemoved)
            {
                forget.Parameters["$k"].Value = key;
                forget.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        RemoveIndexFiles(except: written.Token);
    }

    private HnswIndex? LoadOrNull(IndexRecord record, int dimension)
    {
        try
        {
            return HnswIndex.Load(HnswIndex.PathFor(_file, Collection, record.Token), record, dimension);
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>The collection's other index files: replaced ones, and any a killed writer left.</summary>
    private void RemoveIndexFiles(string? except)
    {
        foreach (string file in HnswIndex.FilesOf(_file, Collection))
        {
            bool current = except is not null && file == HnswIndex.PathFor(_file, Collection, except);
            // Another writer may be saving a temporary file right now: only old ones are left-overs.
            bool inProgress = file.EndsWith(".tmp", StringComparison.Ordinal) && File.GetLastWriteTimeUtc(file) > DateTime.UtcNow.AddHours(-1);
            if (!current && !inProgress)
            {
                HnswIndex.TryDelete(file);
            }
        }
    }

    private Snapshot LoadSnapshot(bool delta, CollectionState? known = null)
    {
        var key = (_file, Collection, delta);
        Snapshots.TryGetValue(key, out var cached);
        // One read transaction: the token and the rows it stands for are read from the same state of the file, so a
        // writer that removes rows meanwhile never leaves a snapshot labelled with a token it does not match.
        using var transaction = known is null ? _connection.BeginTransaction(deferred: true) : null;
        var state = known ?? ReadState();
        if (state is null)
        {
            return Snapshot.Empty;
        }
        long after = delta ? state.Index!.CoveredKey : 0;
        if (cached is not null && cached.Generation == state.Generation && cached.Dimension == state.Dimension && cached.AfterKey == after)
        {
            return cached;
        }
        var snapshot = ReadSnapshot(state.Generation, state.Dimension, after);
        Snapshots[key] = snapshot;
        return snapshot;
    }

    /// <summary>The rows with keys above <paramref name="afterKey"/> (0: all), in Id order.</summary>
    private Snapshot ReadSnapshot(long generation, int dimension, long afterKey)
    {
        // The rows after a key are found by key (the row id); the whole collection through its (collection, id) index.
        string where = afterKey > 0 ? "key > $k AND +collection = $c" : "collection = $c";
        int n = (int)Count($"SELECT count(*) FROM vectors WHERE {where}", ("$c", Collection), ("$k", afterKey));
        var ids = new string[n];
        var matrix = new float[(long)n * dimension];
        using var read = Command($"SELECT id, vector FROM vectors WHERE {where} ORDER BY id", ("$c", Collection), ("$k", afterKey));
        using var reader = read.ExecuteReader();
        int row = 0;
        // Each vector is read through one buffer straight into the matrix: no array per row to collect.
        var bytes = new byte[dimension * sizeof(float)];
        while (reader.Read() && row < n)
        {
            // A row of another length (written by an older version or by hand) is left out of searches, not fatal.
            if (reader.GetBytes(1, 0, null, 0, 0) != bytes.Length)
            {
                continue;
            }
            reader.GetBytes(1, 0, bytes, 0, bytes.Length);
            ids[row] = reader.GetString(0);
            MemoryMarshal.Cast<byte, float>(bytes).CopyTo(matrix.AsSpan(row * dimension, dimension));
            row++;
        }
        if (row < n)
        {
            Array.Resize(ref ids, row);
            Array.Resize(ref matrix, row * dimension);
        }
        return new Snapshot(generation, dimension, afterKey, ids, matrix);
    }

    public Task<IReadOnlyList<HouseRecord>> GetManyAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run<IReadOnlyList<HouseRecord>>("read", () =>
        {
            var records = new List<HouseRecord>(ids.Count);
            using var command = Command(SelectRecord + " AND v.id = $id", ("$c", Collection), ("$id", ""));
            foreach (string id in ids.Distinct(StringComparer.Ordinal))
            {
                cancellationToken.ThrowIfCancellationRequested();
                command.Parameters["$id"].Value = id;
                using var reader = command.ExecuteReader();
                if (reader.Read())
                {
                    records.Add(ReadRecord(reader));
                }
            }
            return records;
        }));

    public async IAsyncEnumerable<HouseRecord> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var command = Command(SelectRecord + " ORDER BY v.id", ("$c", Collection));
        using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (reader.Read())
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return ReadRecord(reader);
        }
    }

    private const string SelectRecord = """
        SELECT v.id, v.path, v.sha256, v.width, v.height, v.added_utc, c.model_id, v.vector
        FROM vectors v JOIN collections c ON c.name = v.collection WHERE v.collection = $c
        """;

    private HouseRecord ReadRecord(SqliteDataReader reader) => new()
    {
        Id = reader.GetString(0), Path = reader.GetString(1), Sha256 = reader.GetString(2),
        Width = reader.GetInt32(3), Height = reader.GetInt32(4),
        AddedUtc = DateTime.Parse(reader.GetString(5), null, System.Globalization.DateTimeStyles.RoundtripKind),
        ModelId = reader.GetString(6), Vector = MemoryMarshal.Cast<byte, float>((byte[])reader.GetValue(7)).ToArray(),
        Collection = Collection,
    };

    public Task<bool> RemoveAsync(string id, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run("remove a record from", () =>
        {
            using var transaction = _connection.BeginTransaction(deferred: false);
            using var delete = Command("DELETE FROM vectors WHERE collection = $c AND id = $id RETURNING key", ("$c", Collection), ("$id", id));
            bool removed = false;
            if (delete.ExecuteScalar() is long key)
            {
                removed = true;
                RemovedFromIndex(key, Count("SELECT count(*) FROM collections WHERE name = $c AND (index_token IS NOT NULL OR row_count >= $min)",
                    ("$c", Collection), ("$min", _indexMinRows)) > 0);
                using var count = Command("UPDATE collections SET row_count = row_count - 1 WHERE name = $c", ("$c", Collection));
                count.ExecuteNonQuery();
                BumpGeneration();
            }
            transaction.Commit();
            return removed;
        }));

    public Task<IReadOnlyList<HouseDuplicateExclusion>> ReadExclusionsAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Run<IReadOnlyList<HouseDuplicateExclusion>>("read the decisions of", () =>
        {
            using var command = Command(
                "SELECT sha_a, sha_b, path_a, path_b, added_utc FROM exclusions WHERE collection = $c ORDER BY sha_a, sha_b",
                ("$c", Collection));
            using var reader = command.ExecuteReader();
            var result = new List<HouseDuplicateExclusion>();
            while (reader.Read())
            {
                result.Add(new HouseDuplicateExclusion(reader.GetString(0), reader.GetString(1))
                {
                    PathA = reader.GetString(2), PathB = reader.GetString(3), Collection = Collection,
                    AddedUtc = DateTime.Parse(reader.GetString(4), null, System.Globalization.DateTimeStyles.RoundtripKind),
                });
            }
            return result;
        }));

    public Task AddExclusionsAsync(IReadOnlyList<HouseDuplicateExclusion> exclusions, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run("store decisions in", () =>
        {
            using var transaction = _connection.BeginTransaction(deferred: false);
            using var insert = Command("""
                INSERT INTO exclusions (collection, sha_a, sha_b, path_a, path_b, added_utc) VALUES ($c, $a, $b, $pa, $pb, $t)
                ON CONFLICT (collection, sha_a, sha_b) DO UPDATE SET path_a = excluded.path_a, path_b = excluded.path_b,
                    added_utc = excluded.added_utc
                """, ("$c", Collection), ("$a", ""), ("$b", ""), ("$pa", ""), ("$pb", ""), ("$t", ""));
            foreach (var exclusion in exclusions)
            {
                insert.Parameters["$a"].Value = exclusion.Sha256A;
                insert.Parameters["$b"].Value = exclusion.Sha256B;
                insert.Parameters["$pa"].Value = exclusion.PathA;
                insert.Parameters["$pb"].Value = exclusion.PathB;
                insert.Parameters["$t"].Value = exclusion.AddedUtc.ToUniversalTime().ToString("O");
                insert.ExecuteNonQuery();
            }
            transaction.Commit();
            return true;
        }));

    public Task<int> RemoveExclusionsAsync(IReadOnlyList<(string Sha256A, string Sha256B)> pairs, CancellationToken cancellationToken = default) =>
        Task.FromResult(Run("remove decisions from", () =>
        {
            using var transaction = _connection.BeginTransaction(deferred: false);
            using var delete = Command("DELETE FROM exclusions WHERE collection = $c AND sha_a = $a AND sha_b = $b",
                ("$c", Collection), ("$a", ""), ("$b", ""));
            int removed = 0;
            foreach (var (a, b) in pairs)
            {
                delete.Parameters["$a"].Value = a;
                delete.Parameters["$b"].Value = b;
                removed += delete.ExecuteNonQuery();
            }
            transaction.Commit();
            return removed;
        }));

    public Task<bool> DropCollectionAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Run("drop", () =>
        {
            using var transaction = _connection.BeginTransaction(deferred: false);
            using var vectors = Command("DELETE FROM vectors WHERE collection = $c", ("$c", Collection));
            vectors.ExecuteNonQuery();
            using var exclusions = Command("DELETE FROM exclusions WHERE collection = $c", ("$c", Collection));
            exclusions.ExecuteNonQuery();
            using var removed = Command("DELETE FROM removed_keys WHERE collection = $c", ("$c", Collection));
            removed.ExecuteNonQuery();
            using var collection = Command("DELETE FROM collections WHERE name = $c", ("$c", Collection));
            bool dropped = collection.ExecuteNonQuery() > 0;
            transaction.Commit();
            Snapshots.TryRemove((_file, Collection, false), out _);
            Snapshots.TryRemove((_file, Collection, true), out _);
            Indexes.TryRemove((_file, Collection), out _);
            RemoveIndexFiles(except: null);
            return dropped;
        }));

    private SqliteCommand Command(string sql, params (string Name, object Value)[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }
        return command;
    }

    private void Execute(string sql)
    {
        using var command = Command(sql);
        command.ExecuteNonQuery();
    }

    public void Dispose() => _connection.Dispose();

    /// <summary>Runs one operation on the file; SQLite's and the file system's errors become HouseStoreExceptions.</summary>
    private T Run<T>(string action, Func<T> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is SqliteException or IOException or UnauthorizedAccessException)
        {
            throw Translate(e, action);
        }
    }

    private void Run(string action, Action body) => Run(action, () => { body(); return true; });

    private HouseStoreException Translate(Exception e, string action)
    {
        var kind = e switch
        {
            SqliteException { SqliteErrorCode: 13 } => StoreFailure.StorageFull,       // SQLITE_FULL
            SqliteException { SqliteErrorCode: 5 or 6 } => StoreFailure.Busy,          // SQLITE_BUSY, SQLITE_LOCKED
            SqliteException { SqliteErrorCode: 8 } => StoreFailure.ReadOnly,           // SQLITE_READONLY
            SqliteException { SqliteErrorCode: 3 or 23 } => StoreFailure.PermissionDenied, // SQLITE_PERM, SQLITE_AUTH
            SqliteException { SqliteErrorCode: 11 or 26 } => StoreFailure.Corrupt,     // SQLITE_CORRUPT, SQLITE_NOTADB
            // SQLITE_IOERR: growing the WAL index (-shm) on a full disk fails as an I/O error, not as SQLITE_FULL.
            // SQLITE_CANTOPEN: the same when it cannot even create the WAL index.
            SqliteException { SqliteErrorCode: 10 or 14 } or IOException when VolumeNearlyFull(_file) => StoreFailure.StorageFull,
            // A WAL store on a read-only file system cannot make its WAL index, so even reading it fails to open.
            SqliteException { SqliteErrorCode: 14 } when File.Exists(_file) && !Writable(_file) => StoreFailure.ReadOnly,
            UnauthorizedAccessException => StoreFailure.PermissionDenied,
            _ => StoreFailure.Other,
        };
        if (kind == StoreFailure.ReadOnly && e is SqliteException { SqliteErrorCode: 14 })
        {
            return new HouseStoreException($"The local store '{_file}' could not {action} collection '{Collection}': the file " +
                "cannot be written (a read-only file system or file), and SQLite needs to write beside it even to read it. " +
                "Copy the store to a writable folder and use -StorePath.", e, kind, _file);
        }
        if (kind == StoreFailure.StorageFull)
        {
            return new HouseStoreException($"The local store '{_file}' could not {action} collection '{Collection}': the disk is full. " +
                "Free some space and run the command again; what was stored before is kept.", e, kind, _file);
        }
        string cause = e is SqliteException sqlite ? sqlite.Message.Replace("SQLite Error " + sqlite.SqliteErrorCode + ": ", "") : e.Message;
        return new HouseStoreException($"The local store '{_file}' could not {action} collection '{Collection}': {cause.TrimEnd('.')}.",
            e, kind, _file);
    }

    /// <summary>Whether the file may be opened for writing (opened, not changed).</summary>
    private static bool Writable(string file)
    {
        try
        {
            using var probe = new FileStream(file, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Less than 1 MiB left to this user on the volume that holds <paramref name="file"/>.</summary>
    private static bool VolumeNearlyFull(string file)
    {
        try
        {
            var volume = DriveInfo.GetDrives()
                .Where(d => file.StartsWith(d.RootDirectory.FullName, OperatingSystem.IsWindows() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal))
                .MaxBy(d => d.RootDirectory.FullName.Length);
            return volume is { IsReady: true } && volume.AvailableFreeSpace < (1 << 20);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The vectors of one collection generation (all, or those after a key), rows in Id order.</summary>
    private sealed record Snapshot(long Generation, int Dimension, long AfterKey, string[] Ids, float[] Matrix)
    {
        public static Snapshot Empty { get; } = new(-1, 0, 0, [], []);

        /// <summary>Rows compared per block: a block (here 512 KB) stays in cache while every query is compared with it.</summary>
        private const int BlockRows = 1024;

        private float[]? _squaredNorms;

        /// <summary>|row|² of every row, for d² = |q|² + |r|² - 2 q·r.</summary>
        private float[] SquaredNorms => _squaredNorms ??= Enumerable.Range(0, Ids.Length)
            .Select(row => TensorPrimitives.Dot(Row(row), Row(row))).ToArray();

        private ReadOnlySpan<float> Row(int row) => Matrix.AsSpan(row * Dimension, Dimension);

        /// <summary>
        /// The exact k nearest rows of each query. The rows are split into one range per core; each range is read block
        /// by block, every query compared with a block before the next is read. L2 is ranked by d² from dot products,
        /// four queries per row read (a small matrix product), and the distances kept are computed again exactly, so
        /// they equal every other backend's. Ties come out in Id order.
        /// </summary>
        public List<(int Index, float Distance)>[] Nearest(IReadOnlyList<float[]> queries, int k, SearchOptions options,
            CancellationToken ct)
        {
            int rows = Ids.Length;
            int ranges = Math.Clamp(rows / (4 * BlockRows), 1, Environment.ProcessorCount);
            var partial = new TopK[ranges][];
            bool l2 = options.Metric == DistanceMetric.L2;
            float bound = options.MaxDistance is double max ? (float)max : float.PositiveInfinity;
            // Ranked in d²; a little slack so that the exact distance decides at the bound.
            float squaredBound = float.IsInfinity(bound) ? bound : bound * bound + 1e-4f;
            var norms = l2 ? SquaredNorms : null;
            var queryNorms = queries.Select(q => TensorPrimitives.Dot(q, q)).ToArray();
            // The queries packed in tiles of QueryTile (the last padded with zeros), as the kernel reads them.
            const int Tile = VectorMath.QueryTile;
            int tiles = (queries.Count + Tile - 1) / Tile;
            // Pooled: a duplicate scan asks hundreds of batches, and each would otherwise leave a large-object array behind.
            int packedLength = tiles * Tile * Dimension;
            var packed = System.Buffers.ArrayPool<float>.Shared.Rent(packedLength);
            packed.AsSpan(0, packedLength).Clear();
            for (int q = 0; q < queries.Count; q++)
            {
                queries[q].AsSpan(0, Dimension).CopyTo(packed.AsSpan(q * Dimension));
            }
            Parallel.For(0, ranges, new ParallelOptions { CancellationToken = ct }, r =>
            {
                var best = new TopK[queries.Count];
                var worst = new float[queries.Count];
                for (int q = 0; q < best.Length; q++)
                {
                    // Ranked in d², with room for the exact distances to reorder near ties at the edge.
                    best[q] = new TopK(l2 ? k + 2 : k);
                    worst[q] = float.PositiveInfinity;
                }
                int first = (int)((long)rows * r / ranges), end = (int)((long)rows * (r + 1) / ranges);
                Span<float> dots = stackalloc float[Tile];
                for (int block = first; block < end; block += BlockRows)
                {
                    ct.ThrowIfCancellationRequested();
                    int blockEnd = Math.Min(end, block + BlockRows);
                    if (!l2)
                    {
                        for (int q = 0; q < best.Length; q++)
                        {
                            for (int row = block; row < blockEnd; row++)
                            {
                                float d = (float)VectorMath.Distance(queries[q], Row(row), options.Metric);
                                if (d <= bound)
                                {
                                    best[q].Offer(row, d);
                                }
                            }
                        }
                        continue;
                    }
                    for (int t0 = 0; t0 < tiles; t0++)
                    {
                        var tile = packed.AsSpan(t0 * Tile * Dimension, Tile * Dimension);
                        int q0 = t0 * Tile, count = Math.Min(Tile, queries.Count - q0);
                        for (int row = block; row < blockEnd; row++)
                        {
                            VectorMath.Dots(Row(row), tile, dots);
                            float rowNorm = norms![row];
                            for (int t = 0; t < count; t++)
                            {
                                int q = q0 + t;
                                float d2 = Math.Max(0, queryNorms[q] + rowNorm - 2 * dots[t]);
                                // Most rows are farther than the k-th kept: skip the heap for them.
                                if (d2 <= squaredBound && d2 <= worst[q])
                                {
                                    best[q].Offer(row, d2);
                                    worst[q] = best[q].Worst;
                                }
                            }
                        }
                    }
                }
                partial[r] = best;
            });
            System.Buffers.ArrayPool<float>.Shared.Return(packed);
            var result = new List<(int Index, float Distance)>[queries.Count];
            for (int q = 0; q < queries.Count; q++)
            {
                for (int r = 1; r < ranges; r++)
                {
                    partial[0][q].Merge(partial[r][q]);
                }
                var kept = partial[0][q].Drain();
                if (l2)
                {
                    float[] query = queries[q];
                    kept = kept.Select(n => (n.Index, Distance: (float)VectorMath.L2(query, Row(n.Index))))
                        .Where(n => n.Distance <= bound)
                        .OrderBy(n => n.Distance).ThenBy(n => n.Index).Take(k).ToList();
                }
                result[q] = kept;
            }
            return result;
        }
    }
}
