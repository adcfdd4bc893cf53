using System.Numerics;
using System.Runtime.InteropServices;
using System.Numerics.Tensors;

namespace HouseSimilarity;

/// <summary>Distances between unit vectors, the same in every store.</summary>
public static class VectorMath
{
    public static double L2(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => TensorPrimitives.Distance(a, b);

    public static double L1(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Span<float> diff = a.Length <= 1024 ? stackalloc float[a.Length] : new float[a.Length];
        TensorPrimitives.Subtract(a, b, diff);
        return TensorPrimitives.SumOfMagnitudes(diff);
    }

    public static double Distance(ReadOnlySpan<float> a, ReadOnlySpan<float> b, DistanceMetric metric) =>
        metric == DistanceMetric.L1 ? L1(a, b) : L2(a, b);

    /// <summary>Queries compared with one row at a time by <see cref="Dots"/>.</summary>
    public const int QueryTile = 8;

    /// <summary>
    /// The dot products of one row with a tile of <see cref="QueryTile"/> queries packed one after another in
    /// <paramref name="tile"/> (pad with zeros), into <paramref name="dots"/>: the row is loaded once for all of them,
    /// the inner step of a matrix product.
    /// </summary>
    public static void Dots(ReadOnlySpan<float> row, ReadOnlySpan<float> tile, Span<float> dots)
    {
        int n = row.Length, width = Vector<float>.Count, i = 0;
        if (tile.Length < QueryTile * n || dots.Length < QueryTile)
        {
            throw new ArgumentException("The tile must hold QueryTile queries of the row's length.");
        }
        ref float r = ref MemoryMarshal.GetReference(row);
        ref float q = ref MemoryMarshal.GetReference(tile);
        Vector<float> s0 = Vector<float>.Zero, s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        nuint stride = (nuint)n;
        for (; i <= n - width; i += width)
        {
            nuint at = (nuint)i;
            var x = Vector.LoadUnsafe(ref r, at);
            s0 = Vector.MultiplyAddEstimate(x, Vector.LoadUnsafe(ref q, at), s0);
            s1 = Vector.MultiplyAddEstimate(x, Vector.LoadUnsafe(ref q, at + stride), s1);
            s2 = Vector.MultiplyAddEstimate(x, Vector.LoadUnsafe(ref q, at + 2 * stride), s2);
            s3 = Vector.MultiplyAddEstimate(x, Vector.LoadUnsafe(ref q, at + 3 * stride), s3);
            s4 = Vector.MultiplyAddEstimate(x, Vector.LoadUnsafe(ref q, at + 4 * stride), s4);
            s5 = Vector.MultiplyAddEstimate(x, Vector.LoadUnsafe(ref q, at + 5 * stride), s5);
            s6 = Vector.MultiplyAddEstimate(x, Vector.LoadUnsafe(ref q, at + 6 * stride), s6);
            s7 = Vector.MultiplyAddEstimate(x, Vector.LoadUnsafe(ref q, at + 7 * stride), s7);
        }
        dots[0] = Vector.Sum(s0);
        dots[1] = Vector.Sum(s1);
        dots[2] = Vector.Sum(s2);
        dots[3] = Vector.Sum(s3);
        dots[4] = Vector.Sum(s4);
        dots[5] = Vector.Sum(s5);
        dots[6] = Vector.Sum(s6);
        dots[7] = Vector.Sum(s7);
        for (; i < n; i++)
        {
            for (int t = 0; t < QueryTile; t++)
            {
                dots[t] += row[i] * tile[t * n + i];
            }
        }
    }

    /// <summary>Cosine similarity of two unit vectors from their L2 distance: 1 - d²/2.</summary>
    public static double Similarity(double l2) => 1 - l2 * l2 / 2;

    /// <summary>The L2 distance of two unit vectors from their cosine similarity.</summary>
    public static double L2FromSimilarity(double similarity) => Math.Sqrt(Math.Max(0, 2 - 2 * similarity));

    public static void Normalize(Span<float> v)
    {
        float norm = TensorPrimitives.Norm(v);
        if (norm > 0)
        {
            TensorPrimitives.Divide(v, norm, v);
        }
    }
}
