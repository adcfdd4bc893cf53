using System.Management.Automation;

namespace HouseSimilarity.Commands;

/// <summary>Deletes whole collections and their vectors; the photo files are not touched.</summary>
[Cmdlet(VerbsCommon.Remove, "HouseCollection", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(void))]
public sealed class RemoveHouseCollectionCommand : HouseStoreCmdletBase
{
    /// <summary>Collection names; HouseCollection objects bind by their Name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ArgumentCompleter(typeof(CollectionCompleter))]
    public string[] Name { get; set; } = [];

    protected override void ProcessRecord()
    {
        foreach (string name in Name)
        {
            using var store = OpenStore(name);
            HouseCollection? collection = Wait(store.GetCollectionAsync);
            if (collection is null)
            {
                WriteError(new ErrorRecord(new ItemNotFoundException($"Collection '{name}' does not exist in {store.Location}."),
                    "CollectionNotFound", ErrorCategory.ObjectNotFound, name));
                continue;
            }
            if (ShouldProcess($"collection '{name}' ({collection.Count} photos) in {collection.Location}", "Remove house collection"))
            {
                Wait(store.DropCollectionAsync);
            }
        }
    }
}
