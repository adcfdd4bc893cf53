using System.Net;

namespace HouseSimilarity.Stores;

/// <summary>The index a collection gets. Each backend offers some of them (<see cref="HouseStoreProvider.IndexTypes"/>).</summary>
public enum VectorIndexType
{
    /// <summary>An HNSW graph (approximate).</summary>
    Hnsw,
    /// <summary>No approximate index: every search compares every vector.</summary>
    Exact,
    /// <summary>AlloyDB's ScaNN index (approximate, built after bulk loads).</summary>
    ScaNN,
    /// <summary>Inverted lists over k-means cells (Milvus IVF_FLAT).</summary>
    IvfFlat,
    /// <summary>The server chooses (Milvus AUTOINDEX).</summary>
    AutoIndex,
}

/// <summary>The store settings a user can give; each backend accepts some of them.</summary>
[Flags]
public enum StoreSetting
{
    None = 0,
    StorePath = 1,
    ConnectionString = 2,
    Uri = 4,
    Credential = 8,
    Database = 16,
}

/// <summary>
/// Which store to use, as far as one source says: a command's parameters or a session default. Null means "not given
/// here"; <see cref="HouseStoreFactory.Resolve"/> fills the gaps from the next source. May hold secrets: never print it.
/// </summary>
public sealed class HouseStoreSettings
{
    public string? Backend { get; set; }
    /// <summary>The embedded store's file (absolute).</summary>
    public string? StorePath { get; set; }
    /// <summary>A database connection string (it may hold a password).</summary>
    public string? ConnectionString { get; set; }
    /// <summary>A server's address (http/https).</summary>
    public string? Uri { get; set; }
    /// <summary>A database on the server, where the backend has several.</summary>
    public string? Database { get; set; }
    /// <summary>User and password; they replace those of the connection string or token.</summary>
    public NetworkCredential? Credential { get; set; }
    /// <summary>An access token a backend read from its environment (never a parameter).</summary>
    public string? Token { get; set; }
    /// <summary>The index a new collection gets.</summary>
    public VectorIndexType? IndexType { get; set; }
    public string? Collection { get; set; }

    public HouseStoreSettings Clone() => (HouseStoreSettings)MemberwiseClone();

    /// <summary>The store settings (not backend, index or collection) that hold a value.</summary>
    public StoreSetting Given =>
        (StorePath is null ? 0 : StoreSetting.StorePath) | (ConnectionString is null ? 0 : StoreSetting.ConnectionString) |
        (Uri is null ? 0 : StoreSetting.Uri) | (Credential is null ? 0 : StoreSetting.Credential) |
        (Database is null ? 0 : StoreSetting.Database);
}

/// <summary>Options of one opening of a store.</summary>
public sealed class StoreOpenOptions
{
    public static StoreOpenOptions Default { get; } = new();

    /// <summary>Servers: a shorter connection timeout in seconds (argument completion at a prompt).</summary>
    public int? ConnectTimeoutSeconds { get; init; }
    /// <summary>The metric a new collection's index is built for.</summary>
    public DistanceMetric IndexMetric { get; init; } = DistanceMetric.L2;
    /// <summary>False for commands that only read: a store that does not exist is then an error, never created.</summary>
    public bool CreateIfMissing { get; init; } = true;
}

/// <summary>
/// One backend: it parses and validates its own settings and environment variables, says where a store is (without
/// secrets), opens it and names its secrets so that messages can mask them. Its stores turn their own failures into
/// <see cref="HouseStoreException"/>s with a <see cref="StoreFailure"/> kind. Registered once in <see cref="StoreProviders"/>.
/// </summary>
public abstract class HouseStoreProvider
{
    /// <summary>The backend's name as users write it (-Backend).</summary>
    public abstract string Name { get; }

    /// <summary>One line for completion and help.</summary>
    public abstract string Description { get; }

    /// <summary>The settings this backend takes.</summary>
    public abstract StoreSetting Accepts { get; }

    /// <summary>A setting that, given without -Backend, chooses this backend (-StorePath: Local; -Uri: Milvus).</summary>
    public virtual StoreSetting Implies => StoreSetting.None;

    /// <summary>The indexes a new collection can get; the first is the default.</summary>
    public abstract IReadOnlyList<VectorIndexType> IndexTypes { get; }

    /// <summary>The environment variable that holds the backend's default location (connection string, URI), if any.</summary>
    public virtual string? LocationVariable => null;

