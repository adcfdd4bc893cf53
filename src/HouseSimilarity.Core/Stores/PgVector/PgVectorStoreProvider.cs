using System.Data.Common;
using Npgsql;

namespace HouseSimilarity.Stores.PgVector;

/// <summary>PostgreSQL + pgvector, reached by an Npgsql connection string (HOUSESIM_PG_CONNECTION).</summary>
public class PgVectorStoreProvider : HouseStoreProvider
{
    public const string BackendName = "PgVector";
    public const string ConnectionVariable = "HOUSESIM_PG_CONNECTION";

    internal static readonly IReadOnlyList<VectorIndexType> Indexes = [VectorIndexType.Hnsw, VectorIndexType.Exact];

    public override string Name => BackendName;
    public override string Description => "PostgreSQL + pgvector (-ConnectionString, -Credential), HNSW index";
    public override StoreSetting Accepts => StoreSetting.ConnectionString | StoreSetting.Credential;
    public override StoreSetting Implies => StoreSetting.ConnectionString | StoreSetting.Credential;
    public override IReadOnlyList<VectorIndexType> IndexTypes => Indexes;
    public override string? LocationVariable => ConnectionVariable;

    protected internal override HouseStoreSettings Complete(HouseStoreSettings settings, Func<string, string?> environment)
    {
        var complete = settings.Clone();
        complete.ConnectionString ??= environment(LocationVariable!);
        if (string.IsNullOrWhiteSpace(complete.ConnectionString))
        {
            throw new ArgumentException(
                $"The {Name} backend needs a connection string: pass -ConnectionString, run Connect-HouseStore -Backend {Name}, " +
                $"or set {LocationVariable} (for example 'Host=localhost;Port=5432;Database=houses;Username=app').");
        }
        return complete;
    }

    protected internal override string Locate(HouseStoreSettings settings) => PgVectorStore.ParseConnection(Options(settings, null)).Location;

    protected internal override IHouseStore Open(HouseStoreSettings settings, string collection, StoreOpenOptions options) =>
        new PgVectorStore(Options(settings, options), collection);

    /// <summary>The store options of the settings (the connection string with the timeout of <paramref name="open"/>).</summary>
    protected PgVectorOptions Options(HouseStoreSettings settings, StoreOpenOptions? open) => new()
    {
        ConnectionString = WithTimeout(settings.ConnectionString!, open?.ConnectTimeoutSeconds),
        Credential = settings.Credential,
        IndexType = settings.IndexType ?? IndexTypes[0],
        Metric = open?.IndexMetric ?? DistanceMetric.L2,
    };

    protected internal override IEnumerable<string> Secrets(HouseStoreSettings settings)
    {
        foreach (string secret in base.Secrets(settings))
        {
            yield return secret;
        }
        if (string.IsNullOrEmpty(settings.ConnectionString))
        {
            yield break;
        }
        var values = new List<string>();
        try
        {
            var builder = new DbConnectionStringBuilder { ConnectionString = settings.ConnectionString };
            foreach (string key in new[] { "Password", "Pwd" })
            {
                if (builder.TryGetValue(key, out object? value) && value is string { Length: > 0 } s)
                {
                    values.Add(s);
                }
            }
        }
        catch (ArgumentException)
        {
            // A string that does not parse: mask it whole, it may hold a password anywhere.
            values.Add(settings.ConnectionString);
        }
        foreach (string value in values)
        {
            yield return value;
        }
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
}
