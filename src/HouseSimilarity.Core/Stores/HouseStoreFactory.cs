using System.Data.Common;
using System.Net;
using Npgsql;

namespace HouseSimilarity.Stores;

/// <summary>The vector store backends. Each is one <see cref="IHouseStore"/> implementation opened by <see cref="HouseStoreFactory"/>.</summary>
public enum StoreBackend
{
    /// <summary>The embedded SQLite file (<see cref="LocalStore"/>).</summary>
    Local,
    /// <summary>PostgreSQL + pgvector (<see cref="PgVectorStore"/>).</summary>
    PgVector,
    /// <summary>AlloyDB / AlloyDB Omni: pgvector plus the ScaNN index (<see cref="AlloyDbStore"/>).</summary>
    AlloyDb,
}

/// <summary>
/// Which store to use, as far as one source says: a command's parameters or a session default. Null means "not given
/// here"; <see cref="HouseStoreFactory.Resolve"/> fills the gaps from the next source.
/// </summary>
public sealed class HouseStoreSettings
{
    public StoreBackend? Backend { get; set; }
    /// <summary>Local backend: the SQLite file (absolute).</summary>
    public string? StorePath { get; set; }
    /// <summary>SQL backends: an Npgsql connection string (it may hold a password).</summary>
    public string? ConnectionString { get; set; }
    /// <summary>SQL backends: user and password; they replace those of the connection string.</summary>
    public NetworkCredential? Credential { get; set; }
    /// <summary>SQL backends: the index a new collection gets.</summary>
    public VectorIndexKind? IndexKind { get; set; }
    public string? Collection { get; set; }

    public HouseStoreSettings Clone() => (HouseStoreSettings)MemberwiseClone();
}

/// <summary>A resolved choice of store: everything needed to open a collection. Holds secrets: never print it.</summary>
public sealed class HouseStoreTarget
{
    public StoreBackend Backend { get; init; }
    public string? StorePath { get; init; }
    public string? ConnectionString { get; init; }
    public NetworkCredential? Credential { get; init; }
    public VectorIndexKind IndexKind { get; init; } = VectorIndexKind.Hnsw;
    public string Collection { get; init; } = CollectionName.Default;

    /// <summary>Where the backend choice came from ("parameter", "session", "HOUSESIM_BACKEND", "default"), for verbose output.</summary>
    public string BackendSource { get; init; } = "default";

    public override string ToString() => $"{Backend} store";
}

/// <summary>A session's default store as Connect-HouseStore reports it: no password, no connection string.</summary>
public sealed class HouseStoreConnection
{
    public StoreBackend Backend { get; init; }
    /// <summary>The store file, or postgresql://user@host:port/database.</summary>
    public string Location { get; init; } = "";
    /// <summary>The default collection of the session.</summary>
    public string Collection { get; init; } = CollectionName.Default;
    /// <summary>The index new collections get (SQL backends); null for the Local backend.</summary>
    public VectorIndexKind? IndexType { get; init; }

    public override string ToString() => $"{Backend} {Location}";
}

/// <summary>What kind of failure a <see cref="HouseStoreException"/> is, so that callers can categorise it.</summary>
public enum StoreFailure
{
    Other,
    /// <summary>The server cannot be reached, or the connection broke.</summary>
    Connection,
    /// <summary>The server refused the user name or password.</summary>
    Authentication,
    /// <summary>A server extension (pgvector, alloydb_scann) is missing.</summary>
    NotInstalled,
    /// <summary>The user lacks a privilege the store needs.</summary>
    PermissionDenied,
}

