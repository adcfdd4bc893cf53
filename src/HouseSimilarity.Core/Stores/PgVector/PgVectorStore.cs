using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Npgsql;
using NpgsqlTypes;
using Pgvector;
using Pgvector.Npgsql;

namespace HouseSimilarity.Stores.PgVector;

/// <summary>Settings of a PostgreSQL + pgvector (or AlloyDB) store.</summary>
public class PgVectorOptions
{
    /// <summary>An Npgsql connection string (Host, Port, Database, Username, ...).</summary>
    public string ConnectionString { get; set; } = "";

    /// <summary>User and password; they replace those of the connection string. The password is never shown.</summary>
    public NetworkCredential? Credential { get; set; }

    /// <summary>The index a new collection gets; an existing collection keeps the one it was created with.</summary>
    public VectorIndexType IndexType { get; set; } = VectorIndexType.Hnsw;

    /// <summary>The metric a new collection is indexed for (L2: <c>vector_l2_ops</c>, L1: <c>vector_l1_ops</c>).
    /// Searches in the other metric still work, as exact scans.</summary>
    public DistanceMetric Metric { get; set; } = DistanceMetric.L2;

    /// <summary>HNSW <c>m</c> (2..100, pgvector default 16).</summary>
    public int HnswM { get; set; } = 16;

    /// <summary>HNSW <c>ef_construction</c> (4..1000, pgvector default 64).</summary>
    public int HnswEfConstruction { get; set; } = 64;

    /// <summary>HNSW <c>hnsw.ef_search</c> per query; null: max(100, top). Never below top, at most 1000.</summary>
    public int? EfSearch { get; set; }

    /// <summary>
    /// Do not create the HNSW index of a new collection with its table: <see cref="PgVectorStore.BuildIndexAsync"/>
    /// builds it after the bulk load (several times faster than inserting into the graph row by row). Until then
    /// searches are exact scans.
    /// </summary>
    public bool DeferIndex { get; set; }

    /// <summary>How often an operation is tried again, on a fresh connection, after a transient failure.</summary>
    public int TransientRetries { get; set; } = 1;

    /// <summary>The pause before such a retry.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// PostgreSQL + pgvector: one table <c>hs_&lt;collection&gt;</c> per collection plus the metadata table
/// <c>hs_collections</c>. Upserts are binary COPY into a staging table, then one INSERT ... ON CONFLICT, in one
/// transaction per call. Distances are pgvector's true Euclidean L2 (<c>&lt;-&gt;</c>) or L1 (<c>&lt;+&gt;</c>).
/// </summary>
public class PgVectorStore : IHouseStore
{
    /// <summary>The metadata table; collection tables never get this name (see <see cref="TableName"/>).</summary>
    public const string MetadataTable = "hs_collections";

    /// <summary>The "not a duplicate" decisions of every collection; no collection table can have this name (one '#').</summary>
    public const string ExclusionsTable = "\"hs#exclusions\"";

    /// <summary>hnsw.ef_search and the largest top served by an ANN index; larger tops are searched exactly.</summary>
    public const int MaxEfSearch = 1000;

    private static readonly ConcurrentDictionary<string, Lazy<Source>> Sources = new();

    private readonly Source _source;
    private readonly string _password;

    protected PgVectorOptions Options { get; }
    protected string Table { get; }

    public virtual string Backend => PgVectorStoreProvider.BackendName;

    /// <summary>The indexes this store builds; a subclass that builds more adds them.</summary>
    protected virtual IReadOnlyList<VectorIndexType> IndexTypes => PgVectorStoreProvider.Indexes;
    public string Location { get; }
    public string Collection { get; }

    /// <summary>host:port of the server, for messages.</summary>
    public string Endpoint { get; }
    public string Database { get; }
    public string UserName { get; }

    public StoreCapabilities Capabilities { get; } = new()
    {
        Metrics = [DistanceMetric.L2, DistanceMetric.L1], AtomicBatches = true, ExactSearch = true,
    };

