using System.Globalization;
using HouseSimilarity.Embedding;
using HouseSimilarity.Tools;

namespace HouseSimilarity.Tests;

/// <summary>The committed models/calibration.json, read as the module reads it, and the refusal of broken files.</summary>
public sealed class DuplicateCalibrationTests : IDisposable
{
    private static readonly string CommittedPath = Path.Combine(TestData.RepoRoot, "models", DuplicateCalibration.FileName);
    private readonly DuplicateCalibration _calibration = DuplicateCalibration.Load(CommittedPath);
    private readonly string _dir = TestData.NewScratchDirectory();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static IEnumerable<double> Distances(double step = 0.001) =>
        Enumerable.Range(0, (int)Math.Round(2 / step) + 1).Select(i => i * step);

    [Fact]
    public void Probability_is_within_0_and_1_and_falls_with_the_distance()
    {
        double previous = double.PositiveInfinity;
        foreach (double d in Distances())
        {
            double p = _calibration.Probability(d);
            Assert.InRange(p, 0, 1);
            Assert.True(p <= previous, $"P({d}) = {p} rises above P at the previous distance ({previous})");
            previous = p;
        }
        Assert.True(_calibration.Probability(0.05) > 0.9, $"P(0.05) = {_calibration.Probability(0.05)}");
        Assert.True(_calibration.Probability(1.2) < 0.05, $"P(1.2) = {_calibration.Probability(1.2)}");
        Assert.True(_calibration.Probability(0.3) > _calibration.Probability(1.0));
    }

