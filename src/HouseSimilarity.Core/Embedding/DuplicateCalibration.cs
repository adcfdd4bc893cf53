using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace HouseSimilarity.Embedding;

/// <summary>
/// What a distance between two photos means for one model, measured on held-out photos and their edited copies
/// (<c>calibration.json</c> next to <c>house.onnx</c>, written by <c>hstool calibrate</c>; see models/MODEL.md):
/// <list type="bullet">
/// <item><see cref="Probability"/>: a calibrated P(duplicate | distance), logistic in the distance, for the prior the file states;</item>
/// <item><see cref="FalsePairRate"/>: the fraction of unrelated pairs (other photos, other photos of the same house included) at
/// distance ≤ a threshold, which with the number of pairs of a collection gives the false pairs to expect
/// (<see cref="ExpectedFalsePairs"/>) and the threshold that keeps them within a bound (<see cref="ThresholdFor"/>);</item>
/// <item><see cref="Recall"/>: the fraction of true duplicate pairs (a photo and its edited copy) within a threshold.</item>
/// </list>
/// The distributions are cumulative counts on a distance grid, linearly interpolated. Below the smallest distances measured
/// among unrelated pairs the false pair rate is never 0: it is extrapolated by the exponential tail the file gives
/// (<c>rate(t) = rate(from) · exp((t - from) / scale)</c>), fitted to the closest unrelated pairs measured with its scale
/// at the 95 % upper confidence bound, so it falls off more slowly than the data suggest. Immutable and thread-safe.
/// </summary>
public sealed class DuplicateCalibration
{
    public const string FileName = "calibration.json";
    public const string Format = "house-duplicate-calibration/1";
    private const double Tolerance = 1e-9;

    private readonly double _intercept, _slope;
    private readonly double[] _grid;
    private readonly long[] _negatives, _positives;
    private readonly int _tailIndex;
    private readonly double _tailScale;

    public string ModelId { get; }

    /// <summary>The model's own duplicate threshold (its metadata); <see cref="ThresholdFor"/> never goes above it.</summary>
    public double DefaultThreshold { get; }

    /// <summary>The share of duplicate pairs <see cref="Probability"/> assumes among the pairs it is asked about.</summary>
    public double Prior { get; }

    /// <summary>P(duplicate | d) = 1 / (1 + exp(-(Intercept + Slope · d))).</summary>
    public double Intercept => _intercept;
    public double Slope => _slope;

    /// <summary>Unrelated pairs measured.</summary>
    public long NegativePairs { get; }

    /// <summary>Duplicate pairs measured.</summary>
    public long PositivePairs { get; }

    /// <summary>Below this distance <see cref="FalsePairRate"/> is the fitted exponential tail, at and above it the measured counts.</summary>
    public double TailFrom => _grid[_tailIndex];

    /// <summary>The tail's scale (distance per factor e of the false pair rate).</summary>
    public double TailScale => _tailScale;

    /// <summary>Free-text notes of the file: what was measured and what the prior stands for.</summary>
    public string Measured { get; }
    public string PriorNote { get; }

