using System.Globalization;
using System.Text;
using HouseSimilarity.Embedding;
using MathNet.Numerics.Distributions;

namespace HouseSimilarity.Tools;

/// <summary>
/// The <c>calibrate</c> command: what a distance means for the built model. Embeds the validation houses' originals and their
/// <see cref="ImageEdits.Battery"/> edits (<see cref="QualityBenchmark.EmbedBattery"/>), takes the quality benchmark's pair set
/// (<see cref="QualityBenchmark.Pairs"/>: every copy against every original, the originals against each other; a copy and its
/// source and the dataset's identical or re-encoded originals are duplicates, every other pair, other photos of the same house
/// included, is unrelated) and writes <see cref="DuplicateCalibration"/>'s file: a logistic P(duplicate | d) fitted by Newton's
/// method, the cumulative counts of both kinds of pairs on a distance grid and the exponential tail of the unrelated pairs.
/// Prints markdown: held-out calibration of the probability, its reliability table and false pairs by collection size.
/// </summary>
internal static class CalibrateDuplicates
{
    public const double GridStep = 0.005;
    public static readonly int GridPoints = (int)Math.Round(2 / GridStep) + 1;

    /// <summary>The tail starts at the first grid point with at least this many unrelated pairs at or below it.</summary>
    public const int TailPairs = 25;

    /// <summary>Confidence of the upper bound taken for the tail's scale (a slower fall-off than the point estimate).</summary>
    public const double TailConfidence = 0.95;

    static readonly double[] ReliabilityEdges = [0, 0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999, 1];
    static readonly long[] CollectionSizes = [1_000, 10_000, 100_000, 1_000_000];

    public static int Run(string photos, string modelDirectory, string outFile, int firstHouse, int lastHouse, double? prior, string? vectorCache)
    {
        string modelPath = Path.Combine(modelDirectory, HouseEmbedder.ModelFileName);
        using var embedder = new HouseEmbedder(modelPath);
        HouseModelInfo model = embedder.Model;
        Console.Error.WriteLine($"Calibrating {model.Id} ({modelPath}) on houses {firstHouse}..{lastHouse} of {photos}.");
        BatteryVectors vectors = LoadOrEmbed(photos, firstHouse, lastHouse, embedder, vectorCache);
        var (editDistance, originalDistance) = QualityBenchmark.Distances(vectors.Originals, vectors.Edited);
        BatteryPairs pairs = QualityBenchmark.Pairs(vectors.Group, vectors.Jobs, editDistance, originalDistance);

        var result = Fit(pairs, vectors, model, firstHouse, lastHouse, prior);
        string? dir = Path.GetDirectoryName(Path.GetFullPath(outFile));
        if (dir is not null) Directory.CreateDirectory(dir);
        File.WriteAllText(outFile, result.Calibration.ToJson());
        // The tables come from the file as the module reads it.
        DuplicateCalibration written = DuplicateCalibration.Load(outFile);
        Console.WriteLine(Markdown(written, result, firstHouse, lastHouse));
        Console.Error.WriteLine($"Wrote {outFile} ({new FileInfo(outFile).Length / 1024.0:F1} KB).");
        return 0;
    }

    /// <summary>What the fit found besides the file: held-out scores, the reliability table and the tail check.</summary>
    internal sealed record FitResult(
        DuplicateCalibration Calibration, int Originals, int EditedCopies, int EditKinds,
        IReadOnlyList<(string Method, double LogLoss, double Brier, double Ece)> HeldOut,
        IReadOnlyList<ReliabilityBin> Reliability, string FoldNote,
        IReadOnlyList<(double Distance, long Observed, double Extrapolated)> TailCheck, double TailCheckFrom, double TailMleScale,
        long MeasuredAtDefault);

    internal sealed record ReliabilityBin(double Low, double High, long Pairs, long Duplicates, double MeanPredicted, double Observed);

