using HouseSimilarity.Tools;
using Xunit.Abstractions;

namespace HouseSimilarity.Tests;

/// <summary>
/// The decode-and-embed path under mutated photos (tests/fuzz/corpus): a bounded run in every test run, longer on
/// demand (HOUSESIM_FUZZ_CASES, HOUSESIM_FUZZ_SECONDS, HOUSESIM_FUZZ_SEED), and every earlier finding replayed.
/// </summary>
[Collection("Embedder")]
public sealed class FuzzTests(EmbedderFixture fixture, ITestOutputHelper output) : IDisposable
{
    private readonly string _findings = TestData.NewScratchDirectory();

    public void Dispose() => Directory.Delete(_findings, recursive: true);

    private static string Folder(string name) => Path.Combine(TestData.RepoRoot, "tests", "fuzz", name);

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), out int value) ? value : fallback;

    [Fact]
    public void Mutated_photos_are_embedded_or_refused_never_crash_hang_or_exhaust_memory()
    {
        int seed = Setting("HOUSESIM_FUZZ_SEED", Random.Shared.Next(1_000_000));
        var options = new Fuzz.Options(Folder("corpus"), _findings, Setting("HOUSESIM_FUZZ_CASES", 1500),
            TimeSpan.FromSeconds(Setting("HOUSESIM_FUZZ_SECONDS", 120)), seed, CaseLimit: TimeSpan.FromSeconds(20),
            MemoryLimitBytes: 2L << 30);
        var report = Fuzz.Run(fixture.Embedder, options, TextWriter.Null);
        output.WriteLine(report.ToString());
        Assert.True(report.Findings.Count == 0,
            $"{report}. Replay with HOUSESIM_FUZZ_SEED={seed}; the cases are in tests/fuzz/regressions once fixed:\n" +
            string.Join("\n", report.Findings));
        // A run that stopped at its time budget still has to have tried a meaningful number of cases.
        Assert.True(report.Cases >= Math.Min(options.Cases, 200), report.ToString());
        Assert.True(report.Embedded > 0 && report.Refused.Values.Sum() > 0, report.ToString());
    }

    /// <summary>Each finding, replayed: a valid vector (another decoder may read it) or a clear error naming the file.</summary>
    [Fact]
    public void Every_earlier_finding_embeds_or_is_refused_with_a_clear_error()
    {
        var files = Directory.GetFiles(Folder("regressions")).Where(f => !f.EndsWith(".md", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(files);
        foreach (string file in files)
        {
            try
            {
                var embedding = fixture.Embedder.Embed(file);
                Assert.Null(HouseRecordCheck.VectorProblem(embedding.Vector, fixture.Embedder.Model.Dimension));
            }
            catch (HouseImageException e)
            {
                Assert.Equal(file, e.Path);
                Assert.Contains(file, e.Message);
            }
        }
    }

    [Fact]
    public void Mutations_are_reproducible_from_the_seed()
    {
        byte[] seed = File.ReadAllBytes(Path.Combine(Folder("corpus"), "baseline.jpg"));
        var rngA = new Random(5);
        var first = Enumerable.Range(0, 50).Select(_ => Fuzz.Mutate(seed, seed, rngA)).ToList();
        var rngB = new Random(5);
        var second = Enumerable.Range(0, 50).Select(_ => Fuzz.Mutate(seed, seed, rngB)).ToList();
        Assert.Equal(first.Select(Convert.ToHexString), second.Select(Convert.ToHexString));
        Assert.Contains(first, m => !m.AsSpan().SequenceEqual(seed));
    }
}
