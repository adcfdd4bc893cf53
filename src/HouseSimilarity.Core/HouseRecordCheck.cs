namespace HouseSimilarity;

/// <summary>
/// What every backend accepts, checked the same way before anything is stored: an Id of valid UTF-16 without control
/// characters and of bounded length, and a unit vector of finite values with the collection's dimension. A damaged model
/// makes NaN vectors, which would rank first in every search; a lone surrogate cannot be encoded by any server.
/// </summary>
public static class HouseRecordCheck
{
    public const int MaxIdLength = 2048;
    /// <summary>How far a vector's norm may be from 1 (the model's vectors are within 1e-6).</summary>
    public const double NormTolerance = 1e-3;

    /// <summary>Why this Id cannot be stored, or null.</summary>
    public static string? IdProblem(string? id)
    {
        if (string.IsNullOrEmpty(id))
        {
            return "the Id is empty";
        }
        if (id.Length > MaxIdLength)
        {
            return $"the Id has {id.Length} characters, more than {MaxIdLength}";
        }
        for (int i = 0; i < id.Length; i++)
        {
            char c = id[i];
            if (char.IsControl(c))
            {
                return $"the Id holds the control character U+{(int)c:X4} at {i}";
            }
            if (char.IsHighSurrogate(c) && i + 1 < id.Length && char.IsLowSurrogate(id[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return $"the Id holds a lone UTF-16 surrogate U+{(int)c:X4} at {i}, which is not text";
            }
        }
        return null;
    }

    /// <summary>Why this vector cannot be stored in a collection of <paramref name="dimension"/>, or null.</summary>
    public static string? VectorProblem(float[]? vector, int dimension)
    {
        if (vector is null || vector.Length == 0)
        {
            return "there is no vector";
        }
        if (vector.Length != dimension)
        {
            return $"the vector has {vector.Length} values, the collection's have {dimension}";
        }
        double norm = 0;
        foreach (float x in vector)
        {
            if (!float.IsFinite(x))
            {
                return "the vector holds NaN or infinite values (made by a damaged model?)";
            }
            norm += (double)x * x;
        }
        norm = Math.Sqrt(norm);
        return Math.Abs(norm - 1) > NormTolerance ? $"the vector is not of unit length (norm {norm:G4})" : null;
    }

    /// <summary>Throws <see cref="InvalidHouseRecordException"/> for a record no store accepts.</summary>
    public static void Check(HouseEmbedding record, int dimension)
    {
        if ((IdProblem(record.Id) ?? VectorProblem(record.Vector, dimension)) is { } problem)
        {
            throw new InvalidHouseRecordException(record.Id ?? "", problem);
        }
    }

    /// <summary>An Id fit for a message: control characters and lone surrogates shown as \uXXXX.</summary>
    public static string Printable(string id) => string.Concat(id.Select((c, i) =>
        char.IsControl(c) || (char.IsSurrogate(c) && !IsPaired(id, i)) ? $"\\u{(int)c:X4}" : c.ToString()));

    private static bool IsPaired(string s, int i) =>
        char.IsHighSurrogate(s[i]) ? i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) : i > 0 && char.IsHighSurrogate(s[i - 1]);
}
