// Scaling benchmark, the in-process part: one collection of --size vectors in one store, made and ingested as a stream,
// then timed searches. Driven by bench/Invoke-ScalingBenchmark.ps1, which times the cmdlets in new pwsh processes
// between the two modes of this program. Only public APIs (IHouseStore, SearchOptions, SimilaritySearch), so it measures
// whatever index a backend has.
//   ingest: dotnet run bench/ScalingBenchmark.cs -- ingest --embeddings FILE --model-id ID --size N --collection NAME
//           (--local FILE | --connection CS) [--batch 1000] [--copy-groups 2000]
//           the real embeddings, then synthetic photos of other houses (some with near copies), batch by batch
//           through UpsertAsync (timed), then FinishIngestAsync (timed: the deferred index build), then the size on disk.
//   query:  dotnet run bench/ScalingBenchmark.cs -- query --embeddings FILE --model-id ID --collection NAME
//           (--local FILE | --connection CS) [--queries 200] [--exact-queries 100] [--top 10]
//           re-uploads of real photos through the similarity search Find-SimilarHouse uses: the default search's
//           latency, exact search's latency, recall@top of the default search against exact.
// Prints key=value lines on stdout; throws rather than print a value it could not measure.
#:project ../src/HouseSimilarity.Core/HouseSimilarity.Core.csproj
#:include BenchSupport.cs

using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using HouseSimilarity;
using HouseSimilarity.Services;
using HouseSimilarity.Stores;
using HouseSimilarity.Stores.Local;
using HouseSimilarity.Stores.PgVector;
using Npgsql;

string mode = args.FirstOrDefault() ?? throw new ArgumentException("ingest or query");
var options = Args.Parse(args[1..]);
var real = Vectors.Read(options.Get("embeddings"));
string modelId = options.Get("model-id");
string collection = options.Get("collection");
string? localFile = options.Get("local", "") is { Length: > 0 } f ? f : null;
string? connection = options.Get("connection", "") is { Length: > 0 } c ? c : null;
if ((localFile is null) == (connection is null))
{
    throw new ArgumentException("Give one of --local FILE and --connection CS.");
}
// HNSW builds several times faster when the graph fits in maintenance_work_mem (default 64MB: 100k x 128-d does not).
string buildMemory = options.Get("maintenance-work-mem", "512MB");

