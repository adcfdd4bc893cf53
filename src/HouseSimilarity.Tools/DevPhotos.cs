namespace HouseSimilarity.Tools;

/// <summary>The development photos (Houses Dataset, houses 1..300): files, labels and backbone features.</summary>
internal static class DevPhotos
{
    /// <summary>
    /// Re-encoded copies of one listing photo under two names (dataset README). Byte-identical copies are
    /// found by hash; these must be listed. Both kinds are duplicates, never false positives.
    /// </summary>
    public static readonly (string, string)[] KnownReencodedPairs =
    [
        ("10_kitchen", "27_kitchen"), ("11_frontal", "30_frontal"), ("12_frontal", "32_frontal"),
        ("9_bathroom", "21_bathroom"), ("9_bedroom", "21_bedroom"), ("259_bathroom", "296_bathroom"),
        ("259_bedroom", "296_bedroom"),
    ];

    public static string[] List(string directory, int firstHouse = 1, int lastHouse = int.MaxValue) =>
        Directory.GetFiles(directory, "*.jpg")
            .Where(f => House(f) is int h && h >= firstHouse && h <= lastHouse)
            .OrderBy(House).ThenBy(f => f, StringComparer.Ordinal)
            .ToArray();

    public static int House(string path) => int.Parse(System.IO.Path.GetFileNameWithoutExtension(path).Split('_')[0]);

    public static string Room(string path) => System.IO.Path.GetFileNameWithoutExtension(path).Split('_')[1];

    public static TOut[] Map<TIn, TOut>(IReadOnlyList<TIn> items, Func<TIn, TOut> work, bool quiet = false)
    {
        var results = new TOut[items.Count];
        int done = 0;
        Parallel.For(0, items.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            results[i] = work(items[i]);
            int n = Interlocked.Increment(ref done);
            if (!quiet && n % 200 == 0)
            {
                Console.Error.WriteLine($"  {n}/{items.Count}");
            }
        });
        return results;
    }
}
