using System.Diagnostics;
using HouseSimilarity.Embedding;

namespace HouseSimilarity.Tools;

/// <summary>
/// Bare inference throughput of the module's model: photos decoded beforehand, then backbone + head only,
/// on as many parallel callers as the module uses. The reference for the end-to-end ingest rate.
/// </summary>
internal static class BenchInference
{
    public static int Run(string photos, string modelPath, string backboneDirectory, int count)
    {
        using var embedder = new HouseEmbedder(modelPath);
        string[] files = Directory.GetFiles(photos, "*.jpg").OrderBy(f => f, StringComparer.Ordinal).Take(count).ToArray();
        float[][] pixels = DevPhotos.Map(files, f => embedder.Loader.Load(f).Pixels);
        // Warm-up: the first runs of a session allocate and optimise.
        for (int i = 0; i < 4; i++) embedder.Embed(pixels[i]);

        var clock = Stopwatch.StartNew();
        Parallel.For(0, pixels.Length, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            i => embedder.Embed(pixels[i]));
        double parallel = pixels.Length / clock.Elapsed.TotalSeconds;

        clock.Restart();
        int sequentialCount = Math.Min(200, pixels.Length);
        for (int i = 0; i < sequentialCount; i++) embedder.Embed(pixels[i]);
        double sequential = sequentialCount / clock.Elapsed.TotalSeconds;

        // The backbone alone (the NuGet preprocess + ResNet18 graphs up to the last map), one caller, same photos.
        using (var backbone = new FeatureExtractor(backboneDirectory))
        {
            for (int i = 0; i < 4; i++) backbone.FeatureMap(pixels[i]);
            clock.Restart();
            for (int i = 0; i < sequentialCount; i++) backbone.FeatureMap(pixels[i]);
            Console.WriteLine($"backbone_sequential_images_per_s={sequentialCount / clock.Elapsed.TotalSeconds:F2}");
        }

        clock.Restart();
        int decodeCount = Math.Min(200, files.Length);
        for (int i = 0; i < decodeCount; i++) embedder.Loader.Load(files[i]);
        double decodeMs = clock.Elapsed.TotalMilliseconds / decodeCount;

        Console.WriteLine($"inference_parallel_images_per_s={parallel:F2}");
        Console.WriteLine($"inference_sequential_images_per_s={sequential:F2}");
        Console.WriteLine($"decode_ms_per_image={decodeMs:F2}");
        Console.WriteLine($"parallelism={Environment.ProcessorCount}");
        return 0;
    }
}
