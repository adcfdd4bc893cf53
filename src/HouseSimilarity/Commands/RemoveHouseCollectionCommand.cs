using System.Management.Automation;

namespace HouseSimilarity.Commands;

/// <summary>
/// Deletes whole collections and their vectors; the photo files are not touched. A piped collection is removed from the
/// store it came from.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "HouseCollection", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(void))]
public sealed class RemoveHouseCollectionCommand : HouseStoreCmdletBase
{
    /// <summary>Collection names; HouseCollection objects bind by their Name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Collection")]
    [ArgumentCompleter(typeof(CollectionCompleter))]
    public string[] Name { get; set; } = [];

    /// <summary>Where a piped collection came from (its Store property): it is removed there.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
    [Alias("Store")]
    public object? SourceStore { get; set; }

    protected override void ProcessRecord()
    {
        foreach (string name in Name)
        {
            if (WhereOf(SourceStore, null, name) is not { } where)
            {
                continue;
            }
            using var store = OpenStore(name, where.Target);
            HouseCollection? collection = Wait(store.GetCollectionAsync);
            if (collection is null)
            {
                WriteError(new ErrorRecord(new ItemNotFoundException($"Collection '{name}' does not exist in {store.Location}."),
                    "CollectionNotFound", ErrorCategory.ObjectNotFound, name));
                continue;
            }
            if (ShouldProcess($"collection '{name}' ({collection.Count} photos) in {collection.Backend} {collection.Location}", "Remove house collection"))
            {
                Wait(store.DropCollectionAsync);
            }
        }
    }
}
