using System.Management.Automation;

namespace HouseSimilarity.Commands;

/// <summary>
/// Shows the store (and collection) the other cmdlets use when they are not told otherwise, and where that choice comes
/// from: Connect-HouseStore, HOUSESIM_* environment variables, or the embedded default. With store parameters it shows
/// what they resolve to. Nothing is opened or connected; the password never appears.
/// </summary>
[Cmdlet(VerbsCommon.Get, "HouseStore")]
[OutputType(typeof(HouseStoreConnection))]
public sealed class GetHouseStoreCommand : HouseStoreCmdletBase
{
    /// <summary>The collection to show the store with (default: the session's, else 'default').</summary>
    [Parameter]
    [SingleCollectionName]
    [ValidateNotNullOrEmpty]
    public string? Collection { get; set; }

    protected override string? RequestedCollection => Collection;

    protected override void EndProcessing() => WriteObject(Target.Describe());
}
