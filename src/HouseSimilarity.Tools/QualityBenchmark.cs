using System.Globalization;
using System.Text;

namespace HouseSimilarity.Tools;

/// <summary>
/// Retrieval-quality benchmark: every <see cref="ImageEdits.Battery"/> edit of every original photo of a range of
/// houses, embedded through the caller's code path, scored against the originals (recall@1, recall at pairwise
/// precision, duplicate precision / recall at the model's threshold, room-type precision@5).
/// Byte-identical originals and listed re-encoded copies (<see cref="Calibration.SameGroups"/>) are duplicates
/// of each other, never false positives.
/// </summary>
internal static class QualityBenchmark
{
    public static readonly double[] Precisions = [0.999, 0.99];
    const int RoomNeighbours = 5;

    /// <summary>The <c>quality</c> command: runs the benchmark, prints the markdown and appends it to <paramref name="outFile"/> if given.</summary>
    public static int Command(string outFile, Func<QualityReport> run)
    {
        string markdown = run().ToMarkdown();
        Console.WriteLine(markdown);
        if (!string.IsNullOrEmpty(outFile))
        {
            string? dir = Path.GetDirectoryName(Path.GetFullPath(outFile));
            if (dir is not null) Directory.CreateDirectory(dir);
            File.AppendAllText(outFile, markdown + Environment.NewLine);
            Console.Error.WriteLine($"Appended to {outFile}");
        }
        return 0;
    }

    /// <param name="photos">A folder of &lt;house&gt;_&lt;room&gt;.jpg; only houses <paramref name="firstHouse"/>..<paramref name="lastHouse"/> are used.</param>
    /// <param name="embed">Path to unit vector, the same code path the cmdlets use; called from several threads at once.</param>
    /// <param name="threshold">The model's default duplicate threshold (L2).</param>
    /// <param name="name">The model's name for the report header.</param>
    public static QualityReport Run(string photos, int firstHouse, int lastHouse, Func<string, float[]> embed, double threshold, string name)
    {
        BatteryVectors v = EmbedBattery(photos, firstHouse, lastHouse, embed);
        return Score(v.Files, v.Group, v.Battery, v.Jobs, v.Originals, v.Edited, firstHouse, lastHouse, threshold, name);
    }

