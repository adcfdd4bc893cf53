// Store benchmark: PostgreSQL + pgvector (COPY vs row-by-row ingest, HNSW vs exact queries, recall) beside the embedded
// Local store, on the same vectors in the same run. Driven by bench/Invoke-StoreBenchmark.ps1, which embeds the photos
// with Get-HouseEmbedding and writes them to --embeddings; this program prints key=value lines on stdout.
//   dotnet run bench/StoreBenchmark.cs -- --embeddings FILE --model-id ID --connection CS [--count 100000] ...
#:project ../src/HouseSimilarity.Core/HouseSimilarity.Core.csproj
#:include BenchSupport.cs

using System.Diagnostics;
using System.Globalization;
using HouseSimilarity;
using HouseSimilarity.Services;
using HouseSimilarity.Stores;
using HouseSimilarity.Stores.Local;
using HouseSimilarity.Stores.PgVector;

var options = Args.Parse(args);
string embeddingsFile = options.Get("embeddings");
string modelId = options.Get("model-id");
string connection = options.Get("connection");
int count = options.GetInt("count", 100_000);
int queryCount = options.GetInt("queries", 200);
int exactQueries = options.GetInt("exact-queries", 100);
int rowsSample = options.GetInt("rows-sample", 5_000);
int batch = options.GetInt("batch", 1_000);
int top = options.GetInt("top", 10);
string work = options.Get("work", Path.Combine(Path.GetTempPath(), $"housesim-storebench-{Environment.ProcessId}"));
// HNSW builds several times faster when the graph fits in maintenance_work_mem (default 64MB: 100k x 128-d does not).
string buildMemory = options.Get("maintenance-work-mem", "512MB");

