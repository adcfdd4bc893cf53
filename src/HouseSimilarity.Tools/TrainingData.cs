using System.Runtime.InteropServices;
using HouseSimilarity.Embedding.Onnx;
using HouseSimilarity.Imaging;

namespace HouseSimilarity.Tools;

/// <summary>
/// Backbone features of original photos and of edited copies, cached on disk because extracting them is the
/// slow part of fitting a head: the last feature map (half precision) and the earlier stages' GeM vectors.
/// </summary>
internal sealed class TrainingData
{
    public required string[] Files { get; init; }
    public required int[] Groups { get; init; }
    /// <summary>Feature maps of the originals, [512 x 49] each.</summary>
    public required Half[][] Originals { get; init; }
    /// <summary>GeM vectors of the originals' earlier stages (<see cref="FeatureExtractor.Features"/>).</summary>
    public required float[][] OriginalStages { get; init; }
    public required int[] EditSource { get; init; }
    public required string[] EditLabel { get; init; }
    public required Half[][] Edits { get; init; }
    public required float[][] EditStages { get; init; }

    /// <summary>
    /// Originals of houses first..last and <paramref name="editsPerPhoto"/> edits of each: fresh random ones
    /// (<see cref="ImageEdits.RandomEdit"/>, seeded) or, with <paramref name="battery"/>, the benchmark battery.
    /// Without <paramref name="stagesGemPower"/>, the earlier stages are left out (empty).
    /// </summary>
    public static TrainingData Load(string photos, string models, int first, int last, int editsPerPhoto, int seed, bool battery,
        string cacheDirectory, float? stagesGemPower = 3)
    {
        string[] files = DevPhotos.List(photos, first, last);
        var rng = new Random(seed);
        var edits = battery
            ? files.SelectMany((_, i) => ImageEdits.Battery().Select(e => (Source: i, Edit: e))).ToArray()
            : files.SelectMany((_, i) => Enumerable.Range(0, editsPerPhoto).Select(_ => (Source: i, Edit: ImageEdits.RandomEdit(rng)))).ToArray();
        string key = $"{first}-{last}-{(battery ? "battery" : $"random{editsPerPhoto}-seed{seed}")}";
        string mapsCache = Path.Combine(cacheDirectory, $"maps-{key}.bin");
        string stagesCache = Path.Combine(cacheDirectory, $"stages-gem{stagesGemPower:R}-{key}.bin");
        int count = files.Length + edits.Length;
        float[][] noStages = Enumerable.Repeat(Array.Empty<float>(), count).ToArray();

        Half[][]? maps = File.Exists(mapsCache) ? Read<Half>(mapsCache, count, FeatureExtractor.Channels * FeatureExtractor.Cells) : null;
        float[][]? stages = stagesGemPower is null ? noStages
            : File.Exists(stagesCache) ? Read<float>(stagesCache, count, FeatureExtractor.StageChannels) : null;
        if (maps is null || stages is null)
        {
            Console.Error.WriteLine($"Backbone features of {files.Length} photos and {edits.Length} edits (cached in {cacheDirectory})...");
            using var extractor = new FeatureExtractor(models, stagesGemPower);
            var loader = new HouseImageLoader();
            string temp = Directory.CreateTempSubdirectory("hs-train-").FullName;
            try
            {
                var features = DevPhotos.Map(Enumerable.Range(0, count).ToArray(), j =>
                {
                    string path = j < files.Length ? files[j] : WriteEdit(temp, j, files[edits[j - files.Length].Source], edits[j - files.Length].Edit);
                    var (map, stageVectors) = extractor.Features(loader.Load(path).Pixels);
                    if (j >= files.Length) File.Delete(path);
                    return (Map: Array.ConvertAll(map, v => (Half)v), Stages: stageVectors);
                });
                maps = features.Select(f => f.Map).ToArray();
                stages = features.Select(f => f.Stages).ToArray();
            }
            finally
            {
                Directory.Delete(temp, recursive: true);
            }
            Write(mapsCache, maps);
            if (stagesGemPower is not null) Write(stagesCache, stages);
        }
        return new TrainingData
        {
            Files = files,
            Groups = Calibration.SameGroups(files),
            Originals = maps[..files.Length],
            OriginalStages = stages[..files.Length],
            EditSource = edits.Select(e => e.Source).ToArray(),
            EditLabel = edits.Select(e => e.Edit.Label).ToArray(),
            Edits = maps[files.Length..],
            EditStages = stages[files.Length..],
        };
    }

    /// <summary>The originals of the houses <paramref name="keep"/> accepts, with their edits.</summary>
    public TrainingData Subset(Func<int, bool> keep)
    {
        int[] originals = Enumerable.Range(0, Files.Length).Where(i => keep(DevPhotos.House(Files[i]))).ToArray();
        var index = originals.Select((o, k) => (o, k)).ToDictionary(x => x.o, x => x.k);
        int[] edits = Enumerable.Range(0, Edits.Length).Where(e => index.ContainsKey(EditSource[e])).ToArray();
        return new TrainingData
        {
            Files = originals.Select(i => Files[i]).ToArray(),
            Groups = originals.Select(i => Groups[i]).ToArray(),
            Originals = originals.Select(i => Originals[i]).ToArray(),
            OriginalStages = originals.Select(i => OriginalStages[i]).ToArray(),
            EditSource = edits.Select(e => index[EditSource[e]]).ToArray(),
            EditLabel = edits.Select(e => EditLabel[e]).ToArray(),
            Edits = edits.Select(e => Edits[e]).ToArray(),
            EditStages = edits.Select(e => EditStages[e]).ToArray(),
        };
    }

    /// <summary>The head's inputs for the originals and the edits (see <see cref="FeatureExtractor.Describe"/>).</summary>
    public (float[][] Originals, float[][] Edits) Pool(float p, bool regions, bool stages) =>
        (Pool(Originals, OriginalStages, p, regions, stages), Pool(Edits, EditStages, p, regions, stages));

    /// <summary>Vectors of the originals and the edits through <paramref name="head"/>.</summary>
    public (float[][] Originals, float[][] Edits) Embed(HeadWeights head)
    {
        var (originals, edits) = Pool(head.GemPower, head.Regions, head.Stages);
        return (originals.Select(x => HeadFile.Apply(head, x)).ToArray(), edits.Select(x => HeadFile.Apply(head, x)).ToArray());
    }

    private static float[][] Pool(Half[][] maps, float[][] stages, float p, bool regions, bool withStages) =>
        DevPhotos.Map(Enumerable.Range(0, maps.Length).ToArray(),
            i => FeatureExtractor.Describe(Array.ConvertAll(maps[i], h => (float)h), p, regions, withStages ? stages[i] : null), quiet: true);

    private static string WriteEdit(string directory, int index, string source, ImageEdit edit)
    {
        string path = Path.Combine(directory, $"{index}{edit.Extension}");
        File.WriteAllBytes(path, edit.ApplyTo(File.ReadAllBytes(source)));
        return path;
    }

    private static void Write<T>(string path, T[][] rows) where T : struct
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var stream = File.Create(path);
        foreach (var row in rows)
        {
            stream.Write(MemoryMarshal.AsBytes(row.AsSpan()));
        }
    }

    private static T[][] Read<T>(string path, int count, int width) where T : struct
    {
        using var stream = File.OpenRead(path);
        var rows = new T[count][];
        for (int i = 0; i < count; i++)
        {
            rows[i] = new T[width];
            stream.ReadExactly(MemoryMarshal.AsBytes(rows[i].AsSpan()));
        }
        return rows;
    }
}
