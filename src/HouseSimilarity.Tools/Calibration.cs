namespace HouseSimilarity.Tools;

/// <summary>Chooses the duplicate threshold: the largest L2 distance that keeps pairwise precision at 0.999.</summary>
internal static class Calibration
{
    public const double TargetPrecision = 0.999;

    /// <summary>The threshold for vectors of originals and of edited copies (edit i is a copy of original editSource[i]).</summary>
    public static double Threshold(float[][] originals, int[] groups, float[][] edits, int[] editSource)
    {
        var pairs = new List<(double Distance, bool Positive)>();
        for (int e = 0; e < edits.Length; e++)
        {
            for (int o = 0; o < originals.Length; o++)
            {
                pairs.Add((VectorMath.L2(edits[e], originals[o]), groups[editSource[e]] == groups[o]));
            }
        }
        for (int a = 0; a < originals.Length; a++)
        {
            for (int b = a + 1; b < originals.Length; b++)
            {
                pairs.Add((VectorMath.L2(originals[a], originals[b]), groups[a] == groups[b]));
            }
        }
        return Choose(pairs);
    }

    /// <summary>The largest distance at which precision of "distance ≤ t means duplicate" is still ≥ the target.</summary>
    public static double Choose(List<(double Distance, bool Positive)> pairs)
    {
        pairs.Sort((a, b) => a.Distance.CompareTo(b.Distance));
        int positives = pairs.Count(p => p.Positive), truePositives = 0, falsePositives = 0;
        double best = 0;
        int bestRecallCount = 0;
        for (int i = 0; i < pairs.Count; i++)
        {
            if (pairs[i].Positive) truePositives++; else falsePositives++;
            bool boundary = i + 1 == pairs.Count || pairs[i + 1].Distance > pairs[i].Distance;
            if (boundary && truePositives >= TargetPrecision * (truePositives + falsePositives) && truePositives > bestRecallCount)
            {
                bestRecallCount = truePositives;
                // Midway to the next pair, so the threshold does not sit exactly on a sample.
                best = i + 1 < pairs.Count ? (pairs[i].Distance + pairs[i + 1].Distance) / 2 : pairs[i].Distance;
            }
        }
        Console.Error.WriteLine($"Threshold {best:F4}: recall {(double)bestRecallCount / positives:P2} of {positives} duplicate pairs " +
                                $"at precision ≥ {TargetPrecision}.");
        return best;
    }

    /// <summary>Group ids: photos with identical bytes or listed as re-encoded copies share one.</summary>
    public static int[] SameGroups(string[] files)
    {
        var group = Enumerable.Range(0, files.Length).ToArray();
        int Find(int i) => group[i] == i ? i : group[i] = Find(group[i]);
        var byHash = new Dictionary<string, int>();
        var byName = files.Select((f, i) => (Path.GetFileNameWithoutExtension(f), i)).ToDictionary(p => p.Item1, p => p.i);
        for (int i = 0; i < files.Length; i++)
        {
            string hash = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(files[i])));
            if (byHash.TryGetValue(hash, out int j)) group[Find(i)] = Find(j); else byHash[hash] = i;
        }
        foreach (var (a, b) in DevPhotos.KnownReencodedPairs)
        {
            if (byName.TryGetValue(a, out int i) && byName.TryGetValue(b, out int j)) group[Find(i)] = Find(j);
        }
        return Enumerable.Range(0, files.Length).Select(Find).ToArray();
    }
}
