using System.Management.Automation;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>
/// Removes stored photos by path or Id; the photo files themselves are not touched. A piped record or match is removed
/// from the store and collection it came from.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "HouseVector", DefaultParameterSetName = "Path", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(HouseRecord))]
public sealed class RemoveHouseVectorCommand : HouseCollectionCmdletBase
{
    /// <summary>Paths of stored photos; wildcards match existing files, other paths are taken literally.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = "Path")]
    [SupportsWildcards]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "LiteralPath")]
    [Alias("PSPath", "LP")]
    public string[] LiteralPath { get; set; } = [];

    /// <summary>Record Ids, for example from Find-SimilarHouse output.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "Id")]
    public string[] Id { get; set; } = [];

    /// <summary>Where a piped record or match came from (its Store property): it is removed there.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = "Id", DontShow = true)]
    [Alias("Store")]
    public object? SourceStore { get; set; }

    /// <summary>Emit each removed record.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        foreach (string id in Ids())
        {
            if (StoreOf(SourceStore, id) is not { } store || !CollectionExists(store))
            {
                continue;
            }
            HouseRecord? record = Wait(ct => store.GetAsync(id, ct));
            if (record is null)
            {
                WriteError(new ErrorRecord(new ItemNotFoundException($"No photo with Id '{id}' in collection '{store.Collection}'."),
                    "RecordNotFound", ErrorCategory.ObjectNotFound, id));
                continue;
            }
            if (ShouldProcess($"{id} in collection '{store.Collection}' ({store.Backend} {store.Location})", "Remove house vector") &&
                Wait(ct => store.RemoveAsync(id, ct)) && PassThru)
            {
                record.Store = ReferenceTo(store);
                WriteObject(record);
            }
        }
    }

    private IEnumerable<string> Ids()
    {
        switch (ParameterSetName)
        {
            case "Id":
                return Id;
            case "LiteralPath":
                return LiteralPath.Select(p => SessionState.Path.GetUnresolvedProviderPathFromPSPath(p));
            default:
                return StoredPaths(Path);
        }
    }
}
