// Duplicate-scan benchmark, data and scoring. Driven by bench/Invoke-DuplicateBenchmark.ps1, which runs Find-HouseDuplicate
// itself (the cmdlet's code path, in its own pwsh) between the two modes of this program:
//   make:     dotnet run bench/DuplicateBenchmark.cs -- make --battery FILE --count 100000 --local FILE --ids FILE
//             [--connection CS --collection NAME]
//             a collection of real photos with their real edited copies (hstool battery-export) plus synthetic photos,
//             some with synthetic near copies, every Id naming its true group; written to the embedded store and PgVector.
//   evaluate: dotnet run bench/DuplicateBenchmark.cs -- evaluate --groups FILE --ids FILE
//             pair precision and recall of the groups found (one line of tab-separated Ids per group) against those groups.
// Prints key=value lines on stdout.
#:project ../src/HouseSimilarity.Core/HouseSimilarity.Core.csproj
#:include BenchSupport.cs

using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using HouseSimilarity;
using HouseSimilarity.Stores;
using HouseSimilarity.Stores.Local;
using HouseSimilarity.Stores.PgVector;

var mode = args.FirstOrDefault() ?? throw new ArgumentException("make or evaluate");
var options = Args.Parse(args[1..]);
void Report(string key, object value) => Console.WriteLine($"{key}={Convert.ToString(value, CultureInfo.InvariantCulture)}");
void Log(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

if (mode == "evaluate")
{
    var found = File.ReadAllLines(options.Get("groups")).Where(l => l.Length > 0).Select(l => l.Split('\t')).ToList();
    Score(found);
    return 0;
}

// ---------------------------------------------------------------------------------------------------------------
// make
using var battery = new BinaryReader(File.OpenRead(options.Get("battery")));
string modelId = battery.ReadString();
int rows = battery.ReadInt32(), dim = battery.ReadInt32();
var records = new List<HouseEmbedding>();
var realOriginals = new List<float[]>();
for (int i = 0; i < rows; i++)
{
    int group = battery.ReadInt32();
    string name = battery.ReadString();
    var v = new float[dim];
    for (int j = 0; j < dim; j++) v[j] = battery.ReadSingle();
    records.Add(Record($"real/g{group:D4}/{name}", v));
    if (!name.Contains(".jpg.", StringComparison.Ordinal)) realOriginals.Add(v);
}
int count = options.GetInt("count", 100_000);
int copyGroups = options.GetInt("copy-groups", 2_000);
var random = new Random(20261203);
Log($"{rows} real photos and edited copies; adding synthetic photos to {count}");
Report("vectors", count);
Report("real_rows", rows);
Report("real_originals", realOriginals.Count);

// Synthetic photos, each like a photo of another house; a share of them get 1 to 4 near copies (noise of an edit's size).
int synthetic = count - rows;
foreach (var (id, v) in Vectors.Archive(realOriginals, synthetic, copyGroups, random))
{
    records.Add(Record(id, v));
}
Report("synthetic_copy_groups", Math.Min(copyGroups, synthetic));
File.WriteAllLines(options.Get("ids"), records.Select(r => r.Id));

// How alike the synthetic photos are to the collection, beside the real ones: the distance from a sample of each to its
// nearest photo of another true group.
double MedianNearest(IEnumerable<HouseEmbedding> sample) => sample.Select(q => records
        .Where(r => Truth(r.Id) != Truth(q.Id)).Min(r => VectorMath.L2(q.Vector, r.Vector)))
    .Order().ToList() is var d ? d[d.Count / 2] : double.NaN;
var originalsSample = records.Where(r => r.Id.StartsWith("real/", StringComparison.Ordinal) && !r.Id.Contains(".jpg.", StringComparison.Ordinal)).ToList();
var syntheticSample = records.Where(r => r.Id.StartsWith("syn/", StringComparison.Ordinal)).OrderBy(_ => random.Next()).Take(originalsSample.Count).ToList();
Report("median_nearest_other_real", MedianNearest(originalsSample).ToString("F3", CultureInfo.InvariantCulture));
Report("median_nearest_other_synthetic", MedianNearest(syntheticSample).ToString("F3", CultureInfo.InvariantCulture));
Report("vector_bytes", (long)count * dim * sizeof(float));

string local = options.Get("local");
foreach (var f in new[] { local, local + "-wal", local + "-shm" }) File.Delete(f);
using (var store = new LocalStore(local, "dupes"))
{
    foreach (var chunk in records.Chunk(5_000)) await store.UpsertAsync(chunk);
}
Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
Report("local_store_bytes", new FileInfo(local).Length);
Log($"embedded store {local}: {records.Count} vectors");
if (options.Get("connection", "") is { Length: > 0 } connection)
{
    using var pg = new PgVectorStore(new PgVectorOptions
    {
        ConnectionString = connection + ";Options=-c maintenance_work_mem=512MB", IndexType = VectorIndexType.Hnsw, DeferIndex = true,
    }, options.Get("collection"));
    await pg.DropCollectionAsync();
    foreach (var chunk in records.Chunk(5_000)) await pg.UpsertAsync(chunk);
    await pg.FinishIngestAsync();
    Log($"PgVector collection {pg.Collection}: {records.Count} vectors, HNSW built");
}
return 0;

HouseEmbedding Record(string id, float[] v) => new()
{
    // Distinct content per record: byte-identical copies are the exact pass's job, tested elsewhere.
    Id = id, Path = "/bench/" + id, Sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id))),
    Width = 1024, Height = 768, ModelId = modelId, Vector = v,
};