    /// <param name="grid">Distances, strictly increasing from 0 to 2.</param>
    /// <param name="negativesAtOrBelow">Unrelated pairs at distance ≤ each grid point (cumulative, the last one all of them).</param>
    /// <param name="positivesAtOrBelow">Duplicate pairs at distance ≤ each grid point.</param>
    /// <param name="tailFrom">A grid point with unrelated pairs at or below it; the exponential tail applies below it.</param>
    internal DuplicateCalibration(string modelId, double defaultThreshold, double intercept, double slope, double prior,
        double[] grid, long[] negativesAtOrBelow, long[] positivesAtOrBelow, long negativePairs, long positivePairs,
        double tailFrom, double tailScale, string measured = "", string priorNote = "", string source = "the calibration")
    {
        void Require(bool ok, string what)
        {
            if (!ok) throw new InvalidDataException($"The duplicate calibration '{source}' is invalid: {what}.");
        }
        Require(!string.IsNullOrWhiteSpace(modelId), "modelId is empty");
        Require(double.IsFinite(defaultThreshold) && defaultThreshold > 0 && defaultThreshold <= 2, "defaultThreshold must be in (0, 2]");
        Require(double.IsFinite(intercept), "probability.intercept must be a finite number");
        Require(double.IsFinite(slope) && slope < 0, "probability.slope must be a finite negative number (the probability falls with the distance)");
        Require(double.IsFinite(prior) && prior > 0 && prior < 1, "probability.prior must be in (0, 1)");
        Require(negativePairs > 0 && positivePairs > 0, "negativePairs and positivePairs must be positive");
        Require(grid.Length >= 2 && grid.Length == negativesAtOrBelow.Length && grid.Length == positivesAtOrBelow.Length,
            "cdf needs at least 2 rows of [distance, negativesAtOrBelow, positivesAtOrBelow]");
        for (int i = 0; i < grid.Length; i++)
        {
            string row = $"cdf row {i + 1}";
            Require(double.IsFinite(grid[i]) && grid[i] >= 0 && grid[i] <= 2, $"{row}: the distance must be in [0, 2]");
            Require(i == 0 || grid[i] > grid[i - 1], $"{row}: distances must be strictly increasing");
            Require(negativesAtOrBelow[i] >= 0 && negativesAtOrBelow[i] <= negativePairs, $"{row}: negativesAtOrBelow must be in [0, negativePairs]");
            Require(positivesAtOrBelow[i] >= 0 && positivesAtOrBelow[i] <= positivePairs, $"{row}: positivesAtOrBelow must be in [0, positivePairs]");
            Require(i == 0 || negativesAtOrBelow[i] >= negativesAtOrBelow[i - 1], $"{row}: negativesAtOrBelow must not decrease (a CDF)");
            Require(i == 0 || positivesAtOrBelow[i] >= positivesAtOrBelow[i - 1], $"{row}: positivesAtOrBelow must not decrease (a CDF)");
        }
        Require(grid[0] == 0 && Math.Abs(grid[^1] - 2) < Tolerance, "cdf must run from distance 0 to 2");
        Require(negativesAtOrBelow[^1] == negativePairs && positivesAtOrBelow[^1] == positivePairs,
            "the last cdf row must count every pair (negativePairs, positivePairs)");
        int tail = Array.FindIndex(grid, g => Math.Abs(g - tailFrom) < Tolerance);
        Require(double.IsFinite(tailFrom) && tail >= 0, "tail.from must be one of the cdf distances");
        Require(negativesAtOrBelow[tail] > 0, "tail.from must have unrelated pairs at or below it");
        Require(double.IsFinite(tailScale) && tailScale > 0, "tail.scale must be a finite positive number");

        ModelId = modelId;
        DefaultThreshold = defaultThreshold;
        _intercept = intercept;
        _slope = slope;
        Prior = prior;
        _grid = (double[])grid.Clone();
        _negatives = (long[])negativesAtOrBelow.Clone();
        _positives = (long[])positivesAtOrBelow.Clone();
        NegativePairs = negativePairs;
        PositivePairs = positivePairs;
        _tailIndex = tail;
        _tailScale = tailScale;
        Measured = measured;
        PriorNote = priorNote;
    }

