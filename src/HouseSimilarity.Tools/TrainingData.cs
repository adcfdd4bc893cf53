using HouseSimilarity.Imaging;

namespace HouseSimilarity.Tools;

/// <summary>
/// Backbone feature maps of original photos and of edited copies, cached on disk (half precision) because
/// extracting them is the slow part of fitting a head.
/// </summary>
internal sealed class TrainingData
{
    public required string[] Files { get; init; }
    public required int[] Groups { get; init; }
    /// <summary>Feature maps of the originals, [512 x 49] each.</summary>
    public required Half[][] Originals { get; init; }
    public required int[] EditSource { get; init; }
    public required string[] EditLabel { get; init; }
    public required Half[][] Edits { get; init; }

    /// <summary>
    /// Originals of houses first..last and <paramref name="editsPerPhoto"/> edits of each: fresh random ones
    /// (<see cref="ImageEdits.RandomEdit"/>, seeded) or, with <paramref name="battery"/>, the benchmark battery.
    /// </summary>
    public static TrainingData Load(string photos, string models, int first, int last, int editsPerPhoto, int seed, bool battery, string cacheDirectory)
    {
        string[] files = DevPhotos.List(photos, first, last);
        var rng = new Random(seed);
        var edits = battery
            ? files.SelectMany((_, i) => ImageEdits.Battery().Select(e => (Source: i, Edit: e))).ToArray()
            : files.SelectMany((_, i) => Enumerable.Range(0, editsPerPhoto).Select(_ => (Source: i, Edit: ImageEdits.RandomEdit(rng)))).ToArray();
        string key = battery ? "battery" : $"random{editsPerPhoto}-seed{seed}";
        string cache = Path.Combine(cacheDirectory, $"maps-{first}-{last}-{key}.bin");

        Half[][] maps;
        if (File.Exists(cache))
        {
            maps = Read(cache, files.Length + edits.Length);
        }
        else
        {
            Console.Error.WriteLine($"Feature maps of {files.Length} photos and {edits.Length} edits (cached in {cache})...");
            using var extractor = new FeatureExtractor(models);
            var loader = new HouseImageLoader();
            string temp = Directory.CreateTempSubdirectory("hs-train-").FullName;
            try
            {
                var jobs = Enumerable.Range(0, files.Length + edits.Length).ToArray();
                maps = DevPhotos.Map(jobs, j =>
                {
                    string path = j < files.Length ? files[j] : WriteEdit(temp, j, files[edits[j - files.Length].Source], edits[j - files.Length].Edit);
                    float[] map = extractor.FeatureMap(loader.Load(path).Pixels);
                    if (j >= files.Length) File.Delete(path);
                    return Array.ConvertAll(map, v => (Half)v);
                });
            }
            finally
            {
                Directory.Delete(temp, recursive: true);
            }
            Write(cache, maps);
        }
        return new TrainingData
        {
            Files = files,
            Groups = Calibration.SameGroups(files),
            Originals = maps[..files.Length],
            EditSource = edits.Select(e => e.Source).ToArray(),
            EditLabel = edits.Select(e => e.Edit.Label).ToArray(),
            Edits = maps[files.Length..],
        };
    }

    private static string WriteEdit(string directory, int index, string source, ImageEdit edit)
    {
        string path = Path.Combine(directory, $"{index}{edit.Extension}");
        File.WriteAllBytes(path, edit.ApplyTo(File.ReadAllBytes(source)));
        return path;
    }

    private static void Write(string path, Half[][] maps)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var stream = File.Create(path);
        foreach (var map in maps)
        {
            stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(map.AsSpan()));
        }
    }

    private static Half[][] Read(string path, int count)
    {
        using var stream = File.OpenRead(path);
        var maps = new Half[count][];
        for (int i = 0; i < count; i++)
        {
            maps[i] = new Half[FeatureExtractor.Channels * FeatureExtractor.Cells];
            stream.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(maps[i].AsSpan()));
        }
        return maps;
    }

    /// <summary>The head's inputs for maps (see <see cref="FeatureExtractor.Describe"/>).</summary>
    public static float[][] Pool(Half[][] maps, float p, bool regions) =>
        DevPhotos.Map(maps, m => FeatureExtractor.Describe(Array.ConvertAll(m, h => (float)h), p, regions), quiet: true);
}