    internal static FitResult Fit(BatteryPairs pairs, BatteryVectors vectors, HouseModelInfo model, int firstHouse, int lastHouse, double? priorOverride)
    {
        int count = pairs.Count;
        long positives = pairs.Positive.LongCount(p => p), negatives = count - positives;
        if (positives == 0 || negatives == 0) throw new InvalidOperationException("Need both duplicate and unrelated pairs to calibrate.");
        double baseRate = (double)positives / count;
        double prior = priorOverride ?? baseRate;
        // Class weights that turn the sample's share of duplicates into the prior (both 1 when the prior is the base rate).
        double positiveWeight = prior * count / positives, negativeWeight = (1 - prior) * count / negatives;
        var weight = new double[count];
        for (int i = 0; i < count; i++) weight[i] = pairs.Positive[i] ? positiveWeight : negativeWeight;

        // Held out: 2 folds by the house of the edited copy (of the first photo for two originals; pairs of originals of
        // different halves are left out of both), each fold predicted by the fit on the other.
        int[] house = vectors.Files.Select(DevPhotos.House).ToArray();
        int middle = firstHouse + (lastHouse - firstHouse + 1) / 2;
        var fold = new int[count];
        for (int i = 0; i < count; i++)
        {
            int a = house[pairs.First[i]] < middle ? 0 : 1;
            int b = house[pairs.Second[i]] < middle ? 0 : 1;
            fold[i] = pairs.EditOf[i] >= 0 || a == b ? a : -1;
        }
        var logistic = new double[count];
        var isotonic = new double[count];
        Array.Fill(logistic, double.NaN);
        Array.Fill(isotonic, double.NaN);
        for (int k = 0; k < 2; k++)
        {
            bool[] train = fold.Select(f => f == 1 - k).ToArray();
            var (a, b) = Logistic(pairs.Distance, pairs.Positive, weight, train);
            var iso = Isotonic.Fit(pairs.Distance, pairs.Positive, weight, train);
            for (int i = 0; i < count; i++)
            {
                if (fold[i] != k) continue;
                logistic[i] = Sigmoid(a + b * pairs.Distance[i]);
                isotonic[i] = iso.Predict(pairs.Distance[i]);
            }
        }
        var heldOut = new List<(string, double, double, double)>
        {
            ("logistic regression on d", LogLoss(logistic, pairs.Positive, weight), Brier(logistic, pairs.Positive, weight),
                Ece(Bins(logistic, pairs.Positive, weight))),
            ("isotonic regression on d", LogLoss(isotonic, pairs.Positive, weight), Brier(isotonic, pairs.Positive, weight),
                Ece(Bins(isotonic, pairs.Positive, weight))),
        };
        string foldNote = string.Create(CultureInfo.InvariantCulture,
            $"fitted on the copies of houses {firstHouse}..{middle - 1}, predicting those of {middle}..{lastHouse}, and the reverse");

        // The shipped fit: every pair.
        var (intercept, slope) = Logistic(pairs.Distance, pairs.Positive, weight, null);

        // Cumulative counts on the grid (the last point counts every pair, whatever rounding put above 2).
        var grid = Enumerable.Range(0, GridPoints).Select(i => Math.Round(i * GridStep, 3)).ToArray();
        var negativeDistances = new List<double>((int)negatives);
        var positiveDistances = new List<double>((int)positives);
        for (int i = 0; i < count; i++) (pairs.Positive[i] ? positiveDistances : negativeDistances).Add(pairs.Distance[i]);
        negativeDistances.Sort();
        positiveDistances.Sort();
        long[] negativeCdf = Cumulative(negativeDistances, grid), positiveCdf = Cumulative(positiveDistances, grid);

        // The tail: exponential below the first grid point with TailPairs unrelated pairs at or below it.
        int tailIndex = Array.FindIndex(negativeCdf, c => c >= TailPairs);
        var (tailScale, mleScale) = TailScale(negativeDistances, grid[tailIndex], (int)negativeCdf[tailIndex]);
        // Check of the tail's shape: fitted from a point 4x further up, what it predicts where pairs were measured.
        int checkIndex = Array.FindIndex(negativeCdf, c => c >= 4 * TailPairs);
        var (checkScale, _) = TailScale(negativeDistances, grid[checkIndex], (int)negativeCdf[checkIndex]);
        var tailCheck = new List<(double, long, double)>();
        for (int i = checkIndex - 1; i >= 0 && negativeCdf[i] > 0; i--)
        {
            if (i % 2 != 0) continue; // every 0.01
            tailCheck.Add((grid[i], negativeCdf[i], negativeCdf[checkIndex] * Math.Exp((grid[i] - grid[checkIndex]) / checkScale)));
        }
        tailCheck.Reverse();

        var ci = CultureInfo.InvariantCulture;
        string measured = string.Create(ci,
            $"houses {firstHouse}..{lastHouse} of the Houses Dataset: {vectors.Originals.Length} originals and {vectors.Edited.Length} edited copies " +
            $"({vectors.Battery.Count} battery edits); pairs: each copy against every original and the originals against each other; duplicates: " +
            $"a copy and its source, and the dataset's byte-identical or re-encoded originals; every other pair (other photos of the same house " +
            $"included) is unrelated. Tail: exponential fit to the {negativeCdf[tailIndex]} closest unrelated pairs, scale at its " +
            $"{TailConfidence:P0} upper bound.");
        string priorNote = priorOverride is null
            ? string.Create(ci, $"the share of duplicate pairs in the measured pairs ({positives} of {count}, about one duplicate per " +
                $"{1 / baseRate:F0} pairs: a photo compared with a collection of {vectors.Originals.Length} photos that holds its source); " +
                $"class weights 1. For another share q, odds(P) scale by q(1-prior)/(prior(1-q)).")
            : string.Create(ci, $"set to {prior:R}; the measured pairs hold {positives} duplicates of {count} and are weighted " +
                $"{positiveWeight:R} (duplicate) and {negativeWeight:R} (unrelated) to it.");

        var calibration = new DuplicateCalibration(model.Id, model.DuplicateThreshold, intercept, slope, prior, grid, negativeCdf, positiveCdf,
            negatives, positives, grid[tailIndex], tailScale, measured, priorNote, "hstool calibrate");
        return new FitResult(calibration, vectors.Originals.Length, vectors.Edited.Length, vectors.Battery.Count, heldOut,
            Bins(logistic, pairs.Positive, weight), foldNote, tailCheck, grid[checkIndex], mleScale,
            negativeDistances.Count(d => d <= model.DuplicateThreshold));
    }

