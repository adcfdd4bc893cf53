using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>Completes -Collection from the collections in the store the command line points at.</summary>
public sealed class CollectionCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        try
        {
            string? file = fakeBoundParameters["StorePath"] as string;
            using var store = new LocalStore(file);
            var pattern = WildcardPattern.Get(wordToComplete + "*", WildcardOptions.IgnoreCase);
            return store.ListCollectionsAsync().GetAwaiter().GetResult()
                .Where(c => pattern.IsMatch(c.Name))
                .Select(c => new CompletionResult(c.Name, c.Name, CompletionResultType.ParameterValue, $"{c.Count} photos, {c.ModelId}"))
                .ToList();
        }
        catch (Exception)
        {
            // Completion must never throw at the user's prompt.
            return [];
        }
    }
}