/// <summary>
/// Chooses and opens a backend: explicit settings beat the session default, which beats the environment
/// (<c>HOUSESIM_BACKEND</c>, <c>HOUSESIM_PG_CONNECTION</c>, <c>HOUSESIM_ALLOYDB_CONNECTION</c>). A new backend (Milvus)
/// adds an enum member, its connection variable and a case in <see cref="Open"/>, <see cref="ConnectAsync"/> and
/// <see cref="FinishIngestAsync"/>.
/// </summary>
public static class HouseStoreFactory
{
    public const string BackendVariable = "HOUSESIM_BACKEND";
    public const string PgConnectionVariable = "HOUSESIM_PG_CONNECTION";
    public const string AlloyDbConnectionVariable = "HOUSESIM_ALLOYDB_CONNECTION";

    /// <summary>Whether the backend is a server reached by a connection string.</summary>
    public static bool UsesConnectionString(StoreBackend backend) => backend is StoreBackend.PgVector or StoreBackend.AlloyDb;

    /// <summary>The environment variable that holds a backend's default connection string; null for Local.</summary>
    public static string? ConnectionVariable(StoreBackend backend) => backend switch
    {
        StoreBackend.PgVector => PgConnectionVariable,
        StoreBackend.AlloyDb => AlloyDbConnectionVariable,
        _ => null,
    };

    /// <summary>A backend name as users write it (case-insensitive); throws a clear ArgumentException otherwise.</summary>
    public static StoreBackend ParseBackend(string value, string source)
    {
        if (Enum.TryParse(value.Trim(), ignoreCase: true, out StoreBackend backend) && Enum.IsDefined(backend) &&
            !int.TryParse(value, out _))
        {
            return backend;
        }
        throw new ArgumentException(
            $"{source} is '{value}', which is not a backend: use {string.Join(", ", Enum.GetNames<StoreBackend>())}.");
    }

    /// <summary>
    /// Combines the sources, most specific first. The backend: explicit, else implied by an explicit -StorePath (Local)
    /// or -ConnectionString (the session's or environment's SQL backend, else PgVector), else the session's, else
    /// HOUSESIM_BACKEND, else Local. The other settings of the session apply only when its backend is the chosen one.
    /// Throws ArgumentException for settings that do not fit together; the messages hold no secret.
    /// </summary>
    public static HouseStoreTarget Resolve(HouseStoreSettings? explicitSettings, HouseStoreSettings? session,
        Func<string, string?>? environment = null)
    {
        var given = explicitSettings ?? new HouseStoreSettings();
        environment ??= Environment.GetEnvironmentVariable;
        string? backendVariable = environment(BackendVariable);
        StoreBackend? fromEnvironment = string.IsNullOrWhiteSpace(backendVariable)
            ? null
            : ParseBackend(backendVariable, BackendVariable);

        StoreBackend backend;
        string source;
        if (given.Backend is { } explicitBackend)
        {
            (backend, source) = (explicitBackend, "parameter");
        }
        else if (given.StorePath is not null)
        {
            (backend, source) = (StoreBackend.Local, "parameter -StorePath");
        }
        else if (given.ConnectionString is not null || given.Credential is not null)
        {
            StoreBackend? sql = new[] { session?.Backend, fromEnvironment }.FirstOrDefault(b => b is { } x && UsesConnectionString(x));
            (backend, source) = (sql ?? StoreBackend.PgVector, "parameter -ConnectionString");
        }
        else if (session?.Backend is { } sessionBackend)
        {
            (backend, source) = (sessionBackend, "session (Connect-HouseStore)");
        }
        else if (fromEnvironment is { } environmentBackend)
        {
            (backend, source) = (environmentBackend, BackendVariable);
        }
        else
        {
            (backend, source) = (StoreBackend.Local, "default");
        }

        var fromSession = session?.Backend == backend ? session : null;
        string collection = CollectionName.Validate(given.Collection ?? fromSession?.Collection ?? CollectionName.Default);

        if (!UsesConnectionString(backend))
        {
            if (given.ConnectionString is not null || given.Credential is not null)
            {
                throw new ArgumentException(
                    $"-ConnectionString and -Credential apply to the PgVector and AlloyDb backends, not to {backend}.");
            }
            if (given.IndexKind is not null)
            {
                throw new ArgumentException($"-IndexType applies to the PgVector and AlloyDb backends; the {backend} store always searches exactly.");
            }
            return new HouseStoreTarget
            {
                Backend = backend, StorePath = given.StorePath ?? fromSession?.StorePath, Collection = collection,
                BackendSource = source,
            };
        }

        if (given.StorePath is not null)
        {
            throw new ArgumentException($"-StorePath applies to the Local backend, not to {backend}: use -ConnectionString.");
        }
        string variable = ConnectionVariable(backend)!;
        string? connection = given.ConnectionString ?? fromSession?.ConnectionString ?? environment(variable);
        if (string.IsNullOrWhiteSpace(connection))
        {
            throw new ArgumentException(
                $"The {backend} backend needs a connection string: pass -ConnectionString, run Connect-HouseStore -Backend {backend}, " +
                $"or set {variable} (for example 'Host=localhost;Port=5432;Database=houses;Username=app').");
        }
        var index = given.IndexKind ?? fromSession?.IndexKind ?? VectorIndexKind.Hnsw;
        if (index == VectorIndexKind.ScaNN && backend != StoreBackend.AlloyDb)
        {
            throw new ArgumentException("The ScaNN index exists only in AlloyDB: use -Backend AlloyDb, or -IndexType Hnsw.");
        }
        return new HouseStoreTarget
        {
            Backend = backend, ConnectionString = connection,
            // A credential that came with another connection string (the session's) must not leak into an explicit one.
            Credential = given.Credential ?? (given.ConnectionString is null ? fromSession?.Credential : null),
            IndexKind = index, Collection = collection, BackendSource = source,
        };
    }

