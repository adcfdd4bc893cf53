using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>Completes -Collection from the collections in the store the command line (or the session default) points at.</summary>
public sealed class CollectionCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        try
        {
            var given = new HouseStoreSettings
            {
                Backend = Value(fakeBoundParameters, "Backend") as string,
                StorePath = Value(fakeBoundParameters, "StorePath") as string,
                ConnectionString = Value(fakeBoundParameters, "ConnectionString") as string,
                Uri = Value(fakeBoundParameters, "Uri")?.ToString(),
                Database = Value(fakeBoundParameters, "Database") as string,
                Credential = (Value(fakeBoundParameters, "Credential") as PSCredential)?.GetNetworkCredential(),
            };
            var target = HouseStoreFactory.Resolve(given, HouseStoreSession.Current);
            // A server that does not answer must not hang the prompt for long.
            using var store = target.Open(CollectionName.Default, new StoreOpenOptions { ConnectTimeoutSeconds = 3, CreateIfMissing = false });
            var pattern = WildcardPattern.Get(wordToComplete + "*", WildcardOptions.IgnoreCase);
            return store.ListCollectionsAsync().GetAwaiter().GetResult()
                .Where(c => pattern.IsMatch(c.Name))
                .Select(c => new CompletionResult(c.Name, c.Name, CompletionResultType.ParameterValue, $"{Plural.Of(c.Count, "photo")}, {c.ModelId}"))
                .ToList();
        }
        catch (Exception)
        {
            // Completion must never throw at the user's prompt.
            return [];
        }
    }

    private static object? Value(IDictionary parameters, string name) =>
        parameters.Contains(name) && parameters[name] is { } value ? (value is PSObject pso ? pso.BaseObject : value) : null;
}
