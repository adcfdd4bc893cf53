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
    /// <summary>Distance in the requested metric (true Euclidean L2 by default).</summary>
    public double Distance { get; set; }
    /// <summary>1 - L2²/2: the cosine similarity of the two unit vectors.</summary>
    public double Similarity { get; set; }
    public bool IsDuplicate { get; set; }
    /// <summary>Calibrated probability that the two photos are the same photo (from the L2 distance; models/MODEL.md).</summary>
    public double DuplicateProbability { get; set; } = double.NaN;
    public DistanceMetric Metric { get; set; }
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
    /// <summary>The store the collection is in; cmdlets it is piped into act there.</summary>
    public HouseStoreReference? Store { get; set; }

    public override string ToString() => Name;
}

public enum DistanceMetric
{
    L2,
    L1,
}