    /// <summary>Options of one opening of a store.</summary>
    public sealed class OpenOptions
    {
        /// <summary>SQL backends: search by scanning every row even where an index exists.</summary>
        public bool ExactSearch { get; init; }
        /// <summary>SQL backends: a shorter connection timeout in seconds (argument completion at a prompt).</summary>
        public int? ConnectTimeoutSeconds { get; init; }
        /// <summary>SQL backends: the metric a new collection's index is built for (L1: vector_l1_ops).</summary>
        public DistanceMetric IndexMetric { get; init; } = DistanceMetric.L2;
    }

    /// <summary>
    /// Opens (without connecting) a collection of the target's store. The collection name is validated before anything
    /// else, so a hostile name never reaches SQL. Throws ArgumentException (bad name or settings, without secrets) or
    /// HouseStoreException (Local: the file cannot be opened).
    /// </summary>
    public static IHouseStore Open(HouseStoreTarget target, string? collection = null, OpenOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(target);
        string name = CollectionName.Validate(collection ?? target.Collection);
        options ??= new OpenOptions();
        try
        {
            switch (target.Backend)
            {
                case StoreBackend.Local:
                    return new LocalStore(target.StorePath, name);
                case StoreBackend.PgVector:
                case StoreBackend.AlloyDb:
                    var pg = new PgVectorOptions
                    {
                        ConnectionString = WithTimeout(target.ConnectionString ?? "", options.ConnectTimeoutSeconds),
                        Credential = target.Credential,
                        IndexKind = target.IndexKind,
                        ExactSearch = options.ExactSearch,
                        Metric = options.IndexMetric,
                    };
                    return target.Backend == StoreBackend.AlloyDb ? new AlloyDbStore(pg, name) : new PgVectorStore(pg, name);
                default:
                    throw new ArgumentException($"The {target.Backend} backend is not available in this version.");
            }
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException(Scrub(WithoutParameterName(e), target));
        }
    }

    /// <summary>Connects where the backend has a server, so that an unreachable server or a wrong password fails at once.</summary>
    public static Task ConnectAsync(IHouseStore store, CancellationToken cancellationToken = default) => store switch
    {
        PgVectorStore pg => pg.ConnectAsync(cancellationToken),
        _ => Task.CompletedTask,
    };

