// Shared by the benchmark programs through #:include: synthetic vectors made from real embeddings, the statistics they
// report and their --name value arguments. Not a program of its own.
using System.Globalization;

static class Vectors
{
    /// <summary>int32 count, int32 dimension, then count x dimension float32, little-endian.</summary>
    public static List<float[]> Read(string file)
    {
        using var reader = new BinaryReader(File.OpenRead(file));
        int n = reader.ReadInt32(), d = reader.ReadInt32();
        var result = new List<float[]>(n);
        for (int i = 0; i < n; i++)
        {
            var v = new float[d];
            for (int j = 0; j < d; j++)
            {
                v[j] = reader.ReadSingle();
            }
            result.Add(v);
        }
        return result;
    }

    /// <summary>
    /// Another photo "like" the real ones: a real embedding, half the time pulled up to 30 % towards a second one
    /// (a similar house), plus Gaussian noise of L2 norm 0.15..0.7 (near re-uploads to other rooms of the street),
    /// renormalised to unit length as the model's output is.
    /// </summary>
    public static float[] Synthetic(List<float[]> real, Random random)
    {
        var a = real[random.Next(real.Count)];
        var v = (float[])a.Clone();
        if (random.NextDouble() < 0.5)
        {
            var b = real[random.Next(real.Count)];
            float w = (float)(0.3 * random.NextDouble());
            for (int j = 0; j < v.Length; j++)
            {
                v[j] += w * (b[j] - a[j]);
            }
        }
        return Perturb(v, random, 0.15 + 0.55 * random.NextDouble());
    }

    /// <summary>A re-upload of a known photo: a real embedding plus noise of norm 0.05..0.3 (an edit's size).</summary>
    public static float[] Reupload(List<float[]> real, Random random) =>
        Perturb(real[random.Next(real.Count)], random, 0.05 + 0.25 * random.NextDouble());

    /// <summary>
    /// A photo of another house: a real photo pushed far enough away (noise of norm 1.5..2.0, 56..63 degrees) that it is
    /// about as far from it, and from every other photo, as photos of different houses are from one another.
    /// </summary>
    public static float[] Distractor(List<float[]> real, Random random) =>
        Perturb(real[random.Next(real.Count)], random, 1.5 + 0.5 * random.NextDouble());

    /// <summary>
    /// <paramref name="count"/> photos of other houses, made one at a time (nothing is held): distractors, the first
    /// <paramref name="copyGroups"/> of them with 1 to 4 near copies (noise of norm 0.1..0.45). Ids name the true group:
    /// "syn/d{g}" alone, "syn/c{g}/{n}" for a photo and its copies.
    /// </summary>
    public static IEnumerable<(string Id, float[] Vector)> Archive(List<float[]> real, long count, int copyGroups, Random random)
    {
        long made = 0;
        for (int g = 0; made < count; g++)
        {
            var center = Distractor(real, random);
            long copies = g < copyGroups ? random.Next(1, 5) : 0;
            if (made + 1 + copies > count)
            {
                copies = count - made - 1;
            }
            if (copies == 0)
            {
                yield return ($"syn/d{g:D6}", center);
            }
            else
            {
                yield return ($"syn/c{g:D6}/0", center);
                for (int c = 1; c <= copies; c++)
                {
                    yield return ($"syn/c{g:D6}/{c}", Perturb(center, random, 0.1 + 0.35 * random.NextDouble()));
                }
            }
            made += 1 + copies;
        }
    }

    /// <summary><paramref name="v"/> plus Gaussian noise of L2 norm <paramref name="radius"/>, renormalised.</summary>
    public static float[] Perturb(float[] v, Random random, double radius)
    {
        var noise = new double[v.Length];
        double norm = 0;
        for (int j = 0; j < v.Length; j++)
        {
            double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
            noise[j] = Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            norm += noise[j] * noise[j];
        }
        double scale = radius / Math.Sqrt(norm);
        var result = new float[v.Length];
        double length = 0;
        for (int j = 0; j < v.Length; j++)
        {
            result[j] = (float)(v[j] + noise[j] * scale);
            length += result[j] * (double)result[j];
        }
        float inverse = (float)(1 / Math.Sqrt(length));
        for (int j = 0; j < v.Length; j++)
        {
            result[j] *= inverse;
        }
        return result;
    }
}

static class Stats
{
    /// <summary>The share of each true top list found by the other, averaged over the queries.</summary>
    public static double Recall(List<string[]> approximate, List<string[]> truth)
    {
        if (truth.Count == 0 || approximate.Count < truth.Count)
        {
            throw new InvalidOperationException($"Recall of {approximate.Count} answers against {truth.Count} true lists.");
        }
        double sum = 0;
        for (int i = 0; i < truth.Count; i++)
        {
            if (truth[i].Length == 0)
            {
                throw new InvalidOperationException($"Query {i} has no true neighbours.");
            }
            sum += approximate[i].Intersect(truth[i]).Count() / (double)truth[i].Length;
        }
        return sum / truth.Count;
    }

    public static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
        {
            throw new InvalidOperationException("A percentile of no values.");
        }
        var sorted = values.OrderBy(x => x).ToList();
        double rank = p / 100 * (sorted.Count - 1);
        int lo = (int)Math.Floor(rank), hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}

sealed class Args(Dictionary<string, string> values)
{
    public static Args Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new ArgumentException($"Expected --name value pairs, got '{args[i]}'.");
            }
            values[args[i][2..]] = args[++i];
        }
        return new Args(values);
    }

    public string Get(string name, string? fallback = null) =>
        values.TryGetValue(name, out var v) ? v : fallback ?? throw new ArgumentException($"--{name} is required.");

    public int GetInt(string name, int fallback) =>
        values.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
}
