using System.Management.Automation;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>Cmdlets that open a store.</summary>
public abstract class HouseStoreCmdletBase : HouseCmdletBase
{
    /// <summary>The local store file; default $XDG_DATA_HOME/HouseSimilarity/houses.db.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? StorePath { get; set; }

    /// <summary>Opens a collection; a store that cannot be opened stops the command.</summary>
    protected IHouseStore OpenStore(string collection)
    {
        try
        {
            string? file = StorePath is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(StorePath);
            return new LocalStore(file, collection);
        }
        catch (ArgumentException e)
        {
            Terminate(e, "InvalidCollectionName", ErrorCategory.InvalidArgument, collection);
        }
        catch (HouseStoreException e)
        {
            Terminate(e, "StoreUnavailable", ErrorCategory.OpenError, StorePath);
        }
        return null!;
    }

    /// <summary>The collection, or a terminating error when it does not exist.</summary>
    protected HouseCollection RequireCollection(IHouseStore store)
    {
        HouseCollection? collection = Wait(store.GetCollectionAsync);
        if (collection is null)
        {
            Terminate(new ItemNotFoundException(
                    $"Collection '{store.Collection}' does not exist in {store.Location}; add photos to it with Add-HouseVector."),
                "CollectionNotFound", ErrorCategory.ObjectNotFound, store.Collection);
        }
        return collection!;
    }

    /// <summary>A model mismatch stops the command: no vector it makes would be comparable.</summary>
    protected void TerminateOnMismatch(ModelMismatchException e) =>
        Terminate(e, "ModelMismatch", ErrorCategory.InvalidData, e.Collection);
}

/// <summary>Cmdlets that work on one collection.</summary>
public abstract class HouseCollectionCmdletBase : HouseStoreCmdletBase
{
    private IHouseStore? _store;

    /// <summary>The collection to use; photos embedded by different model versions live in different collections.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(CollectionCompleter))]
    [ValidateNotNullOrEmpty]
    public string Collection { get; set; } = CollectionName.Default;

    /// <summary>Opened on first use.</summary>
    protected IHouseStore Store => _store ??= OpenStore(Collection);

    protected HouseCollection RequireCollection() => RequireCollection(Store);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _store?.Dispose();
            _store = null;
        }
        base.Dispose(disposing);
    }
}