void Report(string key, object value) => Console.WriteLine($"{key}={Convert.ToString(value, CultureInfo.InvariantCulture)}");
void Log(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");
string F(double value, string format) => double.IsFinite(value)
    ? value.ToString(format, CultureInfo.InvariantCulture)
    : throw new InvalidOperationException($"A measure came out as {value}.");

IHouseStore Open() => localFile is not null
    ? new LocalStore(localFile, collection)
    : new PgVectorStore(new PgVectorOptions
    {
        ConnectionString = connection + $";Options=-c maintenance_work_mem={buildMemory}",
        IndexType = VectorIndexType.Hnsw,
        DeferIndex = true,
    }, collection);

if (mode == "ingest")
{
    await Ingest();
}
else if (mode == "query")
{
    await Query();
}
else
{
    throw new ArgumentException($"'{mode}' is not a mode: use ingest or query.");
}
return 0;

async Task Ingest()
{
    long size = options.GetInt("size", 10_000);
    int batchSize = options.GetInt("batch", 1_000);
    int copyGroups = options.GetInt("copy-groups", 2_000);
    if (size < real.Count)
    {
        throw new ArgumentException($"--size {size} is smaller than the {real.Count} real embeddings it starts with.");
    }
    if (localFile is not null)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(localFile))!);
        foreach (var old in StoreFiles(localFile))
        {
            File.Delete(old);
        }
    }

    var upserts = new Stopwatch();
    long stored = 0;
    var wall = Stopwatch.StartNew();
    using (var store = Open())
    {
        await store.ConnectAsync();
        await store.DropCollectionAsync();
        // One batch at a time: the records are made as they are stored, so memory stays that of one batch.
        var batch = new List<HouseEmbedding>(batchSize);
        async Task Flush()
        {
            upserts.Start();
            await store.UpsertAsync(batch);
            upserts.Stop();
            stored += batch.Count;
            batch = new List<HouseEmbedding>(batchSize);
            if (stored % 100_000 < batchSize)
            {
                Log($"{store.Backend}: {stored:N0} of {size:N0} stored ({stored / upserts.Elapsed.TotalSeconds:F0}/s)");
            }
        }
        var random = new Random(20261203);
        var photos = real.Select((v, i) => ($"real/{i:D6}", v))
            .Concat(Vectors.Archive(real, size - real.Count, copyGroups, random));
        foreach (var (id, vector) in photos)
        {
            batch.Add(Record(id, vector));
            if (batch.Count == batchSize)
            {
                await Flush();
            }
        }
        if (batch.Count > 0)
        {
            await Flush();
        }

        var build = Stopwatch.StartNew();
        bool built = await store.FinishIngestAsync();
        build.Stop();
        var info = await store.GetCollectionAsync() ?? throw new InvalidOperationException($"{collection} is missing after the ingest.");
        if (info.Count != size || stored != size)
        {
            throw new InvalidOperationException($"{collection} holds {info.Count} records after storing {stored} of {size}.");
        }
        Report("vectors", size);
        Report("real_vectors", real.Count);
        Report("dimension", real[0].Length);
        Report("batch", batchSize);
        Report("ingest_s", F(upserts.Elapsed.TotalSeconds, "F2"));
        Report("ingest_per_s", F(size / upserts.Elapsed.TotalSeconds, "F0"));
        Report("index_built", built ? "true" : "false");
        Report("index_build_s", F(build.Elapsed.TotalSeconds, "F2"));
        Report("index_type", info.IndexType);
        Report("wall_s", F(wall.Elapsed.TotalSeconds, "F1"));
        using (var self = Process.GetCurrentProcess())
        {
            Report("ingest_peak_mib", F(self.PeakWorkingSet64 / 1048576.0, "F0"));
        }
        Report("probe_id", "real/000000");
        Log($"{store.Backend}: {size:N0} vectors in {upserts.Elapsed.TotalSeconds:F1} s of upserts, FinishIngestAsync {build.Elapsed.TotalSeconds:F1} s (built: {built})");

        if (connection is not null)
        {
            await using var db = new NpgsqlConnection(connection);
            await db.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT pg_total_relation_size(@t::regclass)", db);
            command.Parameters.AddWithValue("t", PgVectorStore.Quote(PgVectorStore.TableName(collection)));
            Report("store_bytes", Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture));
            Report("store_files", $"table {PgVectorStore.TableName(collection)} with its indexes and TOAST");
            await using var version = new NpgsqlCommand(
                "SELECT current_setting('server_version'), (SELECT extversion FROM pg_extension WHERE extname = 'vector')", db);
            await using var row = await version.ExecuteReaderAsync();
            await row.ReadAsync();
            Report("server_version", "PostgreSQL " + row.GetString(0));
            Report("pgvector_version", row.GetString(1));
        }
    }
    if (localFile is not null)
    {
        // Closed first, so that the write-ahead log is folded into the file and what is measured is what stays.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var files = StoreFiles(localFile).Select(p => new FileInfo(p)).ToList();
        if (files.Count == 0)
        {
            throw new InvalidOperationException($"No store file at {localFile} after the ingest.");
        }
        Report("store_bytes", files.Sum(x => x.Length));
        Report("store_files", string.Join(" + ", files.Select(x => $"{x.Name} {x.Length / 1048576.0:F1} MiB")));
    }
}

