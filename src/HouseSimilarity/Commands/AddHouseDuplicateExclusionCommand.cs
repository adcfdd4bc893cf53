using System.Management.Automation;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>
/// Remembers that photos are not duplicates of one another, with the collection, so that later Find-HouseDuplicate
/// scans do not join them again. The decision is keyed by the photos' content (SHA-256): it survives re-adding the same
/// files, and a re-encoded copy is a new question. A piped group marks all its members; piped members mark every pair
/// among them; a piped pair (or a decision from Get-HouseDuplicateExclusion, live or from CSV/JSON) marks that pair.
/// </summary>
[Cmdlet(VerbsCommon.Add, "HouseDuplicateExclusion", DefaultParameterSetName = "InputObject", SupportsShouldProcess = true,
    ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(HouseDuplicateExclusion))]
public sealed class AddHouseDuplicateExclusionCommand : HouseCollectionCmdletBase
{
    private readonly List<HouseDuplicateMember> _members = [];

    /// <summary>
    /// Groups (every pair of their members), group members (every pair among all of them), pairs or decisions (any object
    /// with Sha256A and Sha256B). One untyped parameter: these objects share property names (Store), which typed
    /// parameter sets would bind ambiguously.
    /// </summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
    public PSObject[] InputObject { get; set; } = [];

    /// <summary>The content hash of one photo of the pair.</summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = "Hash")]
    public string Sha256A { get; set; } = "";

    /// <summary>The content hash of the other photo.</summary>
    [Parameter(Mandatory = true, Position = 1, ParameterSetName = "Hash")]
    public string Sha256B { get; set; } = "";

    /// <summary>Emit each decision stored.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == "Hash")
        {
            RememberPair(Sha256A, "", Sha256B, "", null);
            return;
        }
        foreach (var input in InputObject)
        {
            switch (input.BaseObject)
            {
                case HouseDuplicateGroup group:
                    Remember(group.Store, group.Members, $"group {group.Group} ({Plural.Of(group.Count, "photo")})");
                    break;
                case HouseDuplicateMember member:
                    _members.Add(member);
                    break;
                case HouseDuplicatePair pair:
                    RememberPair(pair.Sha256A, pair.A, pair.Sha256B, pair.B, pair.Store);
                    break;
                default:
                    // A decision, live or read back from CSV or JSON.
                    if (Text(input, "Sha256A") is { } a && Text(input, "Sha256B") is { } b)
                    {
                        RememberPair(a, Text(input, "PathA") ?? "", b, Text(input, "PathB") ?? "", input.Properties["Store"]?.Value);
                    }
                    else
                    {
                        WriteError(new ErrorRecord(new ArgumentException(
                                $"'{input}' is not a duplicate group, member, pair or decision (an object with Sha256A and Sha256B)."),
                            "InvalidInput", ErrorCategory.InvalidArgument, input));
                    }
                    break;
            }
        }
    }

    private static string? Text(PSObject input, string property) => input.Properties[property]?.Value?.ToString();

    protected override void EndProcessing()
    {
        if (_members.Count == 1)
        {
            WriteError(new ErrorRecord(new ArgumentException(
                    $"Only one photo was given ({_members[0].Path}): pipe two or more members, which are then not duplicates of one another."),
                "OneMember", ErrorCategory.InvalidArgument, _members[0]));
            return;
        }
        foreach (var members in _members.GroupBy(m => m.Store))
        {
            Remember(members.Key, members.ToList(), $"{Plural.Of(members.Count(), "photo")}");
        }
    }

    private void RememberPair(string shaA, string pathA, string shaB, string pathB, object? source)
    {
        HouseDuplicateExclusion pair;
        try
        {
            pair = HouseDuplicateExclusion.Between(shaA, pathA, shaB, pathB, "", DateTime.UtcNow);
        }
        catch (ArgumentException e)
        {
            WriteError(new ErrorRecord(e, "InvalidSha256", ErrorCategory.InvalidArgument, $"{shaA} {shaB}"));
            return;
        }
        string what = pair.PathA.Length > 0 ? $"{pair.PathA} and {pair.PathB}" : $"{pair.Sha256A} and {pair.Sha256B}";
        if (Open(source, what) is { } store)
        {
            Keep(store, [pair], what);
        }
    }

    private void Remember(HouseStoreReference? source, IReadOnlyList<HouseDuplicateMember> members, string what)
    {
        if (members.FirstOrDefault(m => m.Sha256.Length == 0) is { } unhashed)
        {
            WriteError(new ErrorRecord(new ArgumentException($"'{unhashed.Path}' has no content hash, so no decision can be kept about it."),
                "InvalidSha256", ErrorCategory.InvalidArgument, unhashed));
            return;
        }
        if (Open(source, what) is not { } store)
        {
            return;
        }
        var now = DateTime.UtcNow;
        var pairs = new List<HouseDuplicateExclusion>();
        for (int a = 0; a < members.Count; a++)
        {
            for (int b = a + 1; b < members.Count; b++)
            {
                pairs.Add(HouseDuplicateExclusion.Between(members[a].Sha256, members[a].Path, members[b].Sha256, members[b].Path,
                    store.Collection, now));
            }
        }
        // Byte-identical members give one pair (a hash with itself) for all of them.
        Keep(store, pairs.DistinctBy(p => (p.Sha256A, p.Sha256B)).ToList(), what);
    }

    /// <summary>The store a piped object was scanned in; null (after an error) when there is none to keep a decision in.</summary>
    private IHouseStore? Open(object? source, string what)
    {
        if (source is HouseStoreReference { Collection.Length: 0 })
        {
            WriteError(new ErrorRecord(new InvalidOperationException(
                    $"{char.ToUpperInvariant(what[0])}{what[1..]} was scanned with Find-HouseDuplicate -Path, outside any collection, so there is nowhere to remember the " +
                    "decision: add the photos to a collection (Add-HouseVector) and scan it."),
                "NotStored", ErrorCategory.InvalidOperation, what));
            return null;
        }
        if (StoreOf(source, what) is not { } store)
        {
            return null;
        }
        if (Wait(store.GetCollectionAsync) is null)
        {
            WriteError(new ErrorRecord(new ItemNotFoundException(
                    $"Collection '{store.Collection}' does not exist in {store.Location}; decisions are kept with a collection."),
                "CollectionNotFound", ErrorCategory.ObjectNotFound, store.Collection));
            return null;
        }
        return store;
    }

    private void Keep(IHouseStore store, List<HouseDuplicateExclusion> pairs, string what)
    {
        string plural = pairs.Count == 1 ? "pair" : "pairs";
        if (!ShouldProcess($"{what}: {pairs.Count} {plural} in collection '{store.Collection}' ({store.Backend} {store.Location})",
                "Remember as not duplicates"))
        {
            return;
        }
        var stored = pairs.Select(p => new HouseDuplicateExclusion(p.Sha256A, p.Sha256B)
        {
            PathA = p.PathA, PathB = p.PathB, Collection = store.Collection, AddedUtc = p.AddedUtc == default ? DateTime.UtcNow : p.AddedUtc,
            Store = ReferenceTo(store),
        }).ToList();
        Wait(ct => store.AddExclusionsAsync(stored, ct));
        WriteVerbose($"Remembered {stored.Count} {plural} as not duplicates in collection '{store.Collection}'.");
        if (PassThru)
        {
            WriteObject(stored, enumerateCollection: true);
        }
    }
}
