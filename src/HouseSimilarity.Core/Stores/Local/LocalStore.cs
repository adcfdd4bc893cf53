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
    private static readonly ConcurrentDictionary<(string File, string Collection), Snapshot> Snapshots = new();

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
    internal LocalStore(string? file, string collection, int busyTimeout)
    {
        Collection = CollectionName.Validate(collection);
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
    private const int SchemaVersion = 3;

    private void CreateSchema()
    {
        Execute("PRAGMA journal_mode = WAL;");
        using var transaction = _connection.BeginTransaction(deferred: false);
        Execute($"""
            CREATE TABLE IF NOT EXISTS collections (
                name TEXT PRIMARY KEY, model_id TEXT NOT NULL, dimension INTEGER NOT NULL,
                created_utc TEXT NOT NULL, generation INTEGER NOT NULL DEFAULT 0, row_count INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS vectors (
                collection TEXT NOT NULL, id TEXT NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
                width INTEGER NOT NULL, height INTEGER NOT NULL, added_utc TEXT NOT NULL, vector BLOB NOT NULL,
                PRIMARY KEY (collection, id)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS exclusions (
                collection TEXT NOT NULL, sha_a TEXT NOT NULL, sha_b TEXT NOT NULL, path_a TEXT NOT NULL, path_b TEXT NOT NULL,
                added_utc TEXT NOT NULL, PRIMARY KEY (collection, sha_a, sha_b)) WITHOUT ROWID;
            INSERT INTO store (key, value) VALUES ('id', '{Guid.NewGuid():N}') ON CONFLICT (key) DO NOTHING;
            """);
        // A store made by an older version: its collections get their counter, counted once.
        using (var columns = Command("SELECT count(*) FROM pragma_table_info('collections') WHERE name = 'row_count'"))
        {
            if (Convert.ToInt64(columns.ExecuteScalar()) == 0)
            {
                Execute("""
                    ALTER TABLE collections ADD COLUMN row_count INTEGER NOT NULL DEFAULT 0;
                    UPDATE collections SET row_count = (SELECT count(*) FROM vectors v WHERE v.collection = collections.name);
                    """);
            }
        }
        Execute($"PRAGMA user_version = {SchemaVersion};");
        transaction.Commit();
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
            SELECT c.name, c.model_id, c.dimension, c.row_count
            FROM collections c WHERE $name IS NULL OR c.name = $name ORDER BY c.name
            """, ("$name", (object?)name ?? DBNull.Value));
        using var reader = command.ExecuteReader();
        var result = new List<HouseCollection>();
        while (reader.Read())
        {
            result.Add(new HouseCollection
            {
                Name = reader.GetString(0), ModelId = reader.GetString(1), Dimension = reader.GetInt32(2),
                Count = reader.GetInt64(3), Backend = Backend, Location = _file, Metric = "L2, L1",
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
        EnsureCollection(modelId, dimension);
        // Insert, or update the row that is there: only new rows count.
        using var insert = Command("""
            INSERT INTO vectors (collection, id, path, sha256, width, height, added_utc, vector)
            VALUES ($c, $id, $path, $sha, $w, $h, $added, $vector) ON CONFLICT (collection, id) DO NOTHING
            """, RecordParameters);
        using var update = Command("""
            UPDATE vectors SET path = $path, sha256 = $sha, width = $w, height = $h, added_utc = $added, vector = $vector
            WHERE collection = $c AND id = $id
            """, RecordParameters);
        string added = DateTime.UtcNow.ToString("O");
        long inserted = 0;
        foreach (var record in records)
        {
            cancellationToken.ThrowIfCancellationRequested();
            byte[] vector = MemoryMarshal.AsBytes(record.Vector.AsSpan()).ToArray();
            if (Bind(insert, record, added, vector).ExecuteNonQuery() == 1)
            {
                inserted++;
                continue;
            }
            Bind(update, record, added, vector).ExecuteNonQuery();
        }
        using var count = Command("UPDATE collections SET row_count = row_count + $n WHERE name = $c", ("$c", Collection), ("$n", inserted));
        count.ExecuteNonQuery();
        BumpGeneration();
        transaction.Commit();
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

    private void EnsureCollection(string modelId, int dimension)
    {
        using var read = Command("SELECT model_id, dimension FROM collections WHERE name = $c", ("$c", Collection));
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
                return;
            }
        }
        using var create = Command(
            "INSERT INTO collections (name, model_id, dimension, created_utc) VALUES ($c, $m, $d, $t)",
            ("$c", Collection), ("$m", modelId), ("$d", dimension), ("$t", DateTime.UtcNow.ToString("O")));
        create.ExecuteNonQuery();
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

    /// <summary>One exact pass over the vectors for all queries together (blocks of rows shared by every query).</summary>
    public Task<IReadOnlyList<IReadOnlyList<Neighbour>>> SearchManyAsync(IReadOnlyList<float[]> queries, int k,
        SearchOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        Snapshot snapshot = Run("search", LoadSnapshot);
        foreach (var query in queries)
        {
            if (snapshot.Ids.Length > 0 && query.Length != snapshot.Dimension)
            {
                throw new ArgumentException($"The query has {query.Length} dimensions; the collection has {snapshot.Dimension}.");
            }
        }
        var nearest = snapshot.Nearest(queries, k, options, cancellationToken);
        var result = new IReadOnlyList<Neighbour>[queries.Count];
        for (int q = 0; q < queries.Count; q++)
        {
            result[q] = nearest[q].Select(n => new Neighbour(snapshot.Ids[n.Index], n.Distance)).ToList();
        }
        return Task.FromResult<IReadOnlyList<IReadOnlyList<Neighbour>>>(result);
    }

    private Snapshot LoadSnapshot()
    {
        var key = (_file, Collection);
        Snapshots.TryGetValue(key, out var cached);
        // One read transaction: the token and the rows it stands for are read from the same state of the file, so a
        // writer that removes rows meanwhile never leaves a snapshot labelled with a token it does not match.
        using var transaction = _connection.BeginTransaction(deferred: true);
        using var read = Command("SELECT generation, dimension FROM collections WHERE name = $c", ("$c", Collection));
        long generation;
        int dimension;
        using (var reader = read.ExecuteReader())
        {
            if (!reader.Read())
            {
                return Snapshot.Empty;
            }
            generation = reader.GetInt64(0);
            dimension = reader.GetInt32(1);
        }
        if (cached is not null && cached.Generation == generation && cached.Dimension == dimension)
        {
            return cached;
        }
        var snapshot = ReadSnapshot(generation, dimension);
        Snapshots[key] = snapshot;
        return snapshot;
    }

    private Snapshot ReadSnapshot(long generation, int dimension)
    {
        using var count = Command("SELECT count(*) FROM vectors WHERE collection = $c", ("$c", Collection));
        int n = Convert.ToInt32(count.ExecuteScalar());
        var ids = new string[n];
        var matrix = new float[(long)n * dimension];
        using var read = Command("SELECT id, vector FROM vectors WHERE collection = $c ORDER BY id", ("$c", Collection));
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
        return new Snapshot(generation, dimension, ids, matrix);
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
            using var delete = Command("DELETE FROM vectors WHERE collection = $c AND id = $id", ("$c", Collection), ("$id", id));
            bool removed = delete.ExecuteNonQuery() > 0;
            if (removed)
            {
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
            using var collection = Command("DELETE FROM collections WHERE name = $c", ("$c", Collection));
            bool dropped = collection.ExecuteNonQuery() > 0;
            transaction.Commit();
            Snapshots.TryRemove((_file, Collection), out _);
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

    /// <summary>The vectors of one collection generation, rows in Id order.</summary>
    private sealed record Snapshot(long Generation, int Dimension, string[] Ids, float[] Matrix)
    {
        public static Snapshot Empty { get; } = new(-1, 0, [], []);

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
