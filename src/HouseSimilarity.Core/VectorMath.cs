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
