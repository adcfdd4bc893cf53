using HouseSimilarity.Stores.AlloyDb;
using HouseSimilarity.Stores.Local;
using HouseSimilarity.Stores.Milvus;
using HouseSimilarity.Stores.PgVector;

namespace HouseSimilarity.Stores;

/// <summary>The registered backends. Adding one is one folder and one line here; the first is the default.</summary>
public static class StoreProviders
{
    private static readonly HouseStoreProvider[] All =
    [
        new LocalStoreProvider(),
        new PgVectorStoreProvider(),
        new AlloyDbStoreProvider(),
        new MilvusStoreProvider(),
    ];

    public static IReadOnlyList<HouseStoreProvider> Registered => All;

    public static HouseStoreProvider Default => All[0];

    public static IEnumerable<string> Names => All.Select(p => p.Name);

    public static HouseStoreProvider? Find(string name) =>
        All.FirstOrDefault(p => string.Equals(p.Name, name.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>A backend name as users write it (case-insensitive); throws a clear ArgumentException otherwise.</summary>
    public static HouseStoreProvider Parse(string value, string source) =>
        Find(value) ?? throw new ArgumentException(
            $"{source} is '{value}', which is not a backend: use {string.Join(", ", Names)}.");

    /// <summary>"the PgVector and AlloyDb backends": the providers that take a setting, for messages.</summary>
    internal static string Taking(StoreSetting setting)
    {
        var names = All.Where(p => p.Accepts.HasFlag(setting)).Select(p => p.Name).ToList();
        return names.Count switch
        {
            0 => "no backend",
            1 => $"the {names[0]} backend",
            _ => $"the {string.Join(", ", names[..^1])} and {names[^1]} backends",
        };
    }
}

/// <summary>
/// Chooses a backend and completes its settings: explicit settings beat the session default, which beats the
/// environment (<c>HOUSESIM_BACKEND</c> and each backend's own variables). It never names a backend: the providers say
/// what they accept.
/// </summary>
public static class HouseStoreFactory
{
    public const string BackendVariable = "HOUSESIM_BACKEND";

    /// <summary>
    /// Combines the sources, most specific first. The backend: explicit; else implied by an explicit setting (the
    /// session's or environment's backend when it takes that setting, else the backend the setting implies); else the
    /// session's; else HOUSESIM_BACKEND; else the default. The session's other settings apply only when its backend is
    /// the chosen one. Throws ArgumentException for settings that do not fit together; the messages hold no secret.
    /// </summary>
    public static HouseStoreTarget Resolve(HouseStoreSettings? explicitSettings, HouseStoreSettings? session,
        Func<string, string?>? environment = null)
    {
        var given = explicitSettings ?? new HouseStoreSettings();
        environment ??= Environment.GetEnvironmentVariable;
        string? backendVariable = environment(BackendVariable);
        HouseStoreProvider? fromEnvironment = string.IsNullOrWhiteSpace(backendVariable)
            ? null
            : StoreProviders.Parse(backendVariable, BackendVariable);
        HouseStoreProvider? fromSession = session?.Backend is { } s ? StoreProviders.Find(s) : null;

        HouseStoreProvider provider;
        string source;
        StoreSetting settings = given.Given;
        if (given.Backend is { } explicitBackend)
        {
            (provider, source) = (StoreProviders.Parse(explicitBackend, "-Backend"), "parameter");
        }
        else if (settings != StoreSetting.None)
        {
            var known = new[] { fromSession, fromEnvironment }.FirstOrDefault(p => p is not null && p.Accepts.HasFlag(settings));
            var implied = StoreProviders.Registered.FirstOrDefault(p => (p.Implies & settings) != 0 && p.Accepts.HasFlag(settings));
            provider = known ?? implied ?? throw new ArgumentException(
                $"No backend takes all of {Describe(settings)} together: choose one with -Backend.");
            source = $"parameter {Describe(settings)}";
        }
        else if (fromSession is not null)
        {
            (provider, source) = (fromSession, "session (Connect-HouseStore)");
        }
        else if (fromEnvironment is not null)
        {
            (provider, source) = (fromEnvironment, BackendVariable);
        }
        else
        {
            (provider, source) = (StoreProviders.Default, "default");
        }

        foreach (StoreSetting one in Enum.GetValues<StoreSetting>())
        {
            if (one != StoreSetting.None && settings.HasFlag(one) && !provider.Accepts.HasFlag(one))
            {
                throw new ArgumentException($"-{one} applies to {StoreProviders.Taking(one)}, not to {provider.Name}.");
            }
        }
        if (given.IndexType is { } index && !provider.IndexTypes.Contains(index))
        {
            throw new ArgumentException(
                $"The {provider.Name} backend has no {index} index: use -IndexType {string.Join(", ", provider.IndexTypes)}" +
                (StoreProviders.Registered.Where(p => p.IndexTypes.Contains(index)).Select(p => p.Name).ToList() is { Count: > 0 } others
                    ? $", or -Backend {string.Join(" or ", others)} for {index}." : "."));
        }

        var sessionSettings = fromSession == provider ? session : null;
        // A credential that came with another location (the session's) must not leak into an explicit one.
        bool explicitLocation = (settings & ~StoreSetting.Credential) != StoreSetting.None;
        var merged = new HouseStoreSettings
        {
            Backend = provider.Name,
            StorePath = given.StorePath ?? (explicitLocation ? null : sessionSettings?.StorePath),
            ConnectionString = given.ConnectionString ?? (explicitLocation ? null : sessionSettings?.ConnectionString),
            Uri = given.Uri ?? (explicitLocation ? null : sessionSettings?.Uri),
            Database = given.Database ?? (explicitLocation ? null : sessionSettings?.Database),
            Credential = given.Credential ?? (explicitLocation ? null : sessionSettings?.Credential),
            IndexType = given.IndexType ?? sessionSettings?.IndexType ?? provider.IndexTypes[0],
            Collection = CollectionName.Validate(given.Collection ?? sessionSettings?.Collection ?? CollectionName.Default),
        };
        var complete = provider.Complete(merged, environment);
        return new HouseStoreTarget(provider, complete, source);
    }

    private static string Describe(StoreSetting settings) =>
        string.Join(", ", Enum.GetValues<StoreSetting>().Where(s => s != StoreSetting.None && settings.HasFlag(s)).Select(s => "-" + s));

    /// <summary>The exception's message without the " (Parameter 'x')" suffix, which means nothing to a cmdlet user.</summary>
    public static string WithoutParameterName(ArgumentException e)
    {
        string message = e.Message;
        string suffix = e.ParamName is null ? "" : $" (Parameter '{e.ParamName}')";
        return suffix.Length > 0 && message.EndsWith(suffix, StringComparison.Ordinal) ? message[..^suffix.Length] : message;
    }
}
