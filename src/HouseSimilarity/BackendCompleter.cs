using System.Collections;
using System.Management.Automation;
using System.Management.Automation.Language;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>Completes -Backend from the registered backends.</summary>
public sealed class BackendCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        StoreProviders.Registered
            .Where(p => p.Name.StartsWith(wordToComplete.Trim('\'', '"'), StringComparison.OrdinalIgnoreCase))
            .Select(p => new CompletionResult(p.Name, p.Name, CompletionResultType.ParameterValue, p.Description));
}

/// <summary>Refuses a -Backend that is not registered, naming the ones that are.</summary>
public sealed class ValidateBackendAttribute : ValidateArgumentsAttribute
{
    protected override void Validate(object arguments, EngineIntrinsics engineIntrinsics)
    {
        object value = arguments is PSObject pso ? pso.BaseObject : arguments;
        if (value is not string name || StoreProviders.Find(name) is null)
        {
            throw new ValidationMetadataException(
                $"'{value}' is not a backend: use {string.Join(", ", StoreProviders.Names)}.");
        }
    }
}