    /// <summary>
    /// Scale of the exponential tail below <paramref name="from"/> fitted to the <paramref name="below"/> closest unrelated pairs:
    /// the maximum-likelihood scale (their mean distance below <paramref name="from"/>) and its upper confidence bound
    /// (2k·s / χ²(2k) at 1 - confidence), which makes the tail fall off more slowly than the data suggest.
    /// </summary>
    internal static (double Upper, double Mle) TailScale(List<double> sortedNegatives, double from, int below)
    {
        double sum = 0;
        for (int i = 0; i < below; i++) sum += from - sortedNegatives[i];
        double mle = Math.Max(sum / below, 1e-6);
        double upper = 2 * below * mle / ChiSquared.InvCDF(2 * below, 1 - TailConfidence);
        return (upper, mle);
    }

    static long[] Cumulative(List<double> sorted, double[] grid)
    {
        var counts = new long[grid.Length];
        int j = 0;
        for (int g = 0; g < grid.Length; g++)
        {
            while (j < sorted.Count && sorted[j] <= grid[g]) j++;
            counts[g] = j;
        }
        counts[^1] = sorted.Count;
        return counts;
    }

    /// <summary>
    /// Weighted logistic regression of positive on (1, d) by Newton's method (IRLS), each step halved until the weighted
    /// log-likelihood rises; only the pairs <paramref name="use"/> selects.
    /// </summary>
    internal static (double Intercept, double Slope) Logistic(double[] d, bool[] y, double[] w, bool[]? use)
    {
        double sw = 0, swy = 0;
        for (int i = 0; i < d.Length; i++)
        {
            if (use is not null && !use[i]) continue;
            sw += w[i];
            if (y[i]) swy += w[i];
        }
        double LogLikelihood(double a, double b)
        {
            double sum = 0;
            for (int i = 0; i < d.Length; i++)
            {
                if (use is not null && !use[i]) continue;
                double z = a + b * d[i];
                // log σ(z) and log(1 - σ(z)) = log σ(-z), without overflow.
                double m = y[i] ? z : -z;
                sum -= w[i] * (m >= 0 ? Math.Log(1 + Math.Exp(-m)) : -m + Math.Log(1 + Math.Exp(m)));
            }
            return sum;
        }
        double a0 = Math.Log(swy / (sw - swy)), b0 = 0, current = LogLikelihood(a0, b0);
        for (int iteration = 0; iteration < 200; iteration++)
        {
            double g0 = 0, g1 = 0, h00 = 0, h01 = 0, h11 = 0;
            for (int i = 0; i < d.Length; i++)
            {
                if (use is not null && !use[i]) continue;
                double p = Sigmoid(a0 + b0 * d[i]);
                double r = w[i] * ((y[i] ? 1 : 0) - p), v = w[i] * p * (1 - p);
                g0 += r;
                g1 += r * d[i];
                h00 += v;
                h01 += v * d[i];
                h11 += v * d[i] * d[i];
            }
            double det = h00 * h11 - h01 * h01;
            if (!(det > 0)) throw new InvalidOperationException("The logistic fit is singular (all pairs at one distance?).");
            double da = (h11 * g0 - h01 * g1) / det, db = (h00 * g1 - h01 * g0) / det;
            double step = 1, next = LogLikelihood(a0 + da, b0 + db);
            while (next < current && step > 1e-6)
            {
                step /= 2;
                next = LogLikelihood(a0 + step * da, b0 + step * db);
            }
            a0 += step * da;
            b0 += step * db;
            bool converged = Math.Abs(step * da) + Math.Abs(step * db) < 1e-9 * (1 + Math.Abs(a0) + Math.Abs(b0));
            current = next;
            if (converged) return (a0, b0);
        }
        throw new InvalidOperationException("The logistic fit did not converge (the pairs may be separable by distance).");
    }

