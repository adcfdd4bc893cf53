using System.Management.Automation;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>
/// Cmdlets that open a store. Which one: these parameters, else the session default (Connect-HouseStore), else the
/// environment (HOUSESIM_BACKEND and each backend's variables), else the embedded store; <see cref="HouseStoreFactory.Resolve"/>
/// decides. No backend is named here: the registered providers say which settings they take.
/// </summary>
public abstract class HouseStoreCmdletBase : HouseCmdletBase
{
    private HouseStoreTarget? _target;

    /// <summary>Where the vectors live: Local (embedded SQLite file), PgVector, AlloyDb or Milvus.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(BackendCompleter))]
    [ValidateBackend]
    public string? Backend { get; set; }

    /// <summary>The local store file; default $XDG_DATA_HOME/HouseSimilarity/houses.db. Implies -Backend Local.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? StorePath { get; set; }

    /// <summary>PgVector / AlloyDb: an Npgsql connection string (Host, Port, Database, Username; TLS options pass through).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? ConnectionString { get; set; }

    /// <summary>Milvus: the server, for example http://localhost:19530. Implies -Backend Milvus.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public Uri? Uri { get; set; }

    /// <summary>Milvus: the database on the server (default: default).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Database { get; set; }

    /// <summary>PgVector / AlloyDb / Milvus: user and password; they replace those of the connection string or token.</summary>
    [Parameter]
    [Credential]
    [ValidateNotNull]
    public PSCredential? Credential { get; set; }

    /// <summary>The index a new collection gets, where the cmdlet creates collections.</summary>
    protected virtual VectorIndexType? RequestedIndexType => null;

    /// <summary>The collection the command names explicitly, if any.</summary>
    protected virtual string? RequestedCollection => null;

    /// <summary>The metric the index of a collection this command creates is built for.</summary>
    protected virtual DistanceMetric RequestedIndexMetric => DistanceMetric.L2;

    /// <summary>Whether the command may create a store that does not exist yet (Add-HouseVector); read-only commands never do.</summary>
    protected virtual bool CreatesStore => false;

    /// <summary>Whether the session default applies (Connect-HouseStore replaces it, so it does not read it).</summary>
    protected virtual bool UsesSessionDefault => true;

    /// <summary>The store this command uses, resolved once.</summary>
    protected HouseStoreTarget Target => _target ??= ResolveTarget();

    protected bool IsBound(string parameter) => MyInvocation.BoundParameters.ContainsKey(parameter);

    /// <summary>Whether the command line names a store (any store parameter), rather than leaving it to the defaults.</summary>
    protected bool NamesStore => new[]
    {
        nameof(Backend), nameof(StorePath), nameof(ConnectionString), nameof(Uri), nameof(Database), nameof(Credential),
    }.Any(IsBound);

    private HouseStoreTarget ResolveTarget()
    {
        if (RequestedCollection is { } name)
        {
            ValidateCollectionName(name);
        }
        var given = new HouseStoreSettings
        {
            Backend = Backend,
            StorePath = StorePath is null ? null : SessionState.Path.GetUnresolvedProviderPathFromPSPath(StorePath),
            ConnectionString = ConnectionString,
            Uri = Uri?.OriginalString,
            Database = Database,
            Credential = Credential is null || Credential == PSCredential.Empty ? null : Credential.GetNetworkCredential(),
            IndexType = RequestedIndexType,
            Collection = RequestedCollection,
        };
        try
        {
            return HouseStoreFactory.Resolve(given, UsesSessionDefault ? HouseStoreSession.Current : null);
        }
        catch (ArgumentException e)
        {
            Terminate(new ArgumentException(ScrubGiven(HouseStoreFactory.WithoutParameterName(e))), "InvalidStoreSettings",
                ErrorCategory.InvalidArgument);
            return null!;
        }
    }

