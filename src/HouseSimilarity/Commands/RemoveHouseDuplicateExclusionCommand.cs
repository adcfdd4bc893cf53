using System.Management.Automation;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>
/// Forgets "not a duplicate" decisions, so that Find-HouseDuplicate may join those photos again. A piped decision (from
/// Get-HouseDuplicateExclusion) is removed from the store it came from.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "HouseDuplicateExclusion", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(void))]
public sealed class RemoveHouseDuplicateExclusionCommand : HouseCollectionCmdletBase
{
    /// <summary>The content hash of one photo of the pair (a decision's Sha256A).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    public string Sha256A { get; set; } = "";

    /// <summary>The content hash of the other photo.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipelineByPropertyName = true)]
    public string Sha256B { get; set; } = "";

    /// <summary>Where a piped decision came from (its Store property): it is removed there.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
    [Alias("Store")]
    public object? SourceStore { get; set; }

    protected override void ProcessRecord()
    {
        (string A, string B) pair;
        try
        {
            pair = HouseDuplicateExclusion.Key(Sha256A, Sha256B);
        }
        catch (ArgumentException e)
        {
            WriteError(new ErrorRecord(e, "InvalidSha256", ErrorCategory.InvalidArgument, $"{Sha256A} {Sha256B}"));
            return;
        }
        string what = $"{pair.A} and {pair.B}";
        if (StoreOf(SourceStore, what) is not { } store)
        {
            return;
        }
        if (FindCollection(store, ReferenceTo(store)) is null)
        {
            return;
        }
        if (ShouldProcess($"the decision that {what} are not duplicates, in collection '{store.Collection}' ({store.Backend} {store.Location})",
                "Remove duplicate exclusion") &&
            Wait(ct => store.RemoveExclusionsAsync([pair], ct)) == 0)
        {
            WriteError(new ErrorRecord(new ItemNotFoundException(
                    $"Collection '{store.Collection}' holds no decision about {what}."),
                "ExclusionNotFound", ErrorCategory.ObjectNotFound, what));
        }
    }
}
