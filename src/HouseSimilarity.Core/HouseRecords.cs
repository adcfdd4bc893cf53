using HouseSimilarity.Stores;

namespace HouseSimilarity;

/// <summary>A photo embedded by the model: where it came from and its unit-length vector.</summary>
public class HouseEmbedding
{
    /// <summary>Stable key in a store; by default the full path of the photo.</summary>
    public string Id { get; set; } = "";
    public string Path { get; set; } = "";
    public string Sha256 { get; set; } = "";
    public int Width { get; set; }
    public int Height { get; set; }
    public string ModelId { get; set; } = "";
    public float[] Vector { get; set; } = [];

    public override string ToString() => Path;
}

/// <summary>A stored photo: the embedding plus when and where it was stored.</summary>
public sealed class HouseRecord : HouseEmbedding
{
    public DateTime AddedUtc { get; set; }
    public string Collection { get; set; } = "";
    /// <summary>The store the record is in; cmdlets it is piped into act there.</summary>
    public HouseStoreReference? Store { get; set; }

    public static HouseRecord From(HouseEmbedding e, HouseStoreReference store, DateTime addedUtc) => new()
    {
        Id = e.Id, Path = e.Path, Sha256 = e.Sha256, Width = e.Width, Height = e.Height,
        ModelId = e.ModelId, Vector = e.Vector, Collection = store.Collection, Store = store, AddedUtc = addedUtc,
    };
}

/// <summary>One ranked answer of a similarity search.</summary>
public sealed class HouseMatch
{
    public int Rank { get; set; }
    public string Id { get; set; } = "";
    public string Path { get; set; } = "";
    /// <summary>Distance in <see cref="Metric"/>, the metric the search ranked by (true Euclidean L2 by default).</summary>
    public double Distance { get; set; }
    /// <summary>The true Euclidean distance, whatever the metric: what <see cref="IsDuplicate"/> and <see cref="Similarity"/> follow.</summary>
    public double L2Distance { get; set; }
    /// <summary>1 - L2²/2: the cosine similarity of the two unit vectors.</summary>
    public double Similarity { get; set; }
    /// <summary>L2 distance at or below the duplicate threshold, whatever the metric.</summary>
    public bool IsDuplicate { get; set; }
    /// <summary>Calibrated probability that the two photos are the same photo (from the L2 distance; models/MODEL.md).</summary>
    public double DuplicateProbability { get; set; } = double.NaN;
    /// <summary>The metric of <see cref="Distance"/>, "L2" or "L1": text, so that JSON and CSV say it as PowerShell shows it.</summary>
    public string Metric { get; set; } = nameof(DistanceMetric.L2);
    public string Sha256 { get; set; } = "";
    public int Width { get; set; }
    public int Height { get; set; }
    /// <summary>The photo (or id) that was searched for.</summary>
    public string Query { get; set; } = "";
    public string Collection { get; set; } = "";
    /// <summary>The store the match is in; cmdlets it is piped into act there.</summary>
    public HouseStoreReference? Store { get; set; }

    public override string ToString() => Path;
}

/// <summary>The comparison of two photos.</summary>
public sealed class HouseComparison
{
    public string ReferencePath { get; set; } = "";
    public string DifferencePath { get; set; } = "";
    public double Distance { get; set; }
    public double L1Distance { get; set; }
    public double Similarity { get; set; }
    public bool IsDuplicate { get; set; }
    /// <summary>Calibrated probability that the two photos are the same photo (from the L2 distance; models/MODEL.md).</summary>
    public double DuplicateProbability { get; set; } = double.NaN;
    public double Threshold { get; set; }
    /// <summary>True when both files have the same bytes.</summary>
    public bool IsIdentical { get; set; }
}

/// <summary>A named set of vectors in a store.</summary>
public sealed class HouseCollection
{
    public string Name { get; set; } = "";
    public string Backend { get; set; } = "";
    public string Location { get; set; } = "";
    public long Count { get; set; }
    public string ModelId { get; set; } = "";
    public int Dimension { get; set; }
    /// <summary>Its vector index: Hnsw, ScaNN, IvfFlat, AutoIndex, or Exact (none: every search compares every vector).</summary>
    public string IndexType { get; set; } = nameof(VectorIndexType.Exact);
    /// <summary>The metrics its index answers ("L2"; "L2, L1" where every search is exact); others are exact scans or refused.</summary>
    public string Metric { get; set; } = nameof(DistanceMetric.L2);
    /// <summary>The store the collection is in; cmdlets it is piped into act there.</summary>
    public HouseStoreReference? Store { get; set; }

    public override string ToString() => Name;
}

/// <summary>
/// A store as the commands see it: the session default (Connect-HouseStore, Get-HouseStore) or what store parameters name.
/// No password, no connection string.
/// </summary>
public sealed class HouseStoreConnection
{
    public string Backend { get; init; } = "";
    /// <summary>The store file, or the server (postgresql://user@host:port/database, http://host:19530/db).</summary>
    public string Location { get; init; } = "";
    /// <summary>The default collection of the session.</summary>
    public string Collection { get; init; } = CollectionName.Default;
    /// <summary>The index new collections get (Hnsw, Exact, ScaNN...); null where the backend has only one.</summary>
    public string? IndexType { get; init; }
    /// <summary>Where the commands take this store from: Connect-HouseStore, parameters, environment variables or the default.</summary>
    public string Source { get; init; } = "";

    public override string ToString() => $"{Backend} {Location}";
}

public enum DistanceMetric
{
    L2,
    L1,
}