    static double Sigmoid(double z) => z >= 0 ? 1 / (1 + Math.Exp(-z)) : Math.Exp(z) / (1 + Math.Exp(z));

    /// <summary>Weighted isotonic (non-increasing in d) regression by pool-adjacent-violators; predicts the block a distance falls in.</summary>
    internal sealed class Isotonic
    {
        readonly double[] _upper, _value;

        Isotonic(double[] upper, double[] value) => (_upper, _value) = (upper, value);

        public static Isotonic Fit(double[] d, bool[] y, double[] w, bool[] use)
        {
            var index = Enumerable.Range(0, d.Length).Where(i => use[i]).ToArray();
            Array.Sort(index.Select(i => d[i]).ToArray(), index);
            var sums = new List<(double W, double Wy, double Upper)>();
            foreach (int i in index)
            {
                var block = (W: w[i], Wy: y[i] ? w[i] : 0, Upper: d[i]);
                // Ties in distance and violations (a higher rate further away) merge into the previous block.
                while (sums.Count > 0 && (sums[^1].Upper == block.Upper || sums[^1].Wy / sums[^1].W <= block.Wy / block.W))
                {
                    var last = sums[^1];
                    sums.RemoveAt(sums.Count - 1);
                    block = (last.W + block.W, last.Wy + block.Wy, block.Upper);
                }
                sums.Add(block);
            }
            return new Isotonic(sums.Select(s => s.Upper).ToArray(), sums.Select(s => s.Wy / s.W).ToArray());
        }

        public double Predict(double d)
        {
            int i = Array.BinarySearch(_upper, d);
            if (i < 0) i = Math.Min(~i, _upper.Length - 1);
            return _value[i];
        }
    }