    [Theory]
    [InlineData(0.01)]
    [InlineData(0.1)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.99)]
    public void DistanceFor_inverts_Probability(double probability)
    {
        double d = _calibration.DistanceFor(probability);
        Assert.InRange(d, 0, 2);
        Assert.Equal(probability, _calibration.Probability(d), 9);
        foreach (double distance in new[] { 0.6, 0.8, 0.9, 1.0 })
        {
            Assert.Equal(distance, _calibration.DistanceFor(_calibration.Probability(distance)), 6);
        }
        Assert.Equal(2, _calibration.DistanceFor(0));
        Assert.Equal(0, _calibration.DistanceFor(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => _calibration.DistanceFor(1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => _calibration.DistanceFor(double.NaN));
    }

    [Fact]
    public void False_pair_rate_and_recall_are_cdfs_and_the_rate_is_never_0()
    {
        double rate = 0, recall = 0;
        foreach (double d in Distances())
        {
            double r = _calibration.FalsePairRate(d), c = _calibration.Recall(d);
            Assert.InRange(r, 0, 1);
            Assert.InRange(c, 0, 1);
            Assert.True(r >= rate, $"FalsePairRate({d}) = {r} falls below {rate}");
            Assert.True(c >= recall, $"Recall({d}) = {c} falls below {recall}");
            Assert.True(r > 0, $"FalsePairRate({d}) is 0");
            (rate, recall) = (r, c);
        }
        Assert.Equal(1, _calibration.FalsePairRate(2));
        Assert.Equal(1, _calibration.Recall(2));
        // Below the closest unrelated pairs measured, the tail still gives a rate, and less than where pairs were measured.
        Assert.True(_calibration.FalsePairRate(_calibration.TailFrom / 2) < _calibration.FalsePairRate(_calibration.TailFrom));
        // The default threshold finds most duplicates and few unrelated pairs.
        Assert.True(_calibration.Recall(_calibration.DefaultThreshold) > 0.9);
        Assert.True(_calibration.FalsePairRate(_calibration.DefaultThreshold) < 1e-4);
    }

    [Fact]
    public void Expected_false_pairs_grow_with_the_square_of_the_collection()
    {
        double t = _calibration.DefaultThreshold;
        double k1 = _calibration.ExpectedFalsePairs(t, 1_000), k10 = _calibration.ExpectedFalsePairs(t, 10_000);
        double k100 = _calibration.ExpectedFalsePairs(t, 100_000);
        Assert.Equal(_calibration.FalsePairRate(t) * 1_000 * 999 / 2, k1, 9);
        Assert.InRange(k10 / k1, 99, 101);
        Assert.InRange(k100 / k10, 99, 101);
        Assert.Equal(0, _calibration.ExpectedFalsePairs(t, 1));
        Assert.Equal(0, _calibration.ExpectedFalsePairs(t, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => _calibration.ExpectedFalsePairs(t, -1));
    }

    [Fact]
    public void Threshold_falls_as_the_collection_grows_and_keeps_the_bound()
    {
        var thresholds = new List<double>();
        foreach (long photos in new long[] { 1_000, 10_000, 100_000, 1_000_000 })
        {
            double bound = photos / 1000.0, t = _calibration.ThresholdFor(photos, bound);
            Assert.InRange(t, 0, _calibration.DefaultThreshold);
            Assert.True(_calibration.ExpectedFalsePairs(t, photos) <= bound * (1 + 1e-9),
                $"{photos} photos at {t}: {_calibration.ExpectedFalsePairs(t, photos)} expected false pairs > {bound}");
            // The largest such threshold: a little further is over the bound (unless capped by the default).
            if (t < _calibration.DefaultThreshold) Assert.True(_calibration.ExpectedFalsePairs(t + 1e-6, photos) > bound);
            thresholds.Add(t);
        }
        Assert.True(thresholds[0] > thresholds[2] && thresholds[2] > thresholds[3], string.Join(", ", thresholds));
        Assert.True(thresholds[0] >= thresholds[1] && thresholds[1] >= thresholds[2]);
        // A small collection keeps the model's own threshold; the bound 0 leaves (next to) nothing.
        Assert.Equal(_calibration.DefaultThreshold, _calibration.ThresholdFor(10, 1));
        Assert.Equal(_calibration.DefaultThreshold, _calibration.ThresholdFor(1, 0));
        Assert.Equal(0, _calibration.ThresholdFor(1_000, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => _calibration.ThresholdFor(1_000, double.NaN));
    }

    [Fact]
    public void Committed_file_is_small_and_measured_with_the_committed_model()
    {
        Assert.True(new FileInfo(CommittedPath).Length < 100 * 1024);
        // The model id of the head composed into house.onnx (the test Model_id_changes_with_what_is_pooled ties it to the ONNX metadata).
        var (file, head) = HeadFile.Load(EmbedderFixture.ModelsDirectory);
        Assert.Equal(file.ModelId(head), _calibration.ModelId);
        Assert.Equal(file.DuplicateThreshold, _calibration.DefaultThreshold);
        Assert.InRange(_calibration.Prior, 1e-6, 0.5);
        Assert.True(_calibration.NegativePairs > 1_000_000 && _calibration.PositivePairs > 1_000);
    }

    private string Broken(string name, Func<string, string> edit)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, edit(File.ReadAllText(CommittedPath)));
        return path;
    }

    private static void RefusedNamingTheFile(string path, string? detail = null)
    {
        var e = Assert.Throws<InvalidDataException>(() => DuplicateCalibration.Load(path));
        Assert.Contains(path, e.Message);
        if (detail is not null) Assert.Contains(detail, e.Message);
    }

    [Fact]
    public void Missing_file_is_an_error_naming_it()
    {
        string path = Path.Combine(_dir, "missing", DuplicateCalibration.FileName);
        var e = Assert.Throws<FileNotFoundException>(() => DuplicateCalibration.Load(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Truncated_json_is_refused()
    {
        RefusedNamingTheFile(Broken("truncated.json", s => s[..(s.Length / 2)]), "not valid JSON");
        RefusedNamingTheFile(Broken("empty.json", _ => ""));
    }

    [Fact]
    public void NaN_and_other_bad_values_are_refused()
    {
        RefusedNamingTheFile(Broken("nan.json", s => ReplaceValue(s, "slope", "NaN")));
        RefusedNamingTheFile(Broken("nan-string.json", s => ReplaceValue(s, "slope", "\"NaN\"")), "slope");
        RefusedNamingTheFile(Broken("infinite.json", s => ReplaceValue(s, "intercept", "1e999")), "intercept");
        RefusedNamingTheFile(Broken("rising.json", s => ReplaceValue(s, "slope", "3.5")), "slope");
        RefusedNamingTheFile(Broken("prior.json", s => ReplaceValue(s, "prior", "1.5")), "prior");
        RefusedNamingTheFile(Broken("scale.json", s => ReplaceValue(s, "scale", "0")), "tail.scale");
        RefusedNamingTheFile(Broken("format.json", s => ReplaceValue(s, "format", "\"other/2\"")), "format");
        RefusedNamingTheFile(Broken("no-model.json", s => ReplaceValue(s, "modelId", "\"\"")), "modelId");
    }

    [Fact]
    public void Non_monotone_or_unsorted_cdf_is_refused()
    {
        string[] lines = File.ReadAllLines(CommittedPath);
        int first = Array.FindIndex(lines, l => l.TrimStart().StartsWith("[0.000,", StringComparison.Ordinal));
        Assert.True(first > 0);
        int row = Array.FindLastIndex(lines, l => l.TrimStart().StartsWith("[1.", StringComparison.Ordinal));

        // A negative count that falls, then one above the total, then an unsorted distance.
        string Edit(Func<double, long, long, (double, long, long)> change)
        {
            var copy = (string[])lines.Clone();
            string line = copy[row].Trim().TrimEnd(',');
            string[] parts = line.Trim('[', ']').Split(',', StringSplitOptions.TrimEntries);
            var (d, n, p) = change(double.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture),
                long.Parse(parts[2], CultureInfo.InvariantCulture));
            copy[row] = string.Create(CultureInfo.InvariantCulture, $"    [{d:0.000}, {n}, {p}],");
            return string.Join('\n', copy);
        }
        string Write(string name, string text)
        {
            string path = Path.Combine(_dir, name);
            File.WriteAllText(path, text);
            return path;
        }
        RefusedNamingTheFile(Write("falling.json", Edit((d, n, p) => (d, 0, p))), "must not decrease");
        RefusedNamingTheFile(Write("falling-positives.json", Edit((d, n, p) => (d, n, 0))), "must not decrease");
        RefusedNamingTheFile(Write("over.json", Edit((d, n, p) => (d, _calibration.NegativePairs + 1, p))), "negativesAtOrBelow");
        RefusedNamingTheFile(Write("unsorted.json", Edit((d, n, p) => (d - 0.5, n, p))), "strictly increasing");
        RefusedNamingTheFile(Write("negative-distance.json", string.Join('\n', lines).Replace("[0.000,", "[-0.005,")), "[0, 2]");
    }

    [Fact]
    public void The_committed_file_loads_again_after_a_round_trip()
    {
        string path = Path.Combine(_dir, DuplicateCalibration.FileName);
        File.WriteAllText(path, _calibration.ToJson());
        var again = DuplicateCalibration.Load(path);
        Assert.Equal(_calibration.ModelId, again.ModelId);
        foreach (double d in new[] { 0.0, 0.3, 0.7, 0.836, 0.9, 1.3 })
        {
            Assert.Equal(_calibration.Probability(d), again.Probability(d), 12);
            Assert.Equal(_calibration.FalsePairRate(d), again.FalsePairRate(d), 15);
            Assert.Equal(_calibration.Recall(d), again.Recall(d), 12);
        }
    }

    private static string ReplaceValue(string json, string key, string value)
    {
        int k = json.IndexOf($"\"{key}\":", StringComparison.Ordinal);
        Assert.True(k >= 0, $"no '{key}' in the file");
        int start = k + key.Length + 3;
        int end = json.IndexOfAny([',', '\n', '}'], start);
        return json[..start] + " " + value + json[end..];
    }
}