    /// <summary>
    /// Checks the combined settings and fills what is missing from the environment. Throws ArgumentException with a
    /// message that holds no secret.
    /// </summary>
    protected internal abstract HouseStoreSettings Complete(HouseStoreSettings settings, Func<string, string?> environment);

    /// <summary>Where the store is, as users may see it: no password, no token.</summary>
    protected internal abstract string Locate(HouseStoreSettings settings);

    /// <summary>Opens (without connecting) one collection of the store.</summary>
    protected internal abstract IHouseStore Open(HouseStoreSettings settings, string collection, StoreOpenOptions options);

    /// <summary>The values a message must never show.</summary>
    protected internal virtual IEnumerable<string> Secrets(HouseStoreSettings settings)
    {
        if (settings.Credential?.Password is { Length: > 0 } password)
        {
            yield return password;
        }
    }

    public override string ToString() => Name;
}

/// <summary>A resolved choice of store: a backend and complete settings. Holds secrets: never print its settings.</summary>
public sealed class HouseStoreTarget
{
    private readonly HouseStoreSettings _settings;
    private string? _location;

    internal HouseStoreTarget(HouseStoreProvider provider, HouseStoreSettings settings, string source)
    {
        Provider = provider;
        _settings = settings;
        BackendSource = source;
    }

    public HouseStoreProvider Provider { get; }
    public string Backend => Provider.Name;
    public string Collection => _settings.Collection ?? CollectionName.Default;
    public VectorIndexType IndexType => _settings.IndexType ?? Provider.IndexTypes[0];

    /// <summary>Where the backend choice came from ("parameter", "session", "HOUSESIM_BACKEND", "default"), for verbose output.</summary>
    public string BackendSource { get; }

    /// <summary>Where the store is, without secrets.</summary>
    public string Location => _location ??= Provider.Locate(_settings);

    /// <summary>A copy of the complete settings (with secrets), for a session default.</summary>
    public HouseStoreSettings ToSettings() => _settings.Clone();

    /// <summary>
    /// Opens (without connecting) a collection (default: the target's). The name is validated before anything else, so
    /// a hostile name never reaches a server. Throws ArgumentException (bad name or settings, without secrets) or
    /// HouseStoreException (the store cannot be opened).
    /// </summary>
    public IHouseStore Open(string? collection = null, StoreOpenOptions? options = null)
    {
        string name = CollectionName.Validate(collection ?? Collection);
        try
        {
            return Provider.Open(_settings, name, options ?? StoreOpenOptions.Default);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException(Scrub(HouseStoreFactory.WithoutParameterName(e)));
        }
    }

    /// <summary>Masks every secret of the target wherever a message might echo it.</summary>
    public string Scrub(string text)
    {
        // Very short values would mask ordinary words; no real password is that short.
        foreach (string secret in Provider.Secrets(_settings).Where(s => s.Length >= 4).OrderByDescending(s => s.Length))
        {
            text = text.Replace(secret, "********", StringComparison.Ordinal);
        }
        return text;
    }

    /// <summary>The reference that records and matches of <paramref name="collection"/> carry.</summary>
    public HouseStoreReference Reference(string collection) => new(Backend, Location, collection, this);

    /// <summary>The session-default view: what Connect-HouseStore reports.</summary>
    public HouseStoreConnection Describe() => new()
    {
        Backend = Backend, Location = Location, Collection = Collection,
        IndexType = Provider.IndexTypes.Count > 1 ? IndexType.ToString() : null, Source = BackendSource,
    };

    public override string ToString() => $"{Backend} store";
}

/// <summary>
/// Where a record, match or collection came from: backend, location (no secrets) and collection. In the session that made
/// it, it also knows how to reach the store again, so that cmdlets it is piped into act there.
/// </summary>
public sealed class HouseStoreReference(string backend, string location, string collection, HouseStoreTarget? target = null)
{
    public string Backend { get; } = backend;
    public string Location { get; } = location;
    public string Collection { get; } = collection;

    /// <summary>The target that reaches the store (with its secrets), when this reference was made in this process.</summary>
    public HouseStoreTarget? GetTarget() => target;

    /// <summary>Whether <paramref name="other"/> is the same store (backend and location), whatever the collection.</summary>
    public bool SameStore(string otherBackend, string otherLocation) =>
        string.Equals(Backend, otherBackend, StringComparison.OrdinalIgnoreCase) &&
        string.Equals(Location, otherLocation, StringComparison.Ordinal);

    public override string ToString() => $"{Backend} {Location} (collection '{Collection}')";
}