    /// <summary>
    /// Opens a collection of <paramref name="target"/> (default: the resolved store and collection) and, for a server,
    /// connects: an unreachable server or a wrong password stops the command here, with one error that names the
    /// server but never the password.
    /// </summary>
    protected IHouseStore OpenStore(string? collection = null, HouseStoreTarget? target = null, bool wholeStore = false)
    {
        target ??= Target;
        string name = collection ?? target.Collection;
        ValidateCollectionName(name);
        IHouseStore store;
        try
        {
            store = target.Open(name, new StoreOpenOptions { IndexMetric = RequestedIndexMetric, CreateIfMissing = CreatesStore });
        }
        catch (ArgumentException e)
        {
            Terminate(new ArgumentException(target.Scrub(e.Message)), "InvalidStoreSettings", ErrorCategory.InvalidArgument);
            return null!;
        }
        catch (HouseStoreException e)
        {
            ThrowTerminatingError(StoreErrorRecord(e, ErrorCategory.OpenError, target.Location));
            return null!;
        }
        try
        {
            Wait(store.ConnectAsync, throwStoreErrors: true);
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
        WriteVerbose(wholeStore
            ? $"{store.Backend} store {store.Location} (backend from {target.BackendSource})."
            : $"{store.Backend} store {store.Location} (backend from {target.BackendSource}), collection '{store.Collection}'.");
        return store;
    }

    /// <summary>A bad name is refused before any store is opened, so it never reaches a server.</summary>
    protected void ValidateCollectionName(string name)
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

    /// <summary>Masks what the command line gave as secrets, before a target exists to do it.</summary>
    private string ScrubGiven(string text)
    {
        foreach (string? secret in new[] { Credential?.GetNetworkCredential().Password, ConnectionString })
        {
            if (secret is { Length: >= 4 })
            {
                text = text.Replace(secret, "********", StringComparison.Ordinal);
            }
        }
        return text;
    }

    protected string Scrub(string text) => _target?.Scrub(text) ?? ScrubGiven(text);

    private readonly HashSet<(string Backend, string Location, string Collection)> _missingReported = [];

    /// <summary>
    /// The collection of <paramref name="store"/>, or null when it does not exist. One rule for every cmdlet: a missing
    /// collection is a non-terminating CollectionNotFound error (written once per collection), the command does nothing
    /// in it and goes on with its other input; -ErrorAction Stop makes it terminating. A store that cannot be reached or
    /// does not exist is terminating: nothing can go on without it.
    /// </summary>
    protected HouseCollection? FindCollection(IHouseStore store, HouseStoreReference? reference = null)
    {
        HouseCollection? collection = Wait(store.GetCollectionAsync);
        if (collection is null)
        {
            WriteCollectionNotFound(store.Collection, store.Backend, store.Location);
            return null;
        }
        collection.Store = reference ?? Target.Reference(collection.Name);
        return collection;
    }

    /// <summary>The CollectionNotFound error, the same text and id in every cmdlet.</summary>
    protected void WriteCollectionNotFound(string collection, string backend, string location)
    {
        if (_missingReported.Add((backend, location, collection)))
        {
            WriteError(new ErrorRecord(new ItemNotFoundException(
                    $"Collection '{collection}' does not exist in {backend} {location}; add photos to it with Add-HouseVector."),
                "CollectionNotFound", ErrorCategory.ObjectNotFound, collection));
        }
    }

    /// <summary>
    /// Where to act on a piped object that carries a store reference: its own store and collection, unless the command
    /// line names a store or <paramref name="namedCollection"/>, which must then be the same. Null collection: the
    /// command's own. Null (after writing an error naming both) when the object cannot be acted on.
    /// </summary>
    protected (HouseStoreTarget Target, string? Collection)? WhereOf(object? pipedStore, string? namedCollection, object target)
    {
        var reference = ReadReference(pipedStore);
        if (reference is null)
        {
            return (Target, null);
        }
        if (NamesStore || namedCollection is not null)
        {
            string collection = namedCollection ?? reference.Collection;
            if (reference.SameStore(Target.Backend, Target.Location) && collection == reference.Collection)
            {
                return (Target, collection);
            }
            WriteError(new ErrorRecord(new InvalidOperationException(
                    $"'{target}' comes from collection '{reference.Collection}' in {reference.Backend} {reference.Location}, " +
                    $"but the command names collection '{collection}' in {Target.Backend} {Target.Location}. Leave out the store " +
                    "and collection parameters to act where it came from."),
                "StoreMismatch", ErrorCategory.InvalidArgument, target));
            return null;
        }
        if (reference.GetTarget() is { } origin)
        {
            return (origin, reference.Collection);
        }
        // Deserialized (from JSON or another session): it names a store, but holds no way to reach it.
        if (reference.SameStore(Target.Backend, Target.Location))
        {
            return (Target, reference.Collection);
        }
        WriteError(new ErrorRecord(new InvalidOperationException(
                $"'{target}' comes from {reference.Backend} {reference.Location}, which this command does not reach (it uses " +
                $"{Target.Backend} {Target.Location}): connect to that store (Connect-HouseStore) or name it with -Backend."),
            "StoreMismatch", ErrorCategory.InvalidArgument, target));
        return null;
    }

    /// <summary>A store reference from a live object, or from one that went through JSON or CliXml (Backend, Location, Collection).</summary>
    private static HouseStoreReference? ReadReference(object? value)
    {
        object? inner = value is PSObject pso ? pso.BaseObject : value;
        if (inner is HouseStoreReference reference)
        {
            return reference;
        }
        if (value is PSObject bag && bag.Properties["Backend"]?.Value is string backend &&
            bag.Properties["Location"]?.Value is string location && bag.Properties["Collection"]?.Value is string collection)
        {
            return new HouseStoreReference(backend, location, collection);
        }
        return null;
    }

    /// <summary>A model mismatch stops the command: no vector it makes would be comparable.</summary>
    protected void TerminateOnMismatch(ModelMismatchException e) =>
        Terminate(e, "ModelMismatch", ErrorCategory.InvalidData, e.Collection);
}

/// <summary>Cmdlets that work on one collection.</summary>
public abstract class HouseCollectionCmdletBase : HouseStoreCmdletBase
{
    private IHouseStore? _store;
    private readonly Dictionary<(HouseStoreTarget, string), IHouseStore> _pipedStores = [];

