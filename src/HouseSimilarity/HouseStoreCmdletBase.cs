using System.Management.Automation;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>
/// Cmdlets that open a store. Which one: these parameters, else the session default (Connect-HouseStore), else the
/// environment (HOUSESIM_BACKEND, HOUSESIM_PG_CONNECTION, HOUSESIM_ALLOYDB_CONNECTION), else the embedded store;
/// <see cref="HouseStoreFactory.Resolve"/> decides.
/// </summary>
public abstract class HouseStoreCmdletBase : HouseCmdletBase
{
    private HouseStoreTarget? _target;

    /// <summary>Where the vectors live: Local (embedded SQLite file), PgVector (PostgreSQL + pgvector) or AlloyDb.</summary>
    [Parameter]
    public StoreBackend Backend { get; set; }

    /// <summary>The local store file; default $XDG_DATA_HOME/HouseSimilarity/houses.db. Implies -Backend Local.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? StorePath { get; set; }

    /// <summary>PgVector / AlloyDb: an Npgsql connection string (Host, Port, Database, Username; TLS options pass through).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConnectionString { get; set; }

    /// <summary>PgVector / AlloyDb: user and password; they replace those of the connection string.</summary>
    [Parameter]
    [Credential]
    [ValidateNotNull]
    public PSCredential? Credential { get; set; }

    /// <summary>The index a new collection gets, where the cmdlet creates collections.</summary>
    protected virtual VectorIndexKind? RequestedIndexKind => null;

    /// <summary>The collection the command names explicitly, if any.</summary>
    protected virtual string? RequestedCollection => null;

    /// <summary>Search by scanning every row even where the collection has an index.</summary>
    protected virtual bool ExactSearch => false;

    /// <summary>The metric the index of a collection this command creates is built for.</summary>
    protected virtual DistanceMetric RequestedIndexMetric => DistanceMetric.L2;

    /// <summary>Whether the session default applies (Connect-HouseStore replaces it, so it does not read it).</summary>
    protected virtual bool UsesSessionDefault => true;

    /// <summary>The store this command uses, resolved once.</summary>
    protected HouseStoreTarget Target => _target ??= ResolveTarget();

    protected bool IsBound(string parameter) => MyInvocation.BoundParameters.ContainsKey(parameter);

    private HouseStoreTarget ResolveTarget()
    {
        if (RequestedCollection is { } name)
        {
            ValidateCollectionName(name);
        }
        var given = new HouseStoreSettings
        {
            Backend = IsBound(nameof(Backend)) ? Backend : null,
            StorePath = StorePath is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(StorePath),
            ConnectionString = ConnectionString,
            Credential = Credential is null || Credential == PSCredential.Empty ? null : Credential.GetNetworkCredential(),
            IndexKind = RequestedIndexKind,
            Collection = RequestedCollection,
        };
        try
        {
            return HouseStoreFactory.Resolve(given, UsesSessionDefault ? HouseStoreSession.Current : null);
        }
        catch (ArgumentException e)
        {
            Terminate(new ArgumentException(Scrub(HouseStoreFactory.WithoutParameterName(e))), "InvalidStoreSettings", ErrorCategory.InvalidArgument);
            return null!;
        }
    }

    /// <summary>
    /// Opens a collection (default: the resolved one) and, for a server, connects: an unreachable server or a wrong
    /// password stops the command here, with one error that names the server but never the password.
    /// </summary>
    protected IHouseStore OpenStore(string? collection = null)
    {
        var target = Target;
        string name = collection ?? target.Collection;
        ValidateCollectionName(name);
        IHouseStore store;
        try
        {
            store = HouseStoreFactory.Open(target, name, new HouseStoreFactory.OpenOptions { ExactSearch = ExactSearch, IndexMetric = RequestedIndexMetric });
        }
        catch (ArgumentException e)
        {
            Terminate(new ArgumentException(Scrub(e.Message)), "InvalidStoreSettings", ErrorCategory.InvalidArgument);
            return null!;
        }
        catch (HouseStoreException e)
        {
            Terminate(e, "StoreUnavailable", ErrorCategory.OpenError, target.StorePath);
            return null!;
        }
        try
        {
            Wait(ct => HouseStoreFactory.ConnectAsync(store, ct), throwStoreErrors: true);
        }
        catch (HouseStoreException e)
        {
            store.Dispose();
            ThrowTerminatingError(StoreErrorRecord(e, ErrorCategory.OpenError, store.Location));
        }
        catch
        {
            store.Dispose();
            throw;
        }
        WriteVerbose($"{store.Backend} store {store.Location} (backend from {target.BackendSource}), collection '{store.Collection}'.");
        return store;
    }

    /// <summary>A bad name is refused before any store is opened, so it never reaches SQL.</summary>
    private void ValidateCollectionName(string name)
    {
        try
        {
            CollectionName.Validate(name);
        }
        catch (ArgumentException e)
        {
            Terminate(new ArgumentException(HouseStoreFactory.WithoutParameterName(e)), "InvalidCollectionName", ErrorCategory.InvalidArgument, name);
        }
    }

    protected string Scrub(string text) => _target is null && Credential is null && ConnectionString is null
        ? text
        : HouseStoreFactory.Scrub(text, _target ?? new HouseStoreTarget
        {
            ConnectionString = ConnectionString,
            Credential = Credential?.GetNetworkCredential(),
        });

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

    /// <summary>The collection to use (default: the session's, else 'default'); photos embedded by different model
    /// versions live in different collections.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(CollectionCompleter))]
    [ValidateNotNullOrEmpty]
    public string Collection { get; set; } = CollectionName.Default;

    protected override string? RequestedCollection => IsBound(nameof(Collection)) ? Collection : null;

    /// <summary>Opened (and connected) on first use; <see cref="Collection"/> then names the collection in use.</summary>
    protected IHouseStore Store
    {
        get
        {
            if (_store is null)
            {
                _store = OpenStore();
                Collection = _store.Collection;
            }
            return _store;
        }
    }

    /// <summary>The store, if it was opened.</summary>
    protected IHouseStore? OpenedStore => _store;

    protected override object? StoreErrorTarget => _store?.Location;

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
