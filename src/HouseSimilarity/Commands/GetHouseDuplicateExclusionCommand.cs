using System.Management.Automation;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>Lists the collection's "not a duplicate" decisions (Add-HouseDuplicateExclusion), to review or undo them.</summary>
[Cmdlet(VerbsCommon.Get, "HouseDuplicateExclusion")]
[OutputType(typeof(HouseDuplicateExclusion))]
public sealed class GetHouseDuplicateExclusionCommand : HouseCollectionCmdletBase
{
    /// <summary>Only the decisions about photos with these content hashes (either side of the pair).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string[]? Sha256 { get; set; }

    private HashSet<string>? _wanted;

    protected override void ProcessRecord()
    {
        if (Sha256 is not null)
        {
            (_wanted ??= new HashSet<string>(StringComparer.OrdinalIgnoreCase)).UnionWith(Sha256);
        }
    }

    protected override void EndProcessing()
    {
        if (FindCollection() is not { } collection)
        {
            return;
        }
        foreach (var exclusion in Wait(Store.ReadExclusionsAsync))
        {
            if (_wanted is null || _wanted.Contains(exclusion.Sha256A) || _wanted.Contains(exclusion.Sha256B))
            {
                exclusion.Store = collection.Store;
                WriteObject(exclusion);
            }
        }
    }
}
