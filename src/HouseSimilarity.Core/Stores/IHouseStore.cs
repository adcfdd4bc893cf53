using System.Text.RegularExpressions;

namespace HouseSimilarity.Stores;

/// <summary>
/// One collection of photo vectors in one backend. Every backend has the same semantics: upsert by Id,
/// true L2 distances, the collection remembers the model id its vectors were made with.
/// </summary>
public interface IHouseStore : IDisposable
{
    string Backend { get; }
    /// <summary>Where the data lives (file path, server), without secrets.</summary>
    string Location { get; }
    string Collection { get; }

    /// <summary>The collection, or null when nothing was added to it yet.</summary>
    Task<HouseCollection?> GetCollectionAsync(CancellationToken cancellationToken = default);

    Task<IReadOnlyList<HouseCollection>> ListCollectionsAsync(CancellationToken cancellationToken = default);

    /// <summary>Inserts or replaces records by Id, atomically per call. Creates the collection on first use.</summary>
    Task UpsertAsync(IReadOnlyList<HouseEmbedding> records, CancellationToken cancellationToken = default);

    /// <summary>The <paramref name="top"/> nearest records, nearest first, ties broken by Id.</summary>
    Task<IReadOnlyList<HouseMatch>> SearchAsync(float[] vector, string modelId, int top, DistanceMetric metric,
        CancellationToken cancellationToken = default);

    Task<HouseRecord?> GetAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Every record of the collection, in Id order.</summary>
    IAsyncEnumerable<HouseRecord> ReadAllAsync(CancellationToken cancellationToken = default);

    Task<bool> RemoveAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Deletes the whole collection; false when it did not exist.</summary>
    Task<bool> DropCollectionAsync(CancellationToken cancellationToken = default);
}

public static partial class CollectionName
{
    public const string Default = "default";

    /// <summary>
    /// Collection names become table names in SQL backends, so every backend accepts the same safe set:
    /// a letter or underscore, then letters, digits and underscores, at most 63 characters.
    /// </summary>
    public static string Validate(string name)
    {
        if (!Pattern().IsMatch(name))
        {
            throw new ArgumentException(
                $"'{name}' is not a valid collection name: use a letter or '_' followed by letters, digits or '_' (at most 63).",
                nameof(name));
        }
        return name;
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex Pattern();
}