    static double LogLoss(double[] p, bool[] y, double[] w)
    {
        double sum = 0, sw = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (double.IsNaN(p[i])) continue;
            double q = Math.Clamp(p[i], 1e-12, 1 - 1e-12);
            sum -= w[i] * Math.Log(y[i] ? q : 1 - q);
            sw += w[i];
        }
        return sum / sw;
    }

    static double Brier(double[] p, bool[] y, double[] w)
    {
        double sum = 0, sw = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (double.IsNaN(p[i])) continue;
            double e = (y[i] ? 1 : 0) - p[i];
            sum += w[i] * e * e;
            sw += w[i];
        }
        return sum / sw;
    }

    /// <summary>Expected calibration error: the weighted mean |observed - predicted| over the reliability bins.</summary>
    static double Ece(IReadOnlyList<ReliabilityBin> bins)
    {
        double sum = 0, total = 0;
        foreach (var b in bins.Where(b => b.Pairs > 0))
        {
            sum += b.Pairs * Math.Abs(b.Observed - b.MeanPredicted);
            total += b.Pairs;
        }
        return sum / total;
    }

    /// <summary>Predicted-probability bins: pairs, duplicates, mean prediction and observed share of duplicates (weighted to the prior).</summary>
    static List<ReliabilityBin> Bins(double[] p, bool[] y, double[] w)
    {
        int k = ReliabilityEdges.Length - 1;
        var pairs = new long[k];
        var duplicates = new long[k];
        var sw = new double[k];
        var swp = new double[k];
        var swy = new double[k];
        for (int i = 0; i < p.Length; i++)
        {
            if (double.IsNaN(p[i])) continue;
            int b = Array.FindIndex(ReliabilityEdges, 1, e => p[i] < e) - 1;
            if (b < 0) b = k - 1;
            pairs[b]++;
            sw[b] += w[i];
            swp[b] += w[i] * p[i];
            if (y[i])
            {
                duplicates[b]++;
                swy[b] += w[i];
            }
        }
        return Enumerable.Range(0, k).Select(b => new ReliabilityBin(ReliabilityEdges[b], ReliabilityEdges[b + 1], pairs[b], duplicates[b],
            sw[b] > 0 ? swp[b] / sw[b] : double.NaN, sw[b] > 0 ? swy[b] / sw[b] : double.NaN)).ToList();
    }

    /// <summary>The markdown report: fit, held-out calibration, reliability, tail and collection sizes, read from the written file.</summary>
    internal static string Markdown(DuplicateCalibration c, FitResult r, int firstHouse, int lastHouse)
    {
        var ci = CultureInfo.InvariantCulture;
        var s = new StringBuilder();
        string P(double v) => double.IsNaN(v) ? "n/a" : v.ToString(v != 0 && Math.Abs(v) < 0.001 ? "0.0e+0" : "0.000", ci);
        string N(double v) => v.ToString(v >= 100 ? "N0" : v >= 1 ? "N1" : v >= 0.01 ? "0.00" : "0.0e+0", ci);
        string Edge(double v) => v.ToString("0.###", ci);

        s.AppendLine(ci, $"### Duplicate calibration of {c.ModelId}: houses {firstHouse}..{lastHouse}");
        s.AppendLine();
        s.AppendLine(ci, $"{r.Originals} originals, {r.EditedCopies} edited copies ({r.EditKinds} edits): {c.NegativePairs + c.PositivePairs:N0} pairs, " +
            $"{c.PositivePairs:N0} duplicate and {c.NegativePairs:N0} unrelated. Prior {c.Prior:0.00000}: {c.PriorNote}");
        s.AppendLine();
        s.AppendLine(ci, $"P(duplicate | d) = 1 / (1 + exp(-({c.Intercept:F3} - {-c.Slope:F3} d))); " +
            $"P = 0.5 at d = {c.DistanceFor(0.5):F3}, 0.9 at {c.DistanceFor(0.9):F3}, 0.99 at {c.DistanceFor(0.99):F3}; " +
            $"at the default threshold {c.DefaultThreshold:F3}: {c.Probability(c.DefaultThreshold):F3}.");
        s.AppendLine();
        s.AppendLine(ci, $"Held-out calibration ({r.FoldNote}):");
        s.AppendLine();
        s.AppendLine("| method | log loss | Brier score | calibration error (ECE) |");
        s.AppendLine("|---|---|---|---|");
        foreach (var (method, logLoss, brier, ece) in r.HeldOut)
        {
            s.AppendLine(ci, $"| {method} | {logLoss:0.00000} | {brier:0.000000} | {ece:0.00000} |");
        }
        s.AppendLine();
        s.AppendLine("Reliability of the logistic fit, held out (each pair predicted by the fold that did not see it):");
        s.AppendLine();
        s.AppendLine("| predicted P(duplicate) | pairs | duplicates | mean predicted | observed duplicate fraction |");
        s.AppendLine("|---|---|---|---|---|");
        foreach (var b in r.Reliability)
        {
            s.AppendLine(ci, $"| {Edge(b.Low)} .. {Edge(b.High)} | {b.Pairs:N0} | {b.Duplicates:N0} | {P(b.MeanPredicted)} | {P(b.Observed)} |");
        }
        s.AppendLine();
        s.AppendLine(ci, $"False pair rate below d = {c.TailFrom:F3} (where {c.FalsePairRate(c.TailFrom) * c.NegativePairs:N0} unrelated pairs were measured): " +
            $"exponential tail, scale {c.TailScale:F4} ({TailConfidence:P0} upper bound; maximum likelihood {r.TailMleScale:F4}). " +
            $"Check of the shape: the same tail fitted from d = {r.TailCheckFrom:F3} predicts the measured counts below it as");
        s.AppendLine();
        s.AppendLine("| d | unrelated pairs at or below, measured | predicted by the tail from further up |");
        s.AppendLine("|---|---|---|");
        foreach (var (d, observed, extrapolated) in r.TailCheck)
        {
            s.AppendLine(ci, $"| {d:F3} | {observed:N0} | {extrapolated:F1} |");
        }
        s.AppendLine();
        s.AppendLine(ci, $"Expected false pairs at the default threshold {c.DefaultThreshold:F3} (false pair rate {c.FalsePairRate(c.DefaultThreshold):0.00e+0}" +
            $"{(c.DefaultThreshold < c.TailFrom ? $" from the tail; {r.MeasuredAtDefault} unrelated pairs measured there, {(double)r.MeasuredAtDefault / c.NegativePairs:0.00e+0}" : "")}; " +
            $"recall {c.Recall(c.DefaultThreshold):F3}):");
        s.AppendLine();
        s.AppendLine("| photos | pairs | expected false pairs | per 1,000 photos |");
        s.AppendLine("|---|---|---|---|");
        foreach (long n in CollectionSizes)
        {
            double expected = c.ExpectedFalsePairs(c.DefaultThreshold, n);
            s.AppendLine(ci, $"| {n:N0} | {n * (n - 1.0) / 2:0.00e+0} | {N(expected)} | {N(expected / n * 1000)} |");
        }
        s.AppendLine();
        s.AppendLine("Thresholds for at most 1 expected false pair per 1,000 photos (`ThresholdFor(photos, photos / 1000)`):");
        s.AppendLine();
        s.AppendLine("| photos | max expected false pairs | threshold | false pair rate | expected false pairs | recall | P(duplicate) at the threshold |");
        s.AppendLine("|---|---|---|---|---|---|---|");
        foreach (long n in CollectionSizes)
        {
            double bound = n / 1000.0, t = c.ThresholdFor(n, bound);
            s.AppendLine(ci, $"| {n:N0} | {N(bound)} | {t:F3} | {c.FalsePairRate(t):0.00e+0} | {N(c.ExpectedFalsePairs(t, n))} | {c.Recall(t):F3} | {c.Probability(t):F3} |");
        }
        return s.ToString();
    }

    /// <summary>
    /// The battery's vectors from <paramref name="cache"/> when it holds them for this model and these photos, otherwise embedded
    /// (and written there when a cache file is named).
    /// </summary>
    internal static BatteryVectors LoadOrEmbed(string photos, int firstHouse, int lastHouse, HouseEmbedder embedder, string? cache)
    {
        string[] files = DevPhotos.List(photos, firstHouse, lastHouse);
        IReadOnlyList<ImageEdit> battery = ImageEdits.Battery();
        string key = $"{embedder.Model.Id}|{string.Join(';', files.Select(f => $"{Path.GetFileName(f)}:{new FileInfo(f).Length}"))}|" +
                     string.Join(';', battery.Select(e => e.Label));
        if (cache is not null && File.Exists(cache))
        {
            using var reader = new BinaryReader(File.OpenRead(cache));
            if (reader.ReadString() == key)
            {
                Console.Error.WriteLine($"Vectors from {cache}.");
                float[][] Read(int rows)
                {
                    int dim = reader.ReadInt32();
                    return Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, dim).Select(_ => reader.ReadSingle()).ToArray()).ToArray();
                }
                float[][] originals = Read(reader.ReadInt32());
                float[][] edited = Read(reader.ReadInt32());
                var jobs = Enumerable.Range(0, files.Length)
                    .SelectMany(o => Enumerable.Range(0, battery.Count).Select(k => (Original: o, Edit: k))).ToArray();
                return new BatteryVectors(files, Calibration.SameGroups(files), battery, jobs, originals, edited);
            }
        }
        BatteryVectors v = QualityBenchmark.EmbedBattery(photos, firstHouse, lastHouse, p => embedder.Embed(p).Vector);
        if (cache is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(cache))!);
            using var writer = new BinaryWriter(File.Create(cache));
            writer.Write(key);
            foreach (float[][] rows in new[] { v.Originals, v.Edited })
            {
                writer.Write(rows.Length);
                writer.Write(rows[0].Length);
                foreach (float[] row in rows) foreach (float x in row) writer.Write(x);
            }
        }
        return v;
    }
}