    /// <summary>Opens nothing yet: the first operation connects and creates what is missing.</summary>
    public PgVectorStore(PgVectorOptions options, string collection = CollectionName.Default)
    {
        ArgumentNullException.ThrowIfNull(options);
        Collection = CollectionName.Validate(collection);
        Table = TableName(Collection);
        Options = options;
        if (!IndexTypes.Contains(options.IndexType))
        {
            throw new ArgumentException(
                $"The {Backend} store has no {options.IndexType} index: use {string.Join(" or ", IndexTypes)}.", nameof(options));
        }
        if (options.HnswM is < 2 or > 100)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.HnswM, "HNSW m must be between 2 and 100.");
        }
        if (options.HnswEfConstruction < Math.Max(4, 2 * options.HnswM) || options.HnswEfConstruction > 1000)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.HnswEfConstruction,
                "HNSW ef_construction must be between 4 and 1000, and at least twice m.");
        }
        if (options.EfSearch is < 1 or > MaxEfSearch)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.EfSearch, "hnsw.ef_search must be between 1 and 1000.");
        }

        var connection = ParseConnection(options);
        _password = connection.Builder.Password ?? "";
        (Endpoint, Database, UserName, Location) = (connection.Endpoint, connection.Database, connection.UserName, connection.Location);
        string key = connection.Builder.ConnectionString;
        _source = Sources.GetOrAdd(key, k => new Lazy<Source>(() => new Source(k))).Value;
    }

    /// <summary>A parsed connection: the Npgsql settings (credential applied) and how the server is named in messages.</summary>
    public sealed record Connection(NpgsqlConnectionStringBuilder Builder, string Endpoint, string Database, string UserName)
    {
        public string Location => $"postgresql://{UserName}@{Endpoint}/{Database}";
    }

    /// <summary>Parses the options' connection string; throws ArgumentException (without secrets) when it is not valid.</summary>
    public static Connection ParseConnection(PgVectorOptions options)
    {
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            throw new ArgumentException($"The PostgreSQL connection string is not valid: {e.Message}", nameof(options));
        }
        if (options.Credential is { } credential)
        {
            if (!string.IsNullOrEmpty(credential.UserName))
            {
                builder.Username = credential.UserName;
            }
            builder.Password = credential.Password;
        }
        if (string.IsNullOrEmpty(builder.Host))
        {
            throw new ArgumentException("The PostgreSQL connection string names no Host.", nameof(options));
        }
        builder.ApplicationName ??= "HouseSimilarity";
        return new Connection(builder, builder.Host.Contains(',') ? builder.Host : $"{builder.Host}:{builder.Port}",
            builder.Database ?? builder.Username ?? "postgres", builder.Username ?? Environment.UserName);
    }

    // ---------------------------------------------------------------------------------------------------------
    // SQL, as small pure functions (tests assert them).

    /// <summary>A double-quoted SQL identifier.</summary>
    public static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"") + "\"";

    /// <summary>
    /// The table of a collection: <c>hs_&lt;name&gt;</c>. Names that would not fit PostgreSQL's 63-byte identifiers
    /// (with room for the index suffix), or that would be the metadata table, get <c>hs#&lt;prefix&gt;#&lt;hash&gt;</c>,
    /// which no valid collection name can produce.
    /// </summary>
    public static string TableName(string collection)
    {
        CollectionName.Validate(collection);
        string direct = "hs_" + collection;
        if (direct.Length <= 59 && direct != MetadataTable)
        {
            return direct;
        }
        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(collection)))[..8];
        return $"hs#{collection[..Math.Min(collection.Length, 47)]}#{hash}";
    }

    /// <summary>The ANN index of a collection table.</summary>
    public static string IndexName(string table) => table + "_ann";

    public static string CreateTableSql(string table, int dimension) => $"""
        CREATE TABLE {Quote(table)} (
            id text COLLATE "C" PRIMARY KEY, path text NOT NULL, sha256 text NOT NULL,
            width integer NOT NULL, height integer NOT NULL, added_utc timestamptz NOT NULL,
            embedding vector({dimension}) NOT NULL)
        """;

    public static string OperatorClass(DistanceMetric metric) =>
        metric == DistanceMetric.L1 ? "vector_l1_ops" : "vector_l2_ops";

    public static string DistanceOperator(DistanceMetric metric) => metric == DistanceMetric.L1 ? "<+>" : "<->";

    public static string CreateHnswIndexSql(string table, DistanceMetric metric, int m, int efConstruction) =>
        $"CREATE INDEX IF NOT EXISTS {Quote(IndexName(table))} ON {Quote(table)} USING hnsw (embedding {OperatorClass(metric)}) " +
        $"WITH (m = {m}, ef_construction = {efConstruction})";

    /// <summary>
    /// The k nearest rows of each query vector (@q, a vector[]), as (query ordinal, id, distance) in query order, nearest
    /// first. One LATERAL subquery per query, so an index serves each of them. Exact: ORDER BY with the Id tie-break and
    /// the distance bound (@max) inside (a full scan). ANN: the index's k nearest, then the bound and the tie-break
    /// outside, so that the index is used.
    /// </summary>
    public static string SearchSql(string table, DistanceMetric metric, bool exact, bool bounded)
    {
        string op = DistanceOperator(metric);
        string inner = exact
            ? $"SELECT id, embedding {op} q.v AS distance FROM {Quote(table)}" +
              (bounded ? $" WHERE embedding {op} q.v <= @max" : "") + $" ORDER BY embedding {op} q.v, id LIMIT @k"
            : $"SELECT id, embedding {op} q.v AS distance FROM {Quote(table)} ORDER BY embedding {op} q.v LIMIT @k";
        return $"SELECT q.ord, n.id, n.distance FROM unnest(@q) WITH ORDINALITY AS q(v, ord) CROSS JOIN LATERAL ({inner}) n" +
               (bounded && !exact ? " WHERE n.distance <= @max" : "") + " ORDER BY q.ord, n.distance, n.id";
    }

    /// <summary>A SET LOCAL of a planner or index setting; only fixed names and integer/on/off values reach it.</summary>
    public static string SetLocalSql(string name, string value)
    {
        if (!System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z_]+(\\.[a-z_]+)?$") ||
            !System.Text.RegularExpressions.Regex.IsMatch(value, "^([0-9]+|on|off)$"))
        {
            throw new ArgumentException($"Not a setting this store makes: {name} = {value}");
        }
        return $"SET LOCAL {name} = {value}";
    }

    /// <summary>
    /// hnsw.ef_search when none is set. pgvector's own default is 40; measured on 10k clustered 128-d unit vectors with
    /// 1000 small clusters (m 16, ef_construction 64), recall@10 is 0.92 at 40 and 0.98 at 100 for about 1 ms more.
    /// </summary>
    public const int DefaultEfSearch = 100;

    /// <summary>The hnsw.ef_search a query for <paramref name="top"/> rows uses: the option or 100, never below top, at most 1000.</summary>
    public static int EfSearchFor(int top, int? efSearch) => Math.Min(MaxEfSearch, Math.Max(efSearch ?? DefaultEfSearch, top));

    // index_state: what an index hook (AlloyDB's ScaNN) keeps about its index, as JSON.
    private const string CreateMetadataSql = $"""
        CREATE TABLE IF NOT EXISTS {MetadataTable} (
            name text COLLATE "C" PRIMARY KEY, model_id text NOT NULL, dimension integer NOT NULL,
            index_kind text NOT NULL, metric text NOT NULL, created_utc timestamptz NOT NULL DEFAULT now(),
            hnsw_m integer, hnsw_ef_construction integer, index_state text);
        ALTER TABLE {MetadataTable} ADD COLUMN IF NOT EXISTS index_state text;
        CREATE TABLE IF NOT EXISTS {ExclusionsTable} (
            collection text COLLATE "C" NOT NULL, sha_a text NOT NULL, sha_b text NOT NULL, path_a text NOT NULL,
            path_b text NOT NULL, added_utc timestamptz NOT NULL, PRIMARY KEY (collection, sha_a, sha_b));
        """;

    private const string SelectInfoSql =
        "SELECT model_id, dimension, index_kind, metric, index_state, hnsw_m, hnsw_ef_construction " +
        $"FROM {MetadataTable} WHERE name = @n";

    /// <summary>Saves an index hook's state in the collection's metadata row.</summary>
    protected async Task SaveIndexStateAsync(NpgsqlConnection connection, string? state, CancellationToken ct)
    {
        await using var update = new NpgsqlCommand($"UPDATE {MetadataTable} SET index_state = @s WHERE name = @n", connection);
        update.Parameters.AddWithValue("s", NpgsqlDbType.Text, (object?)state ?? DBNull.Value);
        update.Parameters.AddWithValue("n", NpgsqlDbType.Text, Collection);
        await update.ExecuteNonQueryAsync(ct);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Collections

    public Task<HouseCollection?> GetCollectionAsync(CancellationToken cancellationToken = default) =>
        RunAsync("read", async (connection, ct) =>
            (await ReadCollectionsAsync(connection, Collection, ct)).FirstOrDefault(), cancellationToken);

    public Task<IReadOnlyList<HouseCollection>> ListCollectionsAsync(CancellationToken cancellationToken = default) =>
        RunAsync<IReadOnlyList<HouseCollection>>("list the collections of", async (connection, ct) =>
            await ReadCollectionsAsync(connection, null, ct), cancellationToken);

    private async Task<List<HouseCollection>> ReadCollectionsAsync(NpgsqlConnection connection, string? name, CancellationToken ct)
    {
        var result = new List<HouseCollection>();
        await using (var command = new NpgsqlCommand(
            $"SELECT name, model_id, dimension, index_kind, metric FROM {MetadataTable} WHERE @n::text IS NULL OR name = @n ORDER BY name", connection))
        {
            command.Parameters.Add(new NpgsqlParameter("n", NpgsqlDbType.Text) { Value = (object?)name ?? DBNull.Value });
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                result.Add(new HouseCollection
                {
                    Name = reader.GetString(0), ModelId = reader.GetString(1), Dimension = reader.GetInt32(2),
                    Backend = Backend, Location = Location,
                    IndexType = Enum.Parse<VectorIndexType>(reader.GetString(3), ignoreCase: true).ToString(),
                    // Without an index every search is an exact scan, in either metric.
                    Metric = Enum.Parse<VectorIndexType>(reader.GetString(3), ignoreCase: true) == VectorIndexType.Exact
                        ? string.Join(", ", Capabilities.Metrics)
                        : Enum.Parse<DistanceMetric>(reader.GetString(4), ignoreCase: true).ToString(),
                });
            }
        }
        foreach (var collection in result.ToList())
        {
            await using var count = new NpgsqlCommand(
                $"SELECT count(*) FROM {Quote(TableName(collection.Name))}", connection);
            try
            {
                collection.Count = Convert.ToInt64(await count.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
            {
                // Dropped by another client since its metadata row was read.
                result.Remove(collection);
            }
        }
        return result;
    }

    /// <summary>A collection's metadata row. <paramref name="IndexState"/> is what an index hook keeps about its index (JSON).</summary>
    protected sealed record CollectionInfo(
        string ModelId, int Dimension, VectorIndexType IndexType, DistanceMetric Metric, string? IndexState,
        int? HnswM, int? HnswEfConstruction);

    protected async Task<CollectionInfo?> ReadInfoAsync(NpgsqlConnection connection, CancellationToken ct, string suffix = "")
    {
        await using var command = new NpgsqlCommand(SelectInfoSql + suffix, connection);
        command.Parameters.AddWithValue("n", NpgsqlDbType.Text, Collection);
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }
        return new CollectionInfo(
            reader.GetString(0), reader.GetInt32(1), Enum.Parse<VectorIndexType>(reader.GetString(2), ignoreCase: true),
            Enum.Parse<DistanceMetric>(reader.GetString(3), ignoreCase: true),
            reader.IsDBNull(4) ? null : reader.GetString(4),
            reader.IsDBNull(5) ? null : reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetInt32(6));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Upsert

    /// <summary>Binary COPY into a staging table, then one INSERT ... ON CONFLICT: all or nothing per call.</summary>
    public Task UpsertAsync(IReadOnlyList<HouseEmbedding> records, CancellationToken cancellationToken = default) =>
        UpsertCoreAsync(records, bulk: true, cancellationToken);

    /// <summary>The same upsert as one INSERT per row (one transaction too); kept to benchmark against the COPY path.</summary>
    public Task UpsertRowByRowAsync(IReadOnlyList<HouseEmbedding> records, CancellationToken cancellationToken = default) =>
        UpsertCoreAsync(records, bulk: false, cancellationToken);

    private async Task UpsertCoreAsync(IReadOnlyList<HouseEmbedding> records, bool bulk, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0)
        {
            return;
        }
        var (modelId, dimension) = HouseStoreExtensions.CheckBatch(records);
        await RunAsync("store records in", async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await EnsureCollectionAsync(connection, modelId, dimension, ct);
            var added = DateTime.UtcNow;
            if (bulk)
            {
                await CopyUpsertAsync(connection, records, added, ct);
            }
            else
            {
                await RowByRowUpsertAsync(connection, records, added, ct);
            }
            await transaction.CommitAsync(ct);
            return true;
        }, cancellationToken, records.Count);
        await AfterUpsertAsync(cancellationToken);
    }

    /// <summary>Called after each committed upsert (AlloyDB builds a deferred index here once the table is big enough).</summary>
    protected virtual Task AfterUpsertAsync(CancellationToken ct) => Task.CompletedTask;

    /// <summary>Creates the metadata row, table and (non-deferred) index when new; checks the model id otherwise.</summary>
    private async Task EnsureCollectionAsync(NpgsqlConnection connection, string modelId, int dimension, CancellationToken ct)
    {
        bool created;
        await using (var insert = new NpgsqlCommand($"""
            INSERT INTO {MetadataTable} (name, model_id, dimension, index_kind, metric, hnsw_m, hnsw_ef_construction)
            VALUES (@n, @m, @d, @k, @metric, @hm, @hef) ON CONFLICT (name) DO NOTHING
            """, connection))
        {
            bool hnsw = Options.IndexType == VectorIndexType.Hnsw;
            insert.Parameters.AddWithValue("n", NpgsqlDbType.Text, Collection);
            insert.Parameters.AddWithValue("m", NpgsqlDbType.Text, modelId);
            insert.Parameters.AddWithValue("d", NpgsqlDbType.Integer, dimension);
            insert.Parameters.AddWithValue("k", NpgsqlDbType.Text, Options.IndexType.ToString());
            insert.Parameters.AddWithValue("metric", NpgsqlDbType.Text, Options.Metric.ToString());
            insert.Parameters.AddWithValue("hm", NpgsqlDbType.Integer, hnsw ? Options.HnswM : DBNull.Value);
            insert.Parameters.AddWithValue("hef", NpgsqlDbType.Integer, hnsw ? Options.HnswEfConstruction : DBNull.Value);
            created = await insert.ExecuteNonQueryAsync(ct) == 1;
        }
        if (created)
        {
            await ExecuteAsync(connection, CreateTableSql(Table, dimension), ct);
            if (Options.IndexType == VectorIndexType.Hnsw && !Options.DeferIndex)
            {
                await ExecuteAsync(connection, CreateHnswIndexSql(Table, Options.Metric, Options.HnswM, Options.HnswEfConstruction), ct);
            }
            return;
        }
        // FOR SHARE: a concurrent drop waits until this batch is committed.
        var info = await ReadInfoAsync(connection, ct, " FOR SHARE")
            ?? throw new InvalidOperationException($"Collection '{Collection}' vanished while being written.");
        if (info.ModelId != modelId)
        {
            throw new ModelMismatchException(Collection, info.ModelId, modelId);
        }
        if (info.Dimension != dimension)
        {
            throw new ArgumentException($"The records have {dimension} dimensions; the collection has {info.Dimension}.");
        }
    }

    private async Task CopyUpsertAsync(NpgsqlConnection connection, IReadOnlyList<HouseEmbedding> records, DateTime added,
        CancellationToken ct)
    {
        await ExecuteAsync(connection, """
            CREATE TEMP TABLE hs_stage (ord integer NOT NULL, id text COLLATE "C" NOT NULL, path text NOT NULL,
                sha256 text NOT NULL, width integer NOT NULL, height integer NOT NULL, embedding vector NOT NULL)
                ON COMMIT DROP
            """, ct);
        await using (var writer = await connection.BeginBinaryImportAsync(
            "COPY hs_stage (ord, id, path, sha256, width, height, embedding) FROM STDIN (FORMAT BINARY)", ct))
        {
            for (int i = 0; i < records.Count; i++)
            {
                var record = records[i];
                await writer.StartRowAsync(ct);
                await writer.WriteAsync(i, NpgsqlDbType.Integer, ct);
                await writer.WriteAsync(record.Id, NpgsqlDbType.Text, ct);
                await writer.WriteAsync(record.Path, NpgsqlDbType.Text, ct);
                await writer.WriteAsync(record.Sha256, NpgsqlDbType.Text, ct);
                await writer.WriteAsync(record.Width, NpgsqlDbType.Integer, ct);
                await writer.WriteAsync(record.Height, NpgsqlDbType.Integer, ct);
                await writer.WriteAsync(new Vector(record.Vector), "vector", ct);
            }
            await writer.CompleteAsync(ct);
        }
        // DISTINCT ON: a batch that names one Id twice keeps its last record, as LocalStore does.
        await using var upsert = new NpgsqlCommand($"""
            INSERT INTO {Quote(Table)} (id, path, sha256, width, height, added_utc, embedding)
            SELECT DISTINCT ON (id) id, path, sha256, width, height, @added, embedding FROM hs_stage ORDER BY id, ord DESC
            {OnConflictSql}
            """, connection);
        upsert.Parameters.AddWithValue("added", NpgsqlDbType.TimestampTz, added);
        await upsert.ExecuteNonQueryAsync(ct);
    }

    private const string OnConflictSql = """
        ON CONFLICT (id) DO UPDATE SET path = excluded.path, sha256 = excluded.sha256, width = excluded.width,
            height = excluded.height, added_utc = excluded.added_utc, embedding = excluded.embedding
        """;

    private async Task RowByRowUpsertAsync(NpgsqlConnection connection, IReadOnlyList<HouseEmbedding> records, DateTime added,
        CancellationToken ct)
    {
        await using var upsert = new NpgsqlCommand($"""
            INSERT INTO {Quote(Table)} (id, path, sha256, width, height, added_utc, embedding)
            VALUES (@id, @path, @sha, @w, @h, @added, @v)
            {OnConflictSql}
            """, connection);
        var id = upsert.Parameters.Add("id", NpgsqlDbType.Text);
        var path = upsert.Parameters.Add("path", NpgsqlDbType.Text);
        var sha = upsert.Parameters.Add("sha", NpgsqlDbType.Text);
        var width = upsert.Parameters.Add("w", NpgsqlDbType.Integer);
        var height = upsert.Parameters.Add("h", NpgsqlDbType.Integer);
        upsert.Parameters.AddWithValue("added", NpgsqlDbType.TimestampTz, added);
        var vector = upsert.Parameters.Add(new NpgsqlParameter { ParameterName = "v", DataTypeName = "vector" });
        await upsert.PrepareAsync(ct);
        foreach (var record in records)
        {
            ct.ThrowIfCancellationRequested();
            id.Value = record.Id;
            path.Value = record.Path;
            sha.Value = record.Sha256;
            width.Value = record.Width;
            height.Value = record.Height;
            vector.Value = new Vector(record.Vector);
            await upsert.ExecuteNonQueryAsync(ct);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Search

    public async Task<IReadOnlyList<Neighbour>> SearchAsync(float[] query, int k, SearchOptions options,
        CancellationToken cancellationToken = default) =>
        (await SearchManyAsync([query], k, options, cancellationToken))[0];

    /// <summary>All queries in one statement (a LATERAL join), in one round trip.</summary>
    public Task<IReadOnlyList<IReadOnlyList<Neighbour>>> SearchManyAsync(IReadOnlyList<float[]> queries, int k,
        SearchOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queries);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        return RunAsync<IReadOnlyList<IReadOnlyList<Neighbour>>>("search", async (connection, ct) =>
        {
            var result = new List<Neighbour>[queries.Count];
            for (int i = 0; i < result.Length; i++)
            {
                result[i] = [];
            }
            var info = await ReadInfoAsync(connection, ct);
            if (info is null || queries.Count == 0)
            {
                return result;
            }
            foreach (var query in queries)
            {
                if (query.Length != info.Dimension)
                {
                    throw new ArgumentException($"The query has {query.Length} dimensions; the collection has {info.Dimension}.");
                }
            }
            bool exact = options.Exact || k > MaxEfSearch || options.Metric != info.Metric || !HasUsableIndex(info);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            foreach (var (name, value) in SearchSettings(info, k, exact))
            {
                await SetLocalAsync(connection, name, value, ct);
            }
            await using (var command = new NpgsqlCommand(SearchSql(Table, options.Metric, exact, options.MaxDistance is not null), connection))
            {
                command.Parameters.Add(new NpgsqlParameter
                {
                    ParameterName = "q", DataTypeName = "vector[]", Value = queries.Select(q => new Vector(q)).ToArray(),
                });
                command.Parameters.AddWithValue("k", NpgsqlDbType.Integer, k);
                if (options.MaxDistance is double max)
                {
                    command.Parameters.AddWithValue("max", NpgsqlDbType.Double, max);
                }
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                {
                    result[reader.GetInt64(0) - 1].Add(new Neighbour(reader.GetString(1), reader.GetDouble(2)));
                }
            }
            await transaction.CommitAsync(ct);
            return result;
        }, cancellationToken);
    }

    /// <summary>Whether the collection has an index its searches can use.</summary>
    protected virtual bool HasUsableIndex(CollectionInfo info) => info.IndexType == VectorIndexType.Hnsw;

    /// <summary>The SET LOCAL settings of one search.</summary>
    protected virtual IEnumerable<(string Name, string Value)> SearchSettings(CollectionInfo info, int top, bool exact)
    {
        if (exact)
        {
            // Also for collections without an index: nothing else may answer the ORDER BY.
            yield return ("enable_indexscan", "off");
        }
        else
        {
            yield return ("hnsw.ef_search", EfSearchFor(top, Options.EfSearch).ToString(CultureInfo.InvariantCulture));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Get, read, remove, drop

    public Task<IReadOnlyList<HouseRecord>> GetManyAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return RunAsync<IReadOnlyList<HouseRecord>>("read", async (connection, ct) =>
        {
            var records = new List<HouseRecord>(ids.Count);
            var info = await ReadInfoAsync(connection, ct);
            if (info is null || ids.Count == 0)
            {
                return records;
            }
            await using var command = new NpgsqlCommand(SelectRecordSql + " WHERE id = ANY(@ids)", connection);
            command.Parameters.AddWithValue("ids", NpgsqlDbType.Array | NpgsqlDbType.Text, ids.ToArray());
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                records.Add(ReadRecord(reader, info.ModelId));
            }
            return records;
        }, cancellationToken);
    }

    public async IAsyncEnumerable<HouseRecord> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (connection, info) = await RunAsync("read", async (c, ct) => (c, await ReadInfoAsync(c, ct)), cancellationToken,
            keepOpen: true);
        await using (connection)
        {
            if (info is null)
            {
                yield break;
            }
            await using var command = new NpgsqlCommand(SelectRecordSql + " ORDER BY id", connection);
            NpgsqlDataReader reader;
            try
            {
                reader = await command.ExecuteReaderAsync(cancellationToken);
            }
            catch (NpgsqlException e)
            {
                throw Translate(e, "read", opened: true, batch: null);
            }
            await using (reader)
            {
                while (true)
                {
                    HouseRecord record;
                    try
                    {
                        if (!await reader.ReadAsync(cancellationToken))
                        {
                            break;
                        }
                        record = ReadRecord(reader, info.ModelId);
                    }
                    catch (NpgsqlException e)
                    {
                        throw Translate(e, "read", opened: true, batch: null);
                    }
                    yield return record;
                }
            }
        }
    }

    private string SelectRecordSql =>
        $"SELECT id, path, sha256, width, height, added_utc, embedding FROM {Quote(Table)}";

    private HouseRecord ReadRecord(NpgsqlDataReader reader, string modelId) => new()
    {
        Id = reader.GetString(0), Path = reader.GetString(1), Sha256 = reader.GetString(2),
        Width = reader.GetInt32(3), Height = reader.GetInt32(4),
        AddedUtc = DateTime.SpecifyKind(reader.GetFieldValue<DateTime>(5), DateTimeKind.Utc),
        Vector = reader.GetFieldValue<Vector>(6).ToArray(), ModelId = modelId, Collection = Collection,
    };

    public Task<bool> RemoveAsync(string id, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(id);
        return RunAsync("remove a record from", async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            if (await ReadInfoAsync(connection, ct, " FOR SHARE") is null)
            {
                return false;
            }
            await using var delete = new NpgsqlCommand($"DELETE FROM {Quote(Table)} WHERE id = @id", connection);
            delete.Parameters.AddWithValue("id", NpgsqlDbType.Text, id);
            bool removed = await delete.ExecuteNonQueryAsync(ct) > 0;
            await transaction.CommitAsync(ct);
            return removed;
        }, cancellationToken);
    }

    public Task<IReadOnlyList<HouseDuplicateExclusion>> ReadExclusionsAsync(CancellationToken cancellationToken = default) =>
        RunAsync<IReadOnlyList<HouseDuplicateExclusion>>("read the decisions of", async (connection, ct) =>
        {
            await using var command = new NpgsqlCommand(
                $"SELECT sha_a, sha_b, path_a, path_b, added_utc FROM {ExclusionsTable} WHERE collection = @n ORDER BY sha_a, sha_b",
                connection);
            command.Parameters.AddWithValue("n", NpgsqlDbType.Text, Collection);
            await using var reader = await command.ExecuteReaderAsync(ct);
            var result = new List<HouseDuplicateExclusion>();
            while (await reader.ReadAsync(ct))
            {
                result.Add(new HouseDuplicateExclusion(reader.GetString(0), reader.GetString(1))
                {
                    PathA = reader.GetString(2), PathB = reader.GetString(3), Collection = Collection,
                    AddedUtc = DateTime.SpecifyKind(reader.GetDateTime(4), DateTimeKind.Utc),
                });
            }
            return result;
        }, cancellationToken);

    public Task AddExclusionsAsync(IReadOnlyList<HouseDuplicateExclusion> exclusions, CancellationToken cancellationToken = default) =>
        RunAsync("store decisions in", async (connection, ct) =>
        {
            // One statement for the batch; a pair named twice keeps its last decision.
            var last = exclusions.GroupBy(e => (e.Sha256A, e.Sha256B)).Select(g => g.Last()).ToList();
            await using var insert = new NpgsqlCommand($"""
                INSERT INTO {ExclusionsTable} (collection, sha_a, sha_b, path_a, path_b, added_utc)
                SELECT @n, * FROM unnest(@a, @b, @pa, @pb, @t)
                ON CONFLICT (collection, sha_a, sha_b) DO UPDATE SET path_a = excluded.path_a, path_b = excluded.path_b,
                    added_utc = excluded.added_utc
                """, connection);
            insert.Parameters.AddWithValue("n", NpgsqlDbType.Text, Collection);
            insert.Parameters.AddWithValue("a", NpgsqlDbType.Array | NpgsqlDbType.Text, last.Select(e => e.Sha256A).ToArray());
            insert.Parameters.AddWithValue("b", NpgsqlDbType.Array | NpgsqlDbType.Text, last.Select(e => e.Sha256B).ToArray());
            insert.Parameters.AddWithValue("pa", NpgsqlDbType.Array | NpgsqlDbType.Text, last.Select(e => e.PathA).ToArray());
            insert.Parameters.AddWithValue("pb", NpgsqlDbType.Array | NpgsqlDbType.Text, last.Select(e => e.PathB).ToArray());
            insert.Parameters.AddWithValue("t", NpgsqlDbType.Array | NpgsqlDbType.TimestampTz,
                last.Select(e => e.AddedUtc.ToUniversalTime()).ToArray());
            await insert.ExecuteNonQueryAsync(ct);
            return true;
        }, cancellationToken);

    public Task<int> RemoveExclusionsAsync(IReadOnlyList<(string Sha256A, string Sha256B)> pairs, CancellationToken cancellationToken = default) =>
        RunAsync("remove decisions from", async (connection, ct) =>
        {
            await using var delete = new NpgsqlCommand(
                $"DELETE FROM {ExclusionsTable} e USING unnest(@a, @b) AS p(a, b) " +
                "WHERE e.collection = @n AND e.sha_a = p.a AND e.sha_b = p.b", connection);
            delete.Parameters.AddWithValue("n", NpgsqlDbType.Text, Collection);
            delete.Parameters.AddWithValue("a", NpgsqlDbType.Array | NpgsqlDbType.Text, pairs.Select(p => p.Sha256A).ToArray());
            delete.Parameters.AddWithValue("b", NpgsqlDbType.Array | NpgsqlDbType.Text, pairs.Select(p => p.Sha256B).ToArray());
            return await delete.ExecuteNonQueryAsync(ct);
        }, cancellationToken);

    public Task<bool> DropCollectionAsync(CancellationToken cancellationToken = default) =>
        RunAsync("drop", async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await using var delete = new NpgsqlCommand($"DELETE FROM {MetadataTable} WHERE name = @n", connection);
            delete.Parameters.AddWithValue("n", NpgsqlDbType.Text, Collection);
            bool dropped = await delete.ExecuteNonQueryAsync(ct) > 0;
            await using var exclusions = new NpgsqlCommand($"DELETE FROM {ExclusionsTable} WHERE collection = @n", connection);
            exclusions.Parameters.AddWithValue("n", NpgsqlDbType.Text, Collection);
            await exclusions.ExecuteNonQueryAsync(ct);
            await ExecuteAsync(connection, $"DROP TABLE IF EXISTS {Quote(Table)}", ct);
            await transaction.CommitAsync(ct);
            return dropped;
        }, cancellationToken);

    /// <summary>
    /// Builds an index that waits for the bulk load (HNSW with <see cref="PgVectorOptions.DeferIndex"/>, AlloyDB ScaNN)
    /// when it is missing (ScaNN: or stale); true when it built one. Cheap when there is nothing to do: call it at the
    /// end of every ingest.
    /// </summary>
    public virtual Task<bool> FinishIngestAsync(CancellationToken cancellationToken = default) =>
        RunAsync("index", async (connection, ct) =>
        {
            await using var transaction = await connection.BeginTransactionAsync(ct);
            var info = await ReadInfoAsync(connection, ct, " FOR UPDATE");
            if (info is not { IndexType: VectorIndexType.Hnsw } || await IndexExistsAsync(connection, ct))
            {
                return false;
            }
            await ExecuteAsync(connection, CreateHnswIndexSql(Table, info.Metric, info.HnswM ?? Options.HnswM,
                info.HnswEfConstruction ?? Options.HnswEfConstruction), ct, timeout: 0);
            await transaction.CommitAsync(ct);
            return true;
        }, cancellationToken);

    protected async Task<bool> IndexExistsAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT to_regclass(@i) IS NOT NULL", connection);
        command.Parameters.AddWithValue("i", NpgsqlDbType.Text, Quote(IndexName(Table)));
        return (bool)(await command.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Connects and creates the extension and metadata table if needed, so that a bad server fails early.</summary>
    public Task ConnectAsync(CancellationToken cancellationToken = default) =>
        RunAsync("connect to", (_, _) => Task.FromResult(true), cancellationToken);

    public void Dispose() => GC.SuppressFinalize(this);

    // ---------------------------------------------------------------------------------------------------------
    // Connections and errors

    /// <summary>One pooled data source per connection string, for the life of the process.</summary>
    private sealed class Source(string connectionString)
    {
        public NpgsqlDataSource DataSource { get; } = Build(connectionString);
        /// <summary>The extensions (and the metadata table) known to exist on this server.</summary>
        public readonly ConcurrentDictionary<string, bool> Ready = new();

        private static NpgsqlDataSource Build(string connectionString)
        {
            var builder = new NpgsqlDataSourceBuilder(connectionString);
            builder.UseVector();
            return builder.Build();
        }
    }

    /// <summary>
    /// Runs <paramref name="body"/> on a fresh pooled connection, once more after a transient failure (a restarted
    /// server leaves dead connections in the pool: they are cleared first). Npgsql errors become
    /// <see cref="HouseStoreException"/>s that name the server, never the password.
    /// </summary>
    protected async Task<T> RunAsync<T>(string action, Func<NpgsqlConnection, CancellationToken, Task<T>> body,
        CancellationToken cancellationToken, int? batch = null, bool keepOpen = false)
    {
        for (int attempt = 0; ; attempt++)
        {
            bool opened = false;
            NpgsqlConnection? connection = null;
            try
            {
                connection = await _source.DataSource.OpenConnectionAsync(cancellationToken);
                opened = true;
                await EnsureSchemaAsync(connection, cancellationToken);
                T result = await body(connection, cancellationToken);
                if (!keepOpen)
                {
                    await connection.DisposeAsync();
                }
                return result;
            }
            catch (Exception e)
            {
                if (connection is not null)
                {
                    await connection.DisposeAsync();
                }
                if (e is not NpgsqlException npgsql)
                {
                    throw;
                }
                if (npgsql.IsTransient && attempt < Options.TransientRetries && !cancellationToken.IsCancellationRequested)
                {
                    _source.DataSource.Clear();
                    await Task.Delay(Options.RetryDelay, cancellationToken);
                    continue;
                }
                throw Translate(npgsql, action, opened, batch);
            }
        }
    }

    /// <summary>A server extension a store needs: its name, how to create it, and what to do when the server lacks it.</summary>
    protected sealed record PostgresExtension(string Name, string CreateSql, string Fix);

    /// <summary>The extensions this store needs, in creation order; a subclass adds its own.</summary>
    protected virtual IEnumerable<PostgresExtension> Extensions =>
        [new("vector", "CREATE EXTENSION IF NOT EXISTS vector", "install pgvector (0.5 or later) on the server")];

    private async Task EnsureSchemaAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var needed = Extensions.Where(e => !_source.Ready.ContainsKey(e.Name)).ToList();
        if (needed.Count == 0 && _source.Ready.ContainsKey(MetadataTable))
        {
            return;
        }
        bool reload = false;
        await using (var transaction = await connection.BeginTransactionAsync(ct))
        {
            // One creator at a time: concurrent CREATE EXTENSION / CREATE TABLE IF NOT EXISTS can collide.
            await ExecuteAsync(connection, "SELECT pg_advisory_xact_lock(7142052331)", ct);
            foreach (var extension in needed)
            {
                reload |= !await ExtensionExistsAsync(connection, extension.Name, ct);
                await CreateExtensionAsync(connection, extension, ct);
            }
            await ExecuteAsync(connection, CreateMetadataSql, ct);
            await transaction.CommitAsync(ct);
        }
        if (reload)
        {
            await connection.ReloadTypesAsync(ct);
        }
        foreach (var extension in needed)
        {
            _source.Ready[extension.Name] = true;
        }
        _source.Ready[MetadataTable] = true;
    }

    private static async Task<bool> ExtensionExistsAsync(NpgsqlConnection connection, string name, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand("SELECT 1 FROM pg_extension WHERE extname = @e", connection);
        command.Parameters.AddWithValue("e", NpgsqlDbType.Text, name);
        return await command.ExecuteScalarAsync(ct) is not null;
    }

    private async Task CreateExtensionAsync(NpgsqlConnection connection, PostgresExtension extension, CancellationToken ct)
    {
        try
        {
            await ExecuteAsync(connection, extension.CreateSql, ct);
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.FeatureNotSupported or PostgresErrorCodes.UndefinedFile
                                              or PostgresErrorCodes.InsufficientPrivilege)
        {
            bool privilege = e.SqlState == PostgresErrorCodes.InsufficientPrivilege;
            string message = privilege
                ? $"The extension '{extension.Name}' is not enabled in database '{Database}' on {Endpoint}, and user '{UserName}' may " +
                  $"not create it: run '{extension.CreateSql}' there as a superuser."
                : $"The extension '{extension.Name}' is not available on the server {Endpoint}: {extension.Fix}. ({Scrub(e.MessageText)})";
            throw new HouseStoreException(message, e, privilege ? StoreFailure.PermissionDenied : StoreFailure.NotInstalled, Location);
        }
    }

    protected static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken ct,
        int? timeout = null)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (timeout is int seconds)
        {
            command.CommandTimeout = seconds;
        }
        await command.ExecuteNonQueryAsync(ct);
    }

    private static Task SetLocalAsync(NpgsqlConnection connection, string name, string value, CancellationToken ct) =>
        ExecuteAsync(connection, SetLocalSql(name, value), ct);

    private HouseStoreException Translate(NpgsqlException e, string action, bool opened, int? batch)
    {
        string server = $"PostgreSQL at {Endpoint} (database '{Database}', user '{UserName}')";
        string cause = Cause(e);
        if (!opened)
        {
            string hint = (e as PostgresException)?.SqlState switch
            {
                PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification =>
                    " Check the user name and password (-Credential).",
                PostgresErrorCodes.InvalidCatalogName => " Create the database first.",
                _ => e.IsTransient ? " Is the server running and reachable?" : "",
            };
            string lost = batch is int records ? $" The batch ({Records(records)}) was not stored." : "";
            return new HouseStoreException($"Cannot connect to {server}: {cause}.{hint}{lost}", e, Classify(e), Location);
        }
        if (batch is int n && (e.IsTransient || e is not PostgresException))
        {
            return new HouseStoreException(
                $"Lost the connection to {server} while storing {Records(n)} in collection '{Collection}': {cause}. " +
                "The batch was not stored (its transaction was rolled back); adding it again is safe.", e, StoreFailure.Connection, Location);
        }
        string what = batch is int count ? $" ({Records(count)}, not stored)" : "";
        return new HouseStoreException($"{server} could not {action} collection '{Collection}'{what}: {cause}.", e, Classify(e), Location);
    }

    /// <summary>What kind of failure a driver error is.</summary>
    private static StoreFailure Classify(NpgsqlException error) => error switch
    {
        PostgresException p => p.SqlState switch
        {
            PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification => StoreFailure.Authentication,
            PostgresErrorCodes.FeatureNotSupported or PostgresErrorCodes.UndefinedFile => StoreFailure.NotInstalled,
            PostgresErrorCodes.InsufficientPrivilege => StoreFailure.PermissionDenied,
            PostgresErrorCodes.DiskFull => StoreFailure.StorageFull,
            PostgresErrorCodes.ReadOnlySqlTransaction => StoreFailure.ReadOnly,
            PostgresErrorCodes.DataCorrupted or PostgresErrorCodes.IndexCorrupted => StoreFailure.Corrupt,
            PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.DeadlockDetected => StoreFailure.Busy,
            PostgresErrorCodes.InvalidCatalogName or PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown
                or PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.TooManyConnections => StoreFailure.Connection,
            _ => p.IsTransient ? StoreFailure.Connection : StoreFailure.Other,
        },
        _ => StoreFailure.Connection,
    };

    private static string Records(int n) => n == 1 ? "1 record" : $"{n} records";

    private string Cause(Exception e)
    {
        var parts = new List<string>();
        for (Exception? x = e; x is not null && parts.Count < 3; x = x.InnerException)
        {
            string text = x is PostgresException p ? $"{p.MessageText} (SQLSTATE {p.SqlState})" : x.Message.TrimEnd('.');
            if (!parts.Any(known => known.Contains(text, StringComparison.Ordinal)))
            {
                parts.Add(text);
            }
        }
        return Scrub(string.Join(": ", parts));
    }

    /// <summary>No server message should hold the password; if one ever does, it is masked.</summary>
    private string Scrub(string text) =>
        _password.Length >= 4 ? text.Replace(_password, "********", StringComparison.Ordinal) : text;
}
