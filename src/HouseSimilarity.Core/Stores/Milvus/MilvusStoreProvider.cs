using System.Globalization;

namespace HouseSimilarity.Stores.Milvus;

/// <summary>
/// Milvus 2.4 to 2.6 over REST v2: -Uri (or HOUSESIM_MILVUS_URI), a token from -Credential (user:password) or
/// HOUSESIM_MILVUS_TOKEN, -Database, and HOUSESIM_MILVUS_TIMEOUT (seconds per request).
/// </summary>
public sealed class MilvusStoreProvider : HouseStoreProvider
{
    public const string BackendName = "Milvus";
    public const string UriVariable = "HOUSESIM_MILVUS_URI";
    public const string TokenVariable = "HOUSESIM_MILVUS_TOKEN";
    public const string TimeoutVariable = "HOUSESIM_MILVUS_TIMEOUT";

    public override string Name => BackendName;
    public override string Description => "Milvus 2.4-2.6 over REST v2 (-Uri, -Credential, -Database): HNSW, IVF_FLAT, AUTOINDEX";
    public override StoreSetting Accepts => StoreSetting.Uri | StoreSetting.Credential | StoreSetting.Database;
    public override StoreSetting Implies => StoreSetting.Uri;
    public override IReadOnlyList<VectorIndexType> IndexTypes { get; } =
        [VectorIndexType.Hnsw, VectorIndexType.IvfFlat, VectorIndexType.AutoIndex, VectorIndexType.Exact];
    public override string? LocationVariable => UriVariable;

    protected internal override HouseStoreSettings Complete(HouseStoreSettings settings, Func<string, string?> environment)
    {
        var complete = settings.Clone();
        complete.Uri ??= environment(UriVariable);
        if (string.IsNullOrWhiteSpace(complete.Uri))
        {
            throw new ArgumentException(
                $"The {Name} backend needs a server: pass -Uri (for example http://localhost:19530), run Connect-HouseStore " +
                $"-Backend {Name} -Uri ..., or set {UriVariable}.");
        }
        ParseUri(complete.Uri);
        complete.Database ??= "default";
        if (!System.Text.RegularExpressions.Regex.IsMatch(complete.Database, "^[A-Za-z_][A-Za-z0-9_]{0,254}$"))
        {
            throw new ArgumentException($"'{complete.Database}' is not a Milvus database name (letters, digits and '_').");
        }
        if (complete.Credential is null && environment(TokenVariable) is { Length: > 0 } token)
        {
            complete.Token = token;
        }
        string? timeout = environment(TimeoutVariable);
        if (timeout is not null && !(double.TryParse(timeout, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds > 0))
        {
            throw new ArgumentException($"{TimeoutVariable} is '{timeout}': give the seconds one request may take, for example 30.");
        }
        return complete;
    }

    private static Uri ParseUri(string text)
    {
        if (!System.Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"-Uri '{text}' is not an http:// or https:// address of a Milvus server.");
        }
        if (uri.UserInfo.Length > 0)
        {
            throw new ArgumentException("Put the Milvus user and password in -Credential or HOUSESIM_MILVUS_TOKEN, not in -Uri.");
        }
        return uri;
    }

    protected internal override string Locate(HouseStoreSettings settings) =>
        MilvusStore.LocationOf(ParseUri(settings.Uri!), settings.Database ?? "default");

    protected internal override IHouseStore Open(HouseStoreSettings settings, string collection, StoreOpenOptions options)
    {
        var timeout = Environment.GetEnvironmentVariable(TimeoutVariable) is { } text &&
                      double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds > 0
            ? TimeSpan.FromSeconds(seconds)
            : TimeSpan.FromSeconds(30);
        if (options.ConnectTimeoutSeconds is int quick)
        {
            timeout = TimeSpan.FromSeconds(quick);
        }
        var milvus = new MilvusOptions
        {
            Uri = ParseUri(settings.Uri!), Database = settings.Database ?? "default", Token = Token(settings),
            RequestTimeout = timeout, Retries = options.ConnectTimeoutSeconds is null ? 4 : 0,
        };
        return new MilvusStore(milvus, collection, settings.IndexType ?? IndexTypes[0]);
    }

    private static string? Token(HouseStoreSettings settings) => settings.Credential is { } credential
        ? $"{credential.UserName}:{credential.Password}"
        : settings.Token;

    protected internal override IEnumerable<string> Secrets(HouseStoreSettings settings)
    {
        foreach (string secret in base.Secrets(settings))
        {
            yield return secret;
        }
        if (Token(settings) is { Length: > 0 } token)
        {
            yield return token;
        }
    }
}