    /// <summary>The collection to use (default: the session's, else 'default'); photos embedded by different model
    /// versions live in different collections.</summary>
    [Parameter]
    [ArgumentCompleter(typeof(CollectionCompleter))]
    [SingleCollectionName]
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

    protected override object? StoreErrorTarget => _store?.Location;

    /// <summary>The command's collection, or null (after one CollectionNotFound error) when it does not exist.</summary>
    protected HouseCollection? FindCollection() => FindCollection(Store);

    private readonly Dictionary<IHouseStore, bool> _exists = [];

    /// <summary>Whether the collection of <paramref name="store"/> exists, asked once per store (then one CollectionNotFound error).</summary>
    protected bool CollectionExists(IHouseStore store)
    {
        if (!_exists.TryGetValue(store, out bool exists))
        {
            _exists[store] = exists = FindCollection(store, ReferenceTo(store)) is not null;
        }
        return exists;
    }

    /// <summary>
    /// Ids of stored photos given as -Path: wildcards match existing files (folders hold no record), other paths are
    /// taken as they are, since a stored photo may be gone from disk.
    /// </summary>
    protected IEnumerable<string> StoredPaths(IEnumerable<string> paths) =>
        paths.SelectMany(p => WildcardPattern.ContainsWildcardCharacters(p)
            ? ResolveFiles([p], literal: false, FolderPolicy.Skip)
            : [SessionState.Path.GetUnresolvedProviderPathFromPSPath(p)]);

    /// <summary>Where this command's records go or come from: the resolved store and collection in use.</summary>
    protected HouseStoreReference Here => Target.Reference(Store.Collection);

    /// <summary>
    /// The store a piped record, match or collection belongs to (its Store property): a cmdlet acts where the object came
    /// from. When the command line names a store or collection too, they must be that one; otherwise the object is
    /// refused with an error that names both. Null (after writing that error) when the object cannot be acted on.
    /// </summary>
    protected IHouseStore? StoreOf(object? pipedStore, object target) =>
        WhereOf(pipedStore, IsBound(nameof(Collection)) ? Collection : null, target) is { } where
            ? Open(where.Target, where.Collection ?? Store.Collection)
            : null;

    /// <summary>The store of a piped collection: where it came from, and that collection (not the command's own).</summary>
    protected IHouseStore? StoreOf(HouseCollection piped) =>
        WhereOf(piped.Store, IsBound(nameof(Collection)) ? Collection : null, piped.Name) is { } where
            ? Open(where.Target, where.Collection ?? piped.Name)
            : null;

    /// <summary>The reference records read from <paramref name="store"/> carry: the store that opened it and its collection.</summary>
    protected HouseStoreReference ReferenceTo(IHouseStore store) =>
        (_pipedStores.FirstOrDefault(p => p.Value == store).Key.Item1 ?? Target).Reference(store.Collection);

    private IHouseStore Open(HouseStoreTarget target, string collection)
    {
        if (target == Target && collection == Store.Collection)
        {
            return Store;
        }
        if (!_pipedStores.TryGetValue((target, collection), out var store))
        {
            store = OpenStore(collection, target);
            _pipedStores[(target, collection)] = store;
        }
        return store;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _store?.Dispose();
            _store = null;
            foreach (var store in _pipedStores.Values)
            {
                store.Dispose();
            }
            _pipedStores.Clear();
        }
        base.Dispose(disposing);
    }
}
