using System.Management.Automation;

namespace HouseSimilarity.Commands;

/// <summary>Lists the collections of a store with their size, model and index.</summary>
[Cmdlet(VerbsCommon.Get, "HouseCollection")]
[OutputType(typeof(HouseCollection))]
public sealed class GetHouseCollectionCommand : HouseStoreCmdletBase
{
    /// <summary>Collection names to list; wildcards allowed. Default: all.</summary>
    [Parameter(Position = 0)]
    [Alias("Collection")]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(CollectionCompleter))]
    public string[] Name { get; set; } = ["*"];

    protected override void EndProcessing()
    {
        var patterns = Name.Select(n => WildcardPattern.Get(n, WildcardOptions.IgnoreCase)).ToList();
        using var store = OpenStore(Stores.CollectionName.Default, wholeStore: true);
        var collections = Wait(store.ListCollectionsAsync);
        foreach (var collection in collections.Where(c => patterns.Any(p => p.IsMatch(c.Name))))
        {
            collection.Store = Target.Reference(collection.Name);
            WriteObject(collection);
        }
        foreach (string name in Name.Where(n => !WildcardPattern.ContainsWildcardCharacters(n)))
        {
            if (!collections.Any(c => string.Equals(c.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                WriteCollectionNotFound(name, store.Backend, store.Location);
            }
        }
    }
}
