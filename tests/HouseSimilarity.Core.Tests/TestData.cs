using HouseSimilarity.Embedding;

namespace HouseSimilarity.Tests;

/// <summary>Paths of the repository's sample photos and a scratch folder per test class.</summary>
internal static class TestData
{
    public static string RepoRoot { get; } = FindRoot();

    public static string Samples => Path.Combine(RepoRoot, "samples", "houses");

    public static string Sample(string name) => Path.Combine(Samples, name + ".jpg");

    public static string[] AllSamples => Directory.GetFiles(Samples, "*.jpg").OrderBy(f => f, StringComparer.Ordinal).ToArray();

    public static string NewScratchDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "hs-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "HouseSimilarity.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("HouseSimilarity.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>One embedder for the whole test run: loading the ONNX sessions takes a while.</summary>
public sealed class EmbedderFixture : IDisposable
{
    public HouseEmbedder Embedder { get; } = new(HouseEmbedder.DefaultModelDirectory);

    public void Dispose() => Embedder.Dispose();
}

[CollectionDefinition("Embedder")]
public sealed class EmbedderCollection : ICollectionFixture<EmbedderFixture>;