    /// <summary>
    /// The originals of houses <paramref name="firstHouse"/>..<paramref name="lastHouse"/> in <paramref name="photos"/> and every
    /// <see cref="ImageEdits.Battery"/> edit of each, embedded by <paramref name="embed"/> (edited copies are written to a temporary
    /// folder, embedded and deleted). Shared by the quality benchmark and the duplicate calibration.
    /// </summary>
    public static BatteryVectors EmbedBattery(string photos, int firstHouse, int lastHouse, Func<string, float[]> embed)
    {
        ArgumentNullException.ThrowIfNull(embed);
        string[] files = DevPhotos.List(photos, firstHouse, lastHouse);
        if (files.Length < 2) throw new InvalidOperationException($"Need at least 2 photos of houses {firstHouse}..{lastHouse} in {photos}.");
        int[] group = Calibration.SameGroups(files);
        IReadOnlyList<ImageEdit> battery = ImageEdits.Battery();
        var jobs = Enumerable.Range(0, files.Length)
            .SelectMany(o => Enumerable.Range(0, battery.Count).Select(k => (Original: o, Edit: k)))
            .ToArray();

        Console.Error.WriteLine($"Embedding {files.Length} originals...");
        float[][] originals = DevPhotos.Map(files, embed);

        string temp = Path.Combine(Path.GetTempPath(), $"hs-quality-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        float[][] edited;
        try
        {
            byte[][] bytes = files.Select(File.ReadAllBytes).ToArray();
            Console.Error.WriteLine($"Editing and embedding {jobs.Length} copies ({battery.Count} edits each) in {temp}...");
            edited = DevPhotos.Map(jobs, job =>
            {
                ImageEdit edit = battery[job.Edit];
                string path = Path.Combine(temp, $"{Path.GetFileNameWithoutExtension(files[job.Original])}.{job.Edit:D2}{edit.Extension}");
                File.WriteAllBytes(path, edit.ApplyTo(bytes[job.Original]));
                float[] vector = embed(path);
                File.Delete(path);
                return vector;
            });
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
        return new BatteryVectors(files, group, battery, jobs, originals, edited);
    }

    /// <summary>L2 distances of every edited copy to every original (one row per copy) and of the originals to each other.</summary>
    public static (double[][] EditDistance, double[,] OriginalDistance) Distances(float[][] originals, float[][] edited)
    {
        int n = originals.Length;
        var editDistance = new double[edited.Length][];
        Parallel.For(0, edited.Length, e =>
        {
            var row = new double[n];
            for (int o = 0; o < n; o++) row[o] = VectorMath.L2(edited[e], originals[o]);
            editDistance[e] = row;
        });
        var originalDistance = new double[n, n];
        for (int a = 0; a < n; a++)
        {
            for (int b = a + 1; b < n; b++) originalDistance[a, b] = originalDistance[b, a] = VectorMath.L2(originals[a], originals[b]);
        }
        return (editDistance, originalDistance);
    }

    /// <summary>
    /// The benchmark's pair set: every edited copy against every original, then the originals against each other (a &lt; b).
    /// A pair is positive when both photos are in one <paramref name="group"/> (a copy and its source, identical or listed
    /// re-encoded originals); <see cref="BatteryPairs.EditOf"/> is the edit index, -1 for two originals.
    /// </summary>
    public static BatteryPairs Pairs(int[] group, (int Original, int Edit)[] jobs, double[][] editDistance, double[,] originalDistance)
    {
        int n = group.Length;
        int pairCount = jobs.Length * n + n * (n - 1) / 2;
        var distance = new double[pairCount];
        var positive = new bool[pairCount];
        var editOf = new short[pairCount];
        var first = new int[pairCount];
        var second = new int[pairCount];
        int p = 0;
        for (int e = 0; e < jobs.Length; e++)
        {
            int source = group[jobs[e].Original];
            for (int o = 0; o < n; o++, p++)
            {
                distance[p] = editDistance[e][o];
                positive[p] = group[o] == source;
                editOf[p] = (short)jobs[e].Edit;
                first[p] = jobs[e].Original;
                second[p] = o;
            }
        }
        for (int a = 0; a < n; a++)
        {
            for (int b = a + 1; b < n; b++, p++)
            {
                distance[p] = originalDistance[a, b];
                positive[p] = group[a] == group[b];
                editOf[p] = -1;
                first[p] = a;
                second[p] = b;
            }
        }
        return new BatteryPairs(distance, positive, editOf, first, second);
    }

    internal static QualityReport Score(string[] files, int[] group, IReadOnlyList<ImageEdit> battery, (int Original, int Edit)[] jobs,
        float[][] originals, float[][] edited, int firstHouse, int lastHouse, double threshold, string name)
    {
        int n = files.Length, editCount = battery.Count;

        // Distances: every edit against every original, originals against each other; the pair set.
        var (editDistance, originalDistance) = Distances(originals, edited);
        BatteryPairs pairs = Pairs(group, jobs, editDistance, originalDistance);
        double[] distance = pairs.Distance;
        bool[] positive = pairs.Positive;
        short[] editOf = pairs.EditOf;
        int pairCount = distance.Length;
        var order = Enumerable.Range(0, pairCount).ToArray();
        Array.Sort((double[])distance.Clone(), order);

        // Overall distance cuts: the largest recall reachable with precision ≥ target.
        int positives = positive.Count(x => x);
        var cuts = new double[Precisions.Length];
        var overallRecallAt = new double[Precisions.Length];
        for (int t = 0; t < Precisions.Length; t++)
        {
            (cuts[t], int truePositives) = Cut(order, distance, positive, Precisions[t]);
            overallRecallAt[t] = Ratio(truePositives, positives);
        }

        // Per edit (index editCount = all edits together, used for the overall recall@1).
        var queries = new int[editCount + 1];
        var hits = new int[editCount + 1];
        for (int e = 0; e < jobs.Length; e++)
        {
            double[] row = editDistance[e];
            int nearest = 0;
            for (int o = 1; o < n; o++) if (row[o] < row[nearest]) nearest = o;
            bool hit = group[nearest] == group[jobs[e].Original];
            foreach (int k in new[] { jobs[e].Edit, editCount })
            {
                queries[k]++;
                if (hit) hits[k]++;
            }
        }
        var editPositives = new int[editCount];
        var editPositiveSum = new double[editCount];
        var editDuplicates = new int[editCount];
        var editFalseDuplicates = new int[editCount];
        var editWithinCut = new int[Precisions.Length, editCount];
        var positiveDistances = new List<double>();
        var negativeDistances = new List<double>(pairCount);
        int truePositivesAtThreshold = 0, falsePositivesAtThreshold = 0;
        for (int i = 0; i < pairCount; i++)
        {
            double d = distance[i];
            int k = editOf[i];
            bool duplicate = d <= threshold;
            if (positive[i])
            {
                positiveDistances.Add(d);
                if (duplicate) truePositivesAtThreshold++;
            }
            else
            {
                negativeDistances.Add(d);
                if (duplicate) falsePositivesAtThreshold++;
            }
            if (k < 0) continue;
            if (positive[i])
            {
                editPositives[k]++;
                editPositiveSum[k] += d;
                if (duplicate) editDuplicates[k]++;
                for (int t = 0; t < Precisions.Length; t++) if (d <= cuts[t]) editWithinCut[t, k]++;
            }
            else if (duplicate)
            {
                editFalseDuplicates[k]++;
            }
        }
        positiveDistances.Sort();
        negativeDistances.Sort();

        var perEdit = new List<QualityRow>(editCount);
        for (int k = 0; k < editCount; k++)
        {
            perEdit.Add(new QualityRow(
                battery[k].Label, queries[k], Ratio(hits[k], queries[k]),
                Ratio(editWithinCut[0, k], editPositives[k]), Ratio(editWithinCut[1, k], editPositives[k]),
                Ratio(editDuplicates[k], editDuplicates[k] + editFalseDuplicates[k]), Ratio(editDuplicates[k], editPositives[k]),
                Ratio(editPositiveSum[k], editPositives[k])));
        }
        var overall = new QualityRow(
            "all", queries[editCount], Ratio(hits[editCount], queries[editCount]), overallRecallAt[0], overallRecallAt[1],
            Ratio(truePositivesAtThreshold, truePositivesAtThreshold + falsePositivesAtThreshold),
            Ratio(truePositivesAtThreshold, positives), positiveDistances.Count == 0 ? double.NaN : positiveDistances.Average());

        // Room-type precision@5 among originals: nearest other originals, same-group duplicates excluded.
        double roomSum = 0;
        int roomQueries = 0;
        for (int a = 0; a < n; a++)
        {
            var neighbours = Enumerable.Range(0, n)
                .Where(b => group[b] != group[a])
                .OrderBy(b => originalDistance[a, b]).ThenBy(b => b)
                .Take(RoomNeighbours).ToArray();
            if (neighbours.Length == 0) continue;
            string room = DevPhotos.Room(files[a]);
            roomSum += (double)neighbours.Count(b => DevPhotos.Room(files[b]) == room) / neighbours.Length;
            roomQueries++;
        }

        // Recommended threshold: Calibration's rule (largest distance with pairwise precision ≥ 0.999, midway to the next pair).
        var sortedPairs = new List<(double Distance, bool Positive)>(pairCount);
        foreach (int i in order) sortedPairs.Add((distance[i], positive[i]));
        double recommended = Calibration.Choose(sortedPairs);

        return new QualityReport(
            name, firstHouse, lastHouse, n, jobs.Length, editCount, pairCount, positives, threshold,
            overall, perEdit, Ratio(roomSum, roomQueries),
            positiveDistances.Count == 0 ? double.NaN : positiveDistances.Average(),
            Quantile(positiveDistances, 0.95), Quantile(negativeDistances, 0.001),
            cuts[0], cuts[1], recommended);
    }

    /// <summary>
    /// Sweeping the pairs by distance: the cut (inclusive: distance ≤ cut is a duplicate) with the most true positives
    /// at precision ≥ <paramref name="precision"/>; NaN and 0 when none reaches it. Only cuts between distinct distances count.
    /// </summary>
    static (double Cut, int TruePositives) Cut(int[] order, double[] distance, bool[] positive, double precision)
    {
        int truePositives = 0, falsePositives = 0, best = 0;
        double cut = double.NaN;
        for (int j = 0; j < order.Length; j++)
        {
            if (positive[order[j]]) truePositives++; else falsePositives++;
            bool boundary = j + 1 == order.Length || distance[order[j + 1]] > distance[order[j]];
            if (boundary && truePositives >= precision * (truePositives + falsePositives) && truePositives > best)
            {
                best = truePositives;
                cut = distance[order[j]];
            }
        }
        return (cut, best);
    }

    static double Ratio(double numerator, double denominator) => denominator == 0 ? double.NaN : numerator / denominator;

    /// <summary>Linear-interpolated quantile of a sorted list (the usual "type 7" definition).</summary>
    static double Quantile(List<double> sorted, double q)
    {
        if (sorted.Count == 0) return double.NaN;
        double h = (sorted.Count - 1) * q;
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }
}

/// <summary>Vectors of originals and of their battery edits: edited copy i is edit <c>Jobs[i].Edit</c> of original <c>Jobs[i].Original</c>.</summary>
public sealed record BatteryVectors(string[] Files, int[] Group, IReadOnlyList<ImageEdit> Battery, (int Original, int Edit)[] Jobs,
    float[][] Originals, float[][] Edited);

/// <summary>
/// Pairs of photos and their L2 distance: <see cref="First"/> is the original an edited copy was made from (or the first of two
/// originals), <see cref="Second"/> the original it is compared with; <see cref="EditOf"/> the edit index, -1 for two originals.
/// </summary>
public sealed record BatteryPairs(double[] Distance, bool[] Positive, short[] EditOf, int[] First, int[] Second)
{
    public int Count => Distance.Length;
}

/// <summary>One row of the benchmark: all edits together, or one edit label.</summary>
/// <param name="Queries">Edited copies scored (one per original).</param>
/// <param name="RecallAtP999">Share of positive pairs within the overall distance cut at pairwise precision 0.999.</param>
/// <param name="RecallAtP99">The same at pairwise precision 0.99.</param>
/// <param name="DuplicatePrecision">Among pairs at distance ≤ the model threshold, the share that are true duplicates.</param>
/// <param name="DuplicateRecall">Among true duplicate pairs, the share at distance ≤ the model threshold.</param>
public sealed record QualityRow(
    string Label, int Queries, double RecallAt1, double RecallAtP999, double RecallAtP99,
    double DuplicatePrecision, double DuplicateRecall, double MeanPositiveDistance);

/// <summary>Result of <see cref="QualityBenchmark.Run"/>; <see cref="ToMarkdown"/> renders it as a report section.</summary>
/// <param name="CutP999">Overall distance cut (inclusive) reaching the most recall at pairwise precision ≥ 0.999.</param>
/// <param name="CutP99">The same at precision ≥ 0.99.</param>
/// <param name="RecommendedThreshold">Calibration's choice: midway between the 0.999 cut and the next pair.</param>
public sealed record QualityReport(
    string Name, int FirstHouse, int LastHouse, int Originals, int EditedCopies, int EditKinds, int Pairs, int PositivePairs,
    double Threshold, QualityRow Overall, IReadOnlyList<QualityRow> PerEdit, double RoomPrecisionAt5,
    double PositiveMean, double PositiveP95, double NegativeP001, double CutP999, double CutP99, double RecommendedThreshold)
{
    static string F(double value) => double.IsNaN(value) ? "n/a" : value.ToString("F3", CultureInfo.InvariantCulture);

    public string ToMarkdown()
    {
        var s = new StringBuilder();
        var ci = CultureInfo.InvariantCulture;
        s.Append(ci, $"### {Name}: houses {FirstHouse}..{LastHouse}, {Originals} originals, {EditedCopies} edited copies ");
        s.AppendLine(ci, $"({EditKinds} edits), {Pairs} pairs ({PositivePairs} duplicate), threshold {F(Threshold)}");
        s.AppendLine();
        s.AppendLine("| metric | value |");
        s.AppendLine("|---|---|");
        s.AppendLine(ci, $"| recall@1 | {F(Overall.RecallAt1)} |");
        s.AppendLine(ci, $"| recall at pairwise precision 0.999 | {F(Overall.RecallAtP999)} (cut {F(CutP999)}) |");
        s.AppendLine(ci, $"| recall at pairwise precision 0.99 | {F(Overall.RecallAtP99)} (cut {F(CutP99)}) |");
        s.AppendLine(ci, $"| duplicate precision at threshold {F(Threshold)} | {F(Overall.DuplicatePrecision)} |");
        s.AppendLine(ci, $"| duplicate recall at threshold {F(Threshold)} | {F(Overall.DuplicateRecall)} |");
        s.AppendLine(ci, $"| room-type precision@5 (originals) | {F(RoomPrecisionAt5)} |");
        s.AppendLine(ci, $"| positive distance: mean / 95th percentile | {F(PositiveMean)} / {F(PositiveP95)} |");
        s.AppendLine(ci, $"| negative distance: 0.1th percentile | {F(NegativeP001)} |");
        s.AppendLine(ci, $"| recommended threshold (precision ≥ 0.999) | {F(RecommendedThreshold)} |");
        s.AppendLine();
        s.AppendLine("| edit | recall@1 | recall@P0.999¹ | recall@P0.99¹ | dup. precision | dup. recall | mean pos. distance |");
        s.AppendLine("|---|---|---|---|---|---|---|");
        foreach (QualityRow r in PerEdit)
        {
            s.Append(ci, $"| {r.Label} | {F(r.RecallAt1)} | {F(r.RecallAtP999)} | {F(r.RecallAtP99)} | ");
            s.AppendLine(ci, $"{F(r.DuplicatePrecision)} | {F(r.DuplicateRecall)} | {F(r.MeanPositiveDistance)} |");
        }
        s.AppendLine();
        s.Append("¹ Per edit, recall at pairwise precision p is that edit's share of duplicate pairs within the OVERALL ");
        s.Append(ci, $"distance cut chosen for p ({F(CutP999)} at 0.999, {F(CutP99)} at 0.99), not a cut chosen per edit. ");
        s.Append(ci, $"Duplicate precision / recall use distance ≤ {F(Threshold)}; byte-identical and listed re-encoded ");
        s.AppendLine("originals count as duplicates.");
        return s.ToString();
    }
}
