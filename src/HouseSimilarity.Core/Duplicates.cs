using HouseSimilarity.Stores;

namespace HouseSimilarity;

/// <summary>Exact: every member has the same bytes (SHA-256). Near: the same photo re-encoded, resized, cropped, edited.</summary>
public enum DuplicateKind
{
    Exact,
    Near,
}

/// <summary>One rule of the keeper policy (-KeepBy), tried in order until one tells the members apart.</summary>
public enum KeeperRule
{
    /// <summary>The most pixels.</summary>
    Resolution,
    /// <summary>The largest file (the least recompressed).</summary>
    FileSize,
    /// <summary>Added to the collection first.</summary>
    Oldest,
    /// <summary>Added to the collection last.</summary>
    Newest,
    /// <summary>The shortest path (the copy nearest the top of the tree).</summary>
    ShortestPath,
}

/// <summary>A photo in a duplicate group.</summary>
public sealed class HouseDuplicateMember
{
    public string Id { get; init; } = "";
    public string Path { get; init; } = "";
    public string Sha256 { get; init; } = "";
    public int Width { get; init; }
    public int Height { get; init; }
    /// <summary>Bytes on disk, or null when the file is not there (any more).</summary>
    public long? FileSize { get; init; }
    /// <summary>When it was added to the collection; null for a photo that was only checked, not stored.</summary>
    public DateTime? AddedUtc { get; init; }
    public bool IsKeeper { get; internal set; }
    /// <summary>L2 distance to the group's keeper (0 for the keeper).</summary>
    public double DistanceToKeeper { get; internal set; }
    /// <summary>Whether the photo is stored in the collection (false: a photo given to check, not stored).</summary>
    public bool IsStored { get; init; }
    public string Collection { get; init; } = "";
    /// <summary>The store the photo is in; Remove-HouseVector acts there.</summary>
    public HouseStoreReference? Store { get; init; }

    public string Resolution => $"{Width}x{Height}";

    public override string ToString() => Path;
}

/// <summary>Two members of a group and their distance.</summary>
public sealed record HouseDuplicatePair(string A, string B, double Distance, bool SameBytes)
{
    /// <summary>Calibrated probability that the two are the same photo; 1 for the same bytes.</summary>
    public double DuplicateProbability { get; init; } = double.NaN;
    /// <summary>The photos' content hashes: what a "not a duplicate" decision remembers.</summary>
    public string Sha256A { get; init; } = "";
    public string Sha256B { get; init; } = "";
    /// <summary>The store the group was scanned in; Add-HouseDuplicateExclusion acts there.</summary>
    public HouseStoreReference? Store { get; init; }
}

/// <summary>Photos that are copies of one another: a connected component of the duplicate pairs.</summary>
public sealed class HouseDuplicateGroup
{
    public int Group { get; init; }
    /// <summary>"Exact" (every member has the same bytes) or "Near": text, so that ConvertTo-Json and Export-Csv write it as shown.</summary>
    public string Kind { get; init; } = nameof(DuplicateKind.Near);
    public int Count => Members.Count;
    public HouseDuplicateMember Keeper { get; init; } = null!;
    /// <summary>Which keeper rule decided, and how.</summary>
    public string KeeperReason { get; init; } = "";
    /// <summary>Every member, the keeper first, then by distance to it.</summary>
    public IReadOnlyList<HouseDuplicateMember> Members { get; init; } = [];
    /// <summary>Every member but the keeper: what a clean-up removes.</summary>
    public IReadOnlyList<HouseDuplicateMember> Duplicates => Members.Where(m => !m.IsKeeper).ToList();
    /// <summary>The distances between members (every pair for groups of up to 64 members, else the pairs found).</summary>
    public IReadOnlyList<HouseDuplicatePair> Pairs { get; init; } = [];
    /// <summary>The largest distance between two members: a chain of near matches shows here.</summary>
    public double MaxDistance { get; init; }
    /// <summary>The lowest duplicate probability of the pairs that join the group (its weakest link).</summary>
    public double DuplicateProbability { get; init; } = double.NaN;
    public double Threshold { get; init; }
    public string Collection { get; init; } = "";
    public HouseStoreReference? Store { get; init; }
    /// <summary>The scan the group came from (shared by all its groups).</summary>
    public HouseDuplicateScanSummary? Scan { get; init; }

    public override string ToString() => $"{Kind} group {Group}: {Keeper.Path} and {Count - 1} more";
}

/// <summary>What a duplicate scan looked at: the photos searched and how far each one's nearest neighbour was.</summary>
public sealed class HouseDuplicateScanSummary
{
    public const double BinWidth = 0.02;

    public string Collection { get; init; } = "";
    public HouseStoreReference? Store { get; init; }
    /// <summary>Photos in the scan (stored and checked).</summary>
    public long Photos { get; init; }
    public int Groups { get; init; }
    public double Threshold { get; init; }
    public DateTime ScannedUtc { get; init; }
    /// <summary>
    /// How many searched photos have their nearest other photo at each distance, in bins of <see cref="BinWidth"/> from 0
    /// to 2: duplicates sit left of the threshold, merely similar houses right of it.
    /// </summary>
    public IReadOnlyList<long> NearestDistanceCounts { get; init; } = [];
    /// <summary>Pairs within the threshold that were not joined because the user marked them "not a duplicate".</summary>
    public long ExcludedPairs { get; init; }
}

/// <summary>
/// A remembered "not a duplicate": two photos, by content (SHA-256), that duplicate scans of the collection no longer
/// join. Keyed by content, so re-adding the same files keeps the decision and a re-encoded copy is a new question.
/// </summary>
public sealed class HouseDuplicateExclusion
{
    /// <summary>The smaller hash of the two (ordinal), in lower case.</summary>
    public string Sha256A { get; }
    public string Sha256B { get; }
    /// <summary>The paths the photos had when the decision was made, to show; the hashes decide.</summary>
    public string PathA { get; init; } = "";
    public string PathB { get; init; } = "";
    public DateTime AddedUtc { get; init; }
    public string Collection { get; init; } = "";
    /// <summary>The store the decision is kept in; Remove-HouseDuplicateExclusion acts there.</summary>
    public HouseStoreReference? Store { get; set; }

    public HouseDuplicateExclusion(string sha256A, string sha256B)
    {
        (Sha256A, Sha256B) = Key(sha256A, sha256B);
    }

    /// <summary>A decision about two photos given in any order: the paths follow their hashes.</summary>
    public static HouseDuplicateExclusion Between(string sha256X, string pathX, string sha256Y, string pathY, string collection,
        DateTime addedUtc)
    {
        var (a, _) = Key(sha256X, sha256Y);
        bool inOrder = a == sha256X.ToLowerInvariant();
        return new HouseDuplicateExclusion(sha256X, sha256Y)
        {
            PathA = inOrder ? pathX : pathY, PathB = inOrder ? pathY : pathX, Collection = collection, AddedUtc = addedUtc,
        };
    }

    /// <summary>The pair as stored: both hashes checked and lower-cased, the smaller first.</summary>
    public static (string A, string B) Key(string sha256A, string sha256B)
    {
        string a = CheckSha(sha256A), b = CheckSha(sha256B);
        return string.CompareOrdinal(a, b) <= 0 ? (a, b) : (b, a);
    }

    private static string CheckSha(string sha)
    {
        if (sha is not { Length: 64 } || !sha.All(char.IsAsciiHexDigit))
        {
            throw new ArgumentException($"'{sha}' is not a SHA-256 (64 hexadecimal digits).");
        }
        return sha.ToLowerInvariant();
    }

    public override string ToString() => $"{PathA} <> {PathB}";
}
