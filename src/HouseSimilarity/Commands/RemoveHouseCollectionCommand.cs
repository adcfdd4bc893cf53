using System.Management.Automation;

namespace HouseSimilarity.Commands;

/// <summary>
/// Deletes whole collections and their vectors; the photo files are not touched. Names take wildcards, as in
/// Get-HouseCollection; each collection they match is asked about (ShouldProcess). A piped collection is removed from the
/// store it came from.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "HouseCollection", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(void))]
public sealed class RemoveHouseCollectionCommand : HouseStoreCmdletBase
{
    /// <summary>Collection names, wildcards allowed; HouseCollection objects bind by their Name.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [Alias("Collection")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(CollectionCompleter))]
    public string[] Name { get; set; } = [];

    /// <summary>Where a piped collection came from (its Store property): it is removed there.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true, DontShow = true)]
    [Alias("Store")]
    public object? SourceStore { get; set; }

    protected override void ProcessRecord()
    {
        foreach (string pattern in Name)
        {
            // A name no collection can have is refused before any store is opened (a pattern only matches listed names).
            if (!WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                ValidateCollectionName(pattern);
            }
            if (WhereOf(SourceStore, null, pattern) is not { } where)
            {
                continue;
            }
            IReadOnlyList<HouseCollection> matched;
            string backend, location;
            using (var listing = OpenStore(Stores.CollectionName.Default, where.Target, wholeStore: true))
            {
                var all = Wait(listing.ListCollectionsAsync);
                var wildcard = WildcardPattern.Get(pattern, WildcardOptions.IgnoreCase);
                matched = WildcardPattern.ContainsWildcardCharacters(pattern)
                    ? all.Where(c => wildcard.IsMatch(c.Name)).ToList()
                    : all.Where(c => c.Name == pattern).ToList();
                (backend, location) = (listing.Backend, listing.Location);
            }
            if (matched.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(pattern))
            {
                WriteCollectionNotFound(pattern, backend, location);
                continue;
            }
            foreach (var collection in matched)
            {
                if (ShouldProcess($"collection '{collection.Name}' ({Plural.Of(collection.Count, "photo")}) in {collection.Backend} {collection.Location}",
                        "Remove house collection"))
                {
                    using var store = OpenStore(collection.Name, where.Target);
                    Wait(store.DropCollectionAsync);
                }
            }
        }
    }
}