    /// <summary>Reads a calibration file; a missing, unreadable or invalid file is an error naming it and what is wrong.</summary>
    public static DuplicateCalibration Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The duplicate calibration '{path}' is missing; rebuild the module (./build.ps1).", path);
        }
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"The duplicate calibration '{path}' cannot be read: {e.Message}", e);
        }
        try
        {
            using var document = JsonDocument.Parse(bytes);
            return FromJson(document.RootElement, path);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"The duplicate calibration '{path}' is not valid JSON: {e.Message}", e);
        }
    }

    private static DuplicateCalibration FromJson(JsonElement root, string path)
    {
        InvalidDataException Invalid(string what) => new($"The duplicate calibration '{path}' is invalid: {what}.");
        JsonElement Property(JsonElement parent, string name, string where)
        {
            if (parent.ValueKind != JsonValueKind.Object) throw Invalid($"{where} must be an object");
            return parent.TryGetProperty(name, out JsonElement value) ? value : throw Invalid($"{where} has no '{name}'");
        }
        double Number(JsonElement value, string name) =>
            value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double d) && double.IsFinite(d)
                ? d : throw Invalid($"{name} must be a finite number");
        long Count(JsonElement value, string name) =>
            value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long n) && n >= 0
                ? n : throw Invalid($"{name} must be a whole non-negative number");
        string Text(JsonElement value, string name) =>
            value.ValueKind == JsonValueKind.String ? value.GetString()! : throw Invalid($"{name} must be a string");

        if (root.ValueKind != JsonValueKind.Object) throw Invalid("the file must hold a JSON object");
        string format = Text(Property(root, "format", "the file"), "format");
        if (format != Format) throw Invalid($"format is '{format}', expected '{Format}'");
        JsonElement probability = Property(root, "probability", "the file");
        string method = Text(Property(probability, "method", "probability"), "probability.method");
        if (method != "logistic") throw Invalid($"probability.method is '{method}', expected 'logistic'");
        JsonElement tail = Property(root, "tail", "the file");
        JsonElement cdf = Property(root, "cdf", "the file");
        if (cdf.ValueKind != JsonValueKind.Array) throw Invalid("cdf must be an array of [distance, negativesAtOrBelow, positivesAtOrBelow]");
        int rows = cdf.GetArrayLength();
        var grid = new double[rows];
        var negatives = new long[rows];
        var positives = new long[rows];
        int i = 0;
        foreach (JsonElement row in cdf.EnumerateArray())
        {
            if (row.ValueKind != JsonValueKind.Array || row.GetArrayLength() != 3)
            {
                throw Invalid($"cdf row {i + 1} must be [distance, negativesAtOrBelow, positivesAtOrBelow]");
            }
            grid[i] = Number(row[0], $"cdf row {i + 1}: the distance");
            negatives[i] = Count(row[1], $"cdf row {i + 1}: negativesAtOrBelow");
            positives[i] = Count(row[2], $"cdf row {i + 1}: positivesAtOrBelow");
            i++;
        }
        return new DuplicateCalibration(
            Text(Property(root, "modelId", "the file"), "modelId"),
            Number(Property(root, "defaultThreshold", "the file"), "defaultThreshold"),
            Number(Property(probability, "intercept", "probability"), "probability.intercept"),
            Number(Property(probability, "slope", "probability"), "probability.slope"),
            Number(Property(probability, "prior", "probability"), "probability.prior"),
            grid, negatives, positives,
            Count(Property(root, "negativePairs", "the file"), "negativePairs"),
            Count(Property(root, "positivePairs", "the file"), "positivePairs"),
            Number(Property(tail, "from", "tail"), "tail.from"),
            Number(Property(tail, "scale", "tail"), "tail.scale"),
            root.TryGetProperty("measured", out JsonElement measured) ? Text(measured, "measured") : "",
            probability.TryGetProperty("priorNote", out JsonElement note) ? Text(note, "probability.priorNote") : "",
            path);
    }

    /// <summary>Calibrated P(duplicate) of two photos at L2 distance <paramref name="l2"/>: in [0, 1], decreasing with the distance.</summary>
    public double Probability(double l2)
    {
        RequireDistance(l2, nameof(l2));
        double z = _intercept + _slope * l2;
        return z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));
    }

    /// <summary>
    /// The inverse of <see cref="Probability"/>: the distance at which the probability is <paramref name="probability"/>, so that
    /// pairs at distance ≤ it have at least that probability; clamped to [0, 2] (0 for probabilities above that of distance 0).
    /// </summary>
    public double DistanceFor(double probability)
    {
        if (double.IsNaN(probability) || probability < 0 || probability > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "A probability is in [0, 1].");
        }
        if (probability == 0) return 2;
        if (probability == 1) return 0;
        double d = (Math.Log(probability / (1 - probability)) - _intercept) / _slope;
        return Math.Clamp(d, 0, 2);
    }

    /// <summary>
    /// The fraction of unrelated pairs at distance ≤ <paramref name="threshold"/>: measured (interpolated) from the tail's start up,
    /// the exponential tail below it (never 0; a threshold below 0 reads as 0).
    /// </summary>
    public double FalsePairRate(double threshold)
    {
        RequireDistance(threshold, nameof(threshold));
        double t = Math.Max(threshold, 0);
        if (t < TailFrom)
        {
            return (double)_negatives[_tailIndex] / NegativePairs * Math.Exp((t - TailFrom) / _tailScale);
        }
        return Interpolate(_negatives, t) / NegativePairs;
    }

    /// <summary>The fraction of true duplicate pairs (a photo and its edited copy) at distance ≤ <paramref name="threshold"/>.</summary>
    public double Recall(double threshold)
    {
        RequireDistance(threshold, nameof(threshold));
        return threshold < 0 ? 0 : Interpolate(_positives, threshold) / PositivePairs;
    }

    /// <summary>Unrelated pairs within <paramref name="threshold"/> to expect among <paramref name="photos"/> photos: rate · n(n-1)/2.</summary>
    public double ExpectedFalsePairs(double threshold, long photos) => FalsePairRate(threshold) * Pairs(photos);

    /// <summary>
    /// The largest threshold at which a collection of <paramref name="photos"/> photos expects at most
    /// <paramref name="maxExpectedFalsePairs"/> false pairs; never above <see cref="DefaultThreshold"/>, never below 0 (0 when even
    /// distance 0 would expect more).
    /// </summary>
    public double ThresholdFor(long photos, double maxExpectedFalsePairs)
    {
        if (double.IsNaN(maxExpectedFalsePairs) || maxExpectedFalsePairs < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxExpectedFalsePairs), maxExpectedFalsePairs, "The bound is a number ≥ 0.");
        }
        double pairs = Pairs(photos);
        bool Within(double t) => FalsePairRate(t) * pairs <= maxExpectedFalsePairs;
        if (Within(DefaultThreshold)) return DefaultThreshold;
        if (!Within(0)) return 0;
        // The rate is continuous and non-decreasing: bisect for the last distance within the bound.
        double lo = 0, hi = DefaultThreshold;
        for (int i = 0; i < 100 && hi - lo > 1e-12; i++)
        {
            double mid = (lo + hi) / 2;
            if (Within(mid)) lo = mid; else hi = mid;
        }
        return lo;
    }

    private static double Pairs(long photos)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(photos);
        return photos * (photos - 1.0) / 2;
    }

    private static void RequireDistance(double value, string name)
    {
        if (double.IsNaN(value)) throw new ArgumentOutOfRangeException(name, value, "A distance is a number, not NaN.");
    }

    /// <summary>The cumulative count at distance <paramref name="t"/> ≥ 0, linear between grid points; all pairs beyond the grid.</summary>
    private double Interpolate(long[] counts, double t)
    {
        if (t >= _grid[^1]) return counts[^1];
        int i = Array.BinarySearch(_grid, t);
        if (i >= 0) return counts[i];
        int hi = ~i, lo = hi - 1;
        double f = (t - _grid[lo]) / (_grid[hi] - _grid[lo]);
        return counts[lo] + f * (counts[hi] - counts[lo]);
    }

    /// <summary>The file's JSON: one line per grid row, so it reads as a table.</summary>
    internal string ToJson()
    {
        var ci = CultureInfo.InvariantCulture;
        var readable = new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        string S(string s) => JsonSerializer.Serialize(s, readable);
        var b = new StringBuilder();
        b.AppendLine("{");
        b.AppendLine(ci, $"  \"format\": {S(Format)},");
        b.AppendLine(ci, $"  \"modelId\": {S(ModelId)},");
        b.AppendLine(ci, $"  \"defaultThreshold\": {DefaultThreshold.ToString("R", ci)},");
        b.AppendLine(ci, $"  \"measured\": {S(Measured)},");
        b.AppendLine("  \"probability\": {");
        b.AppendLine("    \"method\": \"logistic\",");
        b.AppendLine("    \"formula\": \"P(duplicate | d) = 1 / (1 + exp(-(intercept + slope * d)))\",");
        b.AppendLine(ci, $"    \"intercept\": {_intercept.ToString("R", ci)},");
        b.AppendLine(ci, $"    \"slope\": {_slope.ToString("R", ci)},");
        b.AppendLine(ci, $"    \"prior\": {Prior.ToString("R", ci)},");
        b.AppendLine(ci, $"    \"priorNote\": {S(PriorNote)}");
        b.AppendLine("  },");
        b.AppendLine(ci, $"  \"negativePairs\": {NegativePairs},");
        b.AppendLine(ci, $"  \"positivePairs\": {PositivePairs},");
        b.AppendLine("  \"tail\": {");
        b.AppendLine(ci, $"    \"from\": {TailFrom.ToString("0.000", ci)},");
        b.AppendLine(ci, $"    \"scale\": {_tailScale.ToString("R", ci)},");
        b.AppendLine("    \"note\": \"below 'from': falsePairRate(t) = negativesAtOrBelow(from) / negativePairs * exp((t - from) / scale)\"");
        b.AppendLine("  },");
        b.AppendLine("  \"columns\": [\"distance\", \"negativesAtOrBelow\", \"positivesAtOrBelow\"],");
        b.AppendLine("  \"cdf\": [");
        for (int i = 0; i < _grid.Length; i++)
        {
            b.AppendLine(ci, $"    [{_grid[i].ToString("0.000", ci)}, {_negatives[i]}, {_positives[i]}]{(i + 1 < _grid.Length ? "," : "")}");
        }
        b.AppendLine("  ]");
        b.AppendLine("}");
        return b.ToString();
    }
}
