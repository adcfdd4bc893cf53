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

/// <summary>
/// The module's model composed from the NuGet backbone and the committed head (as the build does), and the
/// bare backbone; loaded once for the whole test run.
/// </summary>
public sealed class EmbedderFixture : IDisposable
{
    private readonly string _directory = TestData.NewScratchDirectory();

    public EmbedderFixture()
    {
        ModelPath = Path.Combine(_directory, HouseEmbedder.ModelFileName);
        HouseSimilarity.Tools.HeadFile.Compose(ModelsDirectory, ModelPath);
        Embedder = new HouseEmbedder(ModelPath);
        Backbone = new HouseSimilarity.Tools.FeatureExtractor(ModelsDirectory, stagesGemPower: 3);
    }

    /// <summary>Backbone files and committed head, copied next to the test assembly by the build.</summary>
    public static string ModelsDirectory => Path.Combine(AppContext.BaseDirectory, "models");

    public string ModelPath { get; }
    public HouseEmbedder Embedder { get; }
    internal HouseSimilarity.Tools.FeatureExtractor Backbone { get; }

    public void Dispose()
    {
        Embedder.Dispose();
        Backbone.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}

[CollectionDefinition("Embedder")]
public sealed class EmbedderCollection : ICollectionFixture<EmbedderFixture>;