async Task Query()
{
    int queryCount = options.GetInt("queries", 200);
    int exactCount = Math.Min(options.GetInt("exact-queries", 100), queryCount);
    int top = options.GetInt("top", 10);
    var random = new Random(20261204);
    var queries = Enumerable.Range(0, queryCount).Select(_ => Vectors.Reupload(real, random)).ToList();

    using var store = Open();
    var open = Stopwatch.StartNew();
    var info = await store.GetCollectionAsync() ?? throw new InvalidOperationException($"{collection} does not exist.");
    var search = new SimilaritySearch(store, info, new HouseStoreReference(store.Backend, store.Location, store.Collection), 0.8);
    async Task<string[]> Find(float[] query, bool exact)
    {
        var found = await search.FindAsync([new HouseQuery("query", "query.jpg", query, modelId)], top, new SearchOptions { Exact = exact });
        if (found[0].Count != top)
        {
            throw new InvalidOperationException($"A search for {top} neighbours in {collection} gave {found[0].Count}.");
        }
        return found[0].Select(m => m.Id).ToArray();
    }
    await Find(queries[0], exact: false);
    Report("first_query_in_process_ms", F(open.Elapsed.TotalMilliseconds, "F1"));

    // Both searches warmed up before either is timed, long enough for the JIT's optimised code (tiering) to be in.
    for (int i = 0; i < 60; i++)
    {
        await Find(queries[i % queries.Count], exact: false);
        if (i < 30)
        {
            await Find(queries[i % exactCount], exact: true);
        }
    }
    async Task<List<double>> Latencies(IReadOnlyList<float[]> qs, bool exact, List<string[]> ids)
    {
        var ms = new List<double>(qs.Count);
        foreach (var q in qs)
        {
            var clock = Stopwatch.StartNew();
            ids.Add(await Find(q, exact));
            ms.Add(clock.Elapsed.TotalMilliseconds);
        }
        return ms;
    }
    var defaultIds = new List<string[]>();
    var defaultMs = await Latencies(queries, exact: false, defaultIds);
    var exactIds = new List<string[]>();
    var exactMs = await Latencies(queries.Take(exactCount).ToList(), exact: true, exactIds);

    Report("queries", queryCount);
    Report("exact_queries", exactCount);
    Report("top", top);
    Report("index_type", info.IndexType);
    Report("default_p50_ms", F(Stats.Percentile(defaultMs, 50), "F2"));
    Report("default_p95_ms", F(Stats.Percentile(defaultMs, 95), "F2"));
    Report("exact_p50_ms", F(Stats.Percentile(exactMs, 50), "F2"));
    Report("exact_p95_ms", F(Stats.Percentile(exactMs, 95), "F2"));
    Report("recall_at_top", F(Stats.Recall(defaultIds, exactIds), "F4"));
    Log($"{store.Backend}: default p50 {Stats.Percentile(defaultMs, 50):F2} ms, exact p50 {Stats.Percentile(exactMs, 50):F2} ms, recall@{top} {Stats.Recall(defaultIds, exactIds):F4}");

    // How near the neighbours are, for context: the exact 1st and last of each query.
    var exactNeighbours = await store.SearchManyAsync(queries.Take(exactCount).ToList(), top, new SearchOptions { Exact = true });
    Report("median_distance_1st", F(Stats.Percentile(exactNeighbours.Select(n => n[0].Distance).ToList(), 50), "F3"));
    Report("median_distance_last", F(Stats.Percentile(exactNeighbours.Select(n => n[^1].Distance).ToList(), 50), "F3"));
}

HouseEmbedding Record(string id, float[] vector) => new()
{
    // Distinct content per record: byte-identical copies are the exact pass's job, not this benchmark's.
    Id = id, Path = "/bench/" + id, Sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id))),
    Width = 1024, Height = 768, ModelId = modelId, Vector = vector,
};

// The embedded store on disk: the SQLite file and every file beside it named after it (its WAL, an index file).
static IEnumerable<string> StoreFiles(string file)
{
    var full = Path.GetFullPath(file);
    var folder = Path.GetDirectoryName(full)!;
    return Directory.Exists(folder)
        ? Directory.EnumerateFiles(folder).Where(p => Path.GetFileName(p).StartsWith(Path.GetFileName(full), StringComparison.Ordinal)).Order().ToList()
        : [];
}