    /// <summary>
    /// Ends an ingest: builds what waits for the bulk load (a deferred HNSW index, AlloyDB's ScaNN index). Cheap when
    /// nothing waits. True when it built something.
    /// </summary>
    public static Task<bool> FinishIngestAsync(IHouseStore store, CancellationToken cancellationToken = default) => store switch
    {
        PgVectorStore pg => pg.BuildIndexAsync(cancellationToken),
        _ => Task.FromResult(false),
    };

    /// <summary>The session-default view of a target: what Connect-HouseStore reports.</summary>
    public static HouseStoreConnection Describe(HouseStoreTarget target, IHouseStore store) => new()
    {
        Backend = target.Backend,
        Location = store.Location,
        Collection = target.Collection,
        IndexType = UsesConnectionString(target.Backend) ? target.IndexKind : null,
    };

    /// <summary>What kind of failure <paramref name="error"/> is (from the driver's error it wraps).</summary>
    public static StoreFailure Classify(HouseStoreException error)
    {
        for (Exception? e = error.InnerException; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException p:
                    return p.SqlState switch
                    {
                        PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification => StoreFailure.Authentication,
                        PostgresErrorCodes.FeatureNotSupported or PostgresErrorCodes.UndefinedFile => StoreFailure.NotInstalled,
                        PostgresErrorCodes.InsufficientPrivilege => StoreFailure.PermissionDenied,
                        PostgresErrorCodes.InvalidCatalogName or PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown
                            or PostgresErrorCodes.CannotConnectNow or PostgresErrorCodes.TooManyConnections => StoreFailure.Connection,
                        _ => p.IsTransient ? StoreFailure.Connection : StoreFailure.Other,
                    };
                case NpgsqlException:
                    return StoreFailure.Connection;
                case System.Net.Sockets.SocketException or TimeoutException or IOException:
                    return StoreFailure.Connection;
            }
        }
        return StoreFailure.Other;
    }

    private static string WithTimeout(string connectionString, int? seconds)
    {
        if (seconds is not int timeout)
        {
            return connectionString;
        }
        try
        {
            return new NpgsqlConnectionStringBuilder(connectionString) { Timeout = timeout }.ConnectionString;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or KeyNotFoundException)
        {
            return connectionString; // the store reports the bad string itself
        }
    }

    /// <summary>The exception's message without the " (Parameter 'x')" suffix, which means nothing to a cmdlet user.</summary>
    public static string WithoutParameterName(ArgumentException e)
    {
        string message = e.Message;
        string suffix = e.ParamName is null ? "" : $" (Parameter '{e.ParamName}')";
        return suffix.Length > 0 && message.EndsWith(suffix, StringComparison.Ordinal) ? message[..^suffix.Length] : message;
    }

    /// <summary>Masks the target's password wherever a message might echo it.</summary>
    public static string Scrub(string text, HouseStoreTarget target)
    {
        foreach (string secret in Secrets(target))
        {
            text = text.Replace(secret, "********", StringComparison.Ordinal);
        }
        return text;
    }

    private static IEnumerable<string> Secrets(HouseStoreTarget target)
    {
        // Very short values would mask ordinary words; the stores mask the same way.
        if (target.Credential?.Password is { Length: >= 4 } password)
        {
            yield return password;
        }
        if (string.IsNullOrEmpty(target.ConnectionString))
        {
            yield break;
        }
        var values = new List<string>();
        try
        {
            var builder = new DbConnectionStringBuilder { ConnectionString = target.ConnectionString };
            // The builder's keys are case-insensitive.
            foreach (string key in new[] { "Password", "Pwd" })
            {
                if (builder.TryGetValue(key, out object? value) && value is string { Length: >= 4 } s)
                {
                    values.Add(s);
                }
            }
        }
        catch (ArgumentException)
        {
            // A string that does not parse: mask it whole, it may hold a password anywhere.
            values.Add(target.ConnectionString);
        }
        foreach (string value in values)
        {
            yield return value;
        }
    }
}