var output = new List<(string Key, string Value)>();
var searches = new Dictionary<IHouseStore, SimilaritySearch>();
void Report(string key, object value)
{
    string text = Convert.ToString(value, CultureInfo.InvariantCulture)!;
    output.Add((key, text));
    Console.WriteLine($"{key}={text}");
}
void Log(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

// ---------------------------------------------------------------------------------------------------------------
// Data: the real embeddings, then synthetic ones made from them.
var real = Vectors.Read(embeddingsFile);
int dim = real[0].Length;
Log($"{real.Count} real embeddings of {dim} dimensions; making {count} vectors");
var random = new Random(20261127);
var records = new List<HouseEmbedding>(count);
for (int i = 0; i < count; i++)
{
    float[] v = i < real.Count ? real[i] : Vectors.Synthetic(real, random);
    records.Add(new HouseEmbedding
    {
        Id = i < real.Count ? $"real/{i:D6}" : $"syn/{i:D6}", Path = i < real.Count ? $"real/{i:D6}.jpg" : $"syn/{i:D6}.jpg",
        Sha256 = "", Width = 1024, Height = 768, ModelId = modelId, Vector = v,
    });
}
// Queries: re-uploads of known photos (a real embedding plus a small perturbation), none of them stored.
var queries = Enumerable.Range(0, queryCount)
    .Select(_ => Vectors.Reupload(real, random))
    .ToList();
Report("vectors", count);
Report("real_vectors", Math.Min(real.Count, count));
Report("dimension", dim);
Report("queries", queryCount);
Report("top", top);

string suffix = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
PgVectorOptions Pg(Action<PgVectorOptions>? configure = null)
{
    var o = new PgVectorOptions
    {
        ConnectionString = connection + $";Options=-c maintenance_work_mem={buildMemory}",
        IndexType = VectorIndexType.Hnsw,
        DeferIndex = true,
    };
    configure?.Invoke(o);
    return o;
}

var dropLater = new List<PgVectorStore>();
Directory.CreateDirectory(work);
try
{
    // -----------------------------------------------------------------------------------------------------------
    // Ingest: one INSERT per row vs binary COPY, both into tables without an index (the index is built afterwards).
    var sample = records.Take(rowsSample).ToList();

    // Warm-up of both paths (JIT, prepared statements, pool) on a throwaway collection, so neither pays it in its timing.
    var warm = new PgVectorStore(Pg(), $"bench_warm_{suffix}");
    dropLater.Add(warm);
    await warm.ConnectAsync();
    var warmRecords = records.Skip(records.Count - 1000).ToList();
    await warm.UpsertRowByRowAsync(warmRecords.Take(500).ToList());
    await warm.UpsertAsync(warmRecords.Skip(500).ToList());

    // The same sample both ways, alternately, three times each into fresh tables: the machine is shared, so the median
    // of three is reported (and every run, so that the spread is visible).
    var rowsRates = new List<double>();
    var copySampleRates = new List<double>();
    for (int rep = 0; rep < 3; rep++)
    {
        var rows = new PgVectorStore(Pg(), $"bench_rows{rep}_{suffix}");
        dropLater.Add(rows);
        await rows.ConnectAsync();
        double rowsSeconds = await Time(async () =>
        {
            foreach (var chunk in sample.Chunk(batch))
            {
                await rows.UpsertRowByRowAsync(chunk);
            }
        });
        rowsRates.Add(sample.Count / rowsSeconds);
        await rows.DropCollectionAsync();

        var copySample = new PgVectorStore(Pg(), $"bench_copysample{rep}_{suffix}");
        dropLater.Add(copySample);
        double copySampleSeconds = await Time(async () =>
        {
            foreach (var chunk in sample.Chunk(batch))
            {
                await copySample.UpsertAsync(chunk);
            }
        });
        copySampleRates.Add(sample.Count / copySampleSeconds);
        await copySample.DropCollectionAsync();
        Log($"run {rep + 1}: row by row {rowsRates[^1]:F0} rows/s, COPY {copySampleRates[^1]:F0} rows/s ({sample.Count} rows)");
    }
    Report("rowbyrow_rows", sample.Count);
    Report("rowbyrow_rows_per_s", Stats.Percentile(rowsRates, 50).ToString("F0", CultureInfo.InvariantCulture));
    Report("rowbyrow_runs", string.Join(" / ", rowsRates.Select(r => r.ToString("N0", CultureInfo.InvariantCulture))));
    Report("copy_sample_rows_per_s", Stats.Percentile(copySampleRates, 50).ToString("F0", CultureInfo.InvariantCulture));
    Report("copy_sample_runs", string.Join(" / ", copySampleRates.Select(r => r.ToString("N0", CultureInfo.InvariantCulture))));

    var copy = new PgVectorStore(Pg(), $"bench_copy_{suffix}");
    dropLater.Add(copy);
    double copySeconds = await Time(async () =>
    {
        foreach (var chunk in records.Chunk(batch))
        {
            await copy.UpsertAsync(chunk);
        }
    });
    Report("copy_rows", records.Count);
    Report("copy_s", copySeconds.ToString("F2", CultureInfo.InvariantCulture));
    Report("copy_rows_per_s", (records.Count / copySeconds).ToString("F0", CultureInfo.InvariantCulture));
    Log($"COPY: {records.Count} rows in {copySeconds:F1} s");

    // The same load in batches of 10,000: fewer round trips and per-batch statements.
    var copyBig = new PgVectorStore(Pg(), $"bench_copybig_{suffix}");
    dropLater.Add(copyBig);
    double copyBigSeconds = await Time(async () =>
    {
        foreach (var chunk in records.Chunk(10 * batch))
        {
            await copyBig.UpsertAsync(chunk);
        }
    });
    Report("copy_big_batch", 10 * batch);
    Report("copy_big_rows_per_s", (records.Count / copyBigSeconds).ToString("F0", CultureInfo.InvariantCulture));
    Log($"COPY, batches of {10 * batch}: {records.Count / copyBigSeconds:F0} rows/s");
    await copyBig.DropCollectionAsync();

    double indexSeconds = await Time(async () =>
    {
        if (!await copy.FinishIngestAsync())
        {
            throw new InvalidOperationException("FinishIngestAsync built nothing.");
        }
    });
    Report("hnsw_build_s", indexSeconds.ToString("F1", CultureInfo.InvariantCulture));
    Report("hnsw_m", 16);
    Report("hnsw_ef_construction", 64);
    Report("maintenance_work_mem", buildMemory);
    Log($"HNSW index: {indexSeconds:F1} s");

    // The path Add-HouseVector takes: the ingestor with the cmdlet's batch size (64), into a collection whose HNSW index
    // grows as rows arrive (cmdlets do not defer it).
    var cmdletPath = new PgVectorStore(Pg(o => o.DeferIndex = false), $"bench_ingestor_{suffix}");
    dropLater.Add(cmdletPath);
    var ingestor = new HouseIngestor(cmdletPath, batchSize: 64);
    var ingestSample = records.Take(4 * rowsSample).ToList();
    double ingestorSeconds = await Time(async () =>
    {
        foreach (var record in ingestSample)
        {
            if (await ingestor.AddAsync(record) is { Stored: false } failed)
            {
                throw failed.Error!;
            }
        }
        await ingestor.FlushAsync();
        await ingestor.CompleteAsync();
    });
    Report("ingestor_rows", ingestSample.Count);
    Report("ingestor_rows_per_s", (ingestSample.Count / ingestorSeconds).ToString("F0", CultureInfo.InvariantCulture));
    Log($"HouseIngestor (batches of 64, HNSW as rows arrive): {ingestSample.Count / ingestorSeconds:F0} rows/s");
    await cmdletPath.DropCollectionAsync();

    // -----------------------------------------------------------------------------------------------------------
    // Queries, through the similarity search Find-SimilarHouse uses: exact (full scan), HNSW at the store's default
    // ef_search and at pgvector's default (40).
    var exact = copy;
    var exactIds = new List<string[]>();
    var exactLatency = await Latencies(exact, queries.Take(exactQueries).ToList(), warmup: 3, exactIds, exactSearch: true);
    Summarise("exact", exactLatency);

    var hnswIds = new List<string[]>();
    var hnswLatency = await Latencies(copy, queries, warmup: 20, hnswIds);
    Summarise("hnsw", hnswLatency);
    Report("hnsw_ef_search", PgVectorStore.EfSearchFor(top, null));
    Report("hnsw_recall_at_10", Stats.Recall(hnswIds, exactIds).ToString("F4", CultureInfo.InvariantCulture));

    var hnsw40 = new PgVectorStore(Pg(o => o.EfSearch = 40), copy.Collection);
    var hnsw40Ids = new List<string[]>();
    var hnsw40Latency = await Latencies(hnsw40, queries, warmup: 5, hnsw40Ids);
    Summarise("hnsw40", hnsw40Latency);
    Report("hnsw40_recall_at_10", Stats.Recall(hnsw40Ids, exactIds).ToString("F4", CultureInfo.InvariantCulture));
    Log($"recall@{top}: ef_search {PgVectorStore.EfSearchFor(top, null)} {Stats.Recall(hnswIds, exactIds):F4}, ef_search 40 {Stats.Recall(hnsw40Ids, exactIds):F4}");

    // A harder set for recall: new photos made as the synthetic data is (not near one stored photo in particular).
    var fresh = Enumerable.Range(0, exactQueries).Select(_ => Vectors.Synthetic(real, random)).ToList();
    var freshExact = new List<string[]>();
    await Latencies(exact, fresh, warmup: 0, freshExact, exactSearch: true);
    var freshHnsw = new List<string[]>();
    await Latencies(copy, fresh, warmup: 0, freshHnsw);
    var freshHnsw40 = new List<string[]>();
    await Latencies(hnsw40, fresh, warmup: 0, freshHnsw40);
    Report("fresh_queries", fresh.Count);
    Report("fresh_hnsw_recall_at_10", Stats.Recall(freshHnsw, freshExact).ToString("F4", CultureInfo.InvariantCulture));
    Report("fresh_hnsw40_recall_at_10", Stats.Recall(freshHnsw40, freshExact).ToString("F4", CultureInfo.InvariantCulture));
    Log($"recall@{top}, new photos: ef_search {PgVectorStore.EfSearchFor(top, null)} {Stats.Recall(freshHnsw, freshExact):F4}, ef_search 40 {Stats.Recall(freshHnsw40, freshExact):F4}");
    var fd1 = new List<double>();
    var fd10 = new List<double>();
    foreach (var m in await ((IHouseStore)exact).SearchManyAsync(fresh, top, new SearchOptions { Exact = true }))
    {
        fd1.Add(m[0].Distance);
        fd10.Add(m[^1].Distance);
    }

    // Many queries in one statement (the batched k-nearest search duplicate scans use) against one query per call.
    var batchQueries = queries.Take(exactQueries).ToList();
    double batchedSeconds = await Time(() => ((IHouseStore)copy).SearchManyAsync(batchQueries, top, SearchOptions.Default));
    Report("hnsw_batched_queries_per_s", (batchQueries.Count / batchedSeconds).ToString("F0", CultureInfo.InvariantCulture));
    Report("hnsw_single_queries_per_s", (1000 / Stats.Percentile(hnswLatency, 50)).ToString("F0", CultureInfo.InvariantCulture));
    Report("fresh_median_distance_1st", Stats.Percentile(fd1, 50).ToString("F3", CultureInfo.InvariantCulture));
    Report("fresh_median_distance_10th", Stats.Percentile(fd10, 50).ToString("F3", CultureInfo.InvariantCulture));

    // -----------------------------------------------------------------------------------------------------------
    // The embedded store, same vectors, same queries.
    string file = Path.Combine(work, "houses.db");
    using (var local = new LocalStore(file, "bench"))
    {
        double localSeconds = await Time(async () =>
        {
            foreach (var chunk in records.Chunk(batch))
            {
                await local.UpsertAsync(chunk);
            }
        });
        Report("local_ingest_rows_per_s", (records.Count / localSeconds).ToString("F0", CultureInfo.InvariantCulture));
        double loadMs = await Time(() => Search(local, queries[0], exactSearch: true)) * 1000;
        Report("local_first_query_ms", loadMs.ToString("F1", CultureInfo.InvariantCulture));
        var localIds = new List<string[]>();
        var localLatency = await Latencies(local, queries, warmup: 5, localIds);
        Summarise("local", localLatency);
        Report("local_vs_pg_exact_agreement", Stats.Recall(localIds.Take(exactIds.Count).ToList(), exactIds).ToString("F4", CultureInfo.InvariantCulture));
    }

    // Distances of the queries to their neighbours, for context.
    var d1 = new List<double>();
    var d10 = new List<double>();
    foreach (var m in await ((IHouseStore)exact).SearchManyAsync(queries.Take(exactQueries).ToList(), top, new SearchOptions { Exact = true }))
    {
        d1.Add(m[0].Distance);
        d10.Add(m[^1].Distance);
    }
    Report("median_distance_1st", Stats.Percentile(d1, 50).ToString("F3", CultureInfo.InvariantCulture));
    Report("median_distance_10th", Stats.Percentile(d10, 50).ToString("F3", CultureInfo.InvariantCulture));
}
finally
{
    foreach (var store in dropLater)
    {
        try
        {
            await store.DropCollectionAsync();
        }
        catch (HouseStoreException e)
        {
            Log($"could not drop {store.Collection}: {e.Message}");
        }
    }
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    Directory.Delete(work, recursive: true);
}
return 0;

// One Find-SimilarHouse query: the similarity search over the store (self-exclusion, records filled in), made once per
// store (in `searches`) as the cmdlet makes it once per command.
async Task<IReadOnlyList<HouseMatch>> Search(IHouseStore store, float[] query, bool exactSearch = false)
{
    if (!searches.TryGetValue(store, out var search))
    {
        var collection = await store.GetCollectionAsync() ?? throw new InvalidOperationException($"{store.Collection} is empty.");
        search = searches[store] = new SimilaritySearch(store, collection,
            new HouseStoreReference(store.Backend, store.Location, store.Collection), 0.8);
    }
    var found = await search.FindAsync([new HouseQuery("query", "query.jpg", query, modelId)], top,
        new SearchOptions { Exact = exactSearch });
    return found[0];
}

async Task<List<double>> Latencies(IHouseStore store, List<float[]> qs, int warmup, List<string[]> ids, bool exactSearch = false)
{
    for (int i = 0; i < warmup; i++)
    {
        await Search(store, qs[i % qs.Count], exactSearch);
    }
    var ms = new List<double>(qs.Count);
    foreach (var q in qs)
    {
        var clock = Stopwatch.StartNew();
        var found = await Search(store, q, exactSearch);
        ms.Add(clock.Elapsed.TotalMilliseconds);
        ids.Add(found.Select(m => m.Id).ToArray());
    }
    return ms;
}

void Summarise(string name, List<double> ms)
{
    Report($"{name}_queries", ms.Count);
    Report($"{name}_p50_ms", Stats.Percentile(ms, 50).ToString("F2", CultureInfo.InvariantCulture));
    Report($"{name}_p95_ms", Stats.Percentile(ms, 95).ToString("F2", CultureInfo.InvariantCulture));
    Log($"{name}: p50 {Stats.Percentile(ms, 50):F2} ms, p95 {Stats.Percentile(ms, 95):F2} ms over {ms.Count} queries");
}

static async Task<double> Time(Func<Task> work)
{
    var clock = Stopwatch.StartNew();
    await work();
    return clock.Elapsed.TotalSeconds;
}