// The true group of an Id: real photos by their listing photo, synthetic copies by their synthetic original.
static string Truth(string id) => id.StartsWith("syn/d", StringComparison.Ordinal) ? id : id[..id.LastIndexOf('/')];

void Score(List<string[]> found)
{
    static long Pairs(long n) => n * (n - 1) / 2;
    long foundPairs = 0, truePairs = 0, realFound = 0, realTrue = 0, mixed = 0, synFound = 0, synTrue = 0;
    foreach (var group in found)
    {
        foundPairs += Pairs(group.Length);
        truePairs += group.GroupBy(Truth).Sum(g => Pairs(g.Count()));
        var real = group.Where(id => id.StartsWith("real/", StringComparison.Ordinal)).ToList();
        var syn = group.Where(id => id.StartsWith("syn/", StringComparison.Ordinal)).ToList();
        realFound += Pairs(real.Count);
        realTrue += real.GroupBy(Truth).Sum(g => Pairs(g.Count()));
        synFound += Pairs(syn.Count);
        synTrue += syn.GroupBy(Truth).Sum(g => Pairs(g.Count()));
        mixed += (long)real.Count * syn.Count;
    }
    // The truth pairs of the whole collection, from its Ids (written by make).
    var ids = File.ReadAllLines(options.Get("ids"));
    long realTruth = ids.Where(id => id.StartsWith("real/", StringComparison.Ordinal)).GroupBy(Truth).Sum(g => Pairs(g.Count()));
    long synTruth = ids.Where(id => id.StartsWith("syn/", StringComparison.Ordinal)).GroupBy(Truth).Sum(g => Pairs(g.Count()));
    string F(double x) => double.IsNaN(x) ? throw new InvalidOperationException("A ratio of nothing: no pairs were found.") : x.ToString("F4", CultureInfo.InvariantCulture);
    Report("groups", found.Count);
    Report("found_pairs", foundPairs);
    Report("pair_precision", F((double)truePairs / foundPairs));
    Report("pair_recall", F((double)truePairs / (realTruth + synTruth)));
    Report("real_found_pairs", realFound);
    Report("real_pair_precision", F((double)realTrue / (realFound + mixed)));
    Report("real_pair_recall", F((double)realTrue / realTruth));
    Report("real_synthetic_pairs", mixed);
    Report("synthetic_pair_precision", F((double)synTrue / (synFound + mixed)));
    Report("synthetic_pair_recall", F((double)synTrue / synTruth));
}
