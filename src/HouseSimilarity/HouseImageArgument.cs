using System.Collections;
using System.Management.Automation;

namespace HouseSimilarity.Commands;

/// <summary>A photo given as a path (wildcards allowed), a FileInfo (taken literally) or an existing HouseEmbedding (so nothing is embedded twice).</summary>
public sealed class HouseImageArgument
{
    public HouseImageArgument(string path, bool literal)
    {
        Path = path;
        Literal = literal;
    }

    public HouseImageArgument(HouseEmbedding embedding)
    {
        Embedding = embedding;
        Path = embedding.Path;
        Literal = true;
    }

    public string Path { get; }
    /// <summary>A file from Get-ChildItem: its path has no wildcards.</summary>
    public bool Literal { get; }
    public HouseEmbedding? Embedding { get; }

    public override string ToString() => Path;
}

/// <summary>
/// Converts what users pass or pipe into <see cref="HouseImageArgument"/>s: one, or (for an array parameter) each item of a
/// list, so that <c>Compare-HouseImage ref.jpg a.jpg, b.jpg</c> works. A single-photo parameter given several is an error
/// that says so.
/// </summary>
public sealed class HouseImageTransformationAttribute : ArgumentTransformationAttribute
{
    /// <summary>The parameter takes one photo, not a list.</summary>
    public bool Single { get; set; }

    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject pso ? pso.BaseObject : inputData;
        if (value is IList list and not HouseImageArgument[])
        {
            if (Single && list.Count != 1)
            {
                throw new ArgumentTransformationMetadataException(
                    $"This parameter takes one photo, not {list.Count}: compare the others with it by piping them or passing them to -Difference.");
            }
            var items = list.Cast<object>().Select(One).ToArray();
            return Single ? items[0] : items;
        }
        var one = One(value);
        return Single ? one : new[] { one };
    }

    private static HouseImageArgument One(object? item)
    {
        object? value = item is PSObject pso ? pso.BaseObject : item;
        return value switch
        {
            HouseImageArgument argument => argument,
            HouseEmbedding embedding => new HouseImageArgument(embedding),
            FileSystemInfo file => new HouseImageArgument(file.FullName, literal: true),
            string path => new HouseImageArgument(path, literal: false),
            _ when HouseEmbeddingTransformationAttribute.FromPropertyBag(item) is { } embedding => new HouseImageArgument(embedding),
            _ => throw new ArgumentTransformationMetadataException(
                $"Cannot use a {value?.GetType().Name ?? "null"} as a photo: pass a path, a file or a HouseEmbedding."),
        };
    }
}

/// <summary>
/// Lets records and embeddings that went through JSON or CliXml (ConvertTo-Json | ConvertFrom-Json, Import-Clixml) bind
/// as embeddings again: a property bag with a Vector and a ModelId becomes a HouseEmbedding (its vector is checked where
/// it is used, as any piped vector is). Anything else passes unchanged, so the binder tries the other parameters.
/// </summary>
public sealed class HouseEmbeddingTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject pso ? pso.BaseObject : inputData;
        if (value is IList list and not HouseEmbedding[])
        {
            var items = list.Cast<object>().Select(i => (object?)FromPropertyBag(i) ?? i).ToArray();
            return items.All(i => i is HouseEmbedding || i is PSObject { BaseObject: HouseEmbedding }) ? items : inputData;
        }
        return (object?)FromPropertyBag(inputData) ?? inputData;
    }

    /// <summary>The embedding a deserialized HouseEmbedding or HouseRecord holds; null for anything else.</summary>
    public static HouseEmbedding? FromPropertyBag(object? input)
    {
        if (input is not PSObject { BaseObject: PSCustomObject } bag || bag.Properties["Vector"]?.Value is not { } vector ||
            bag.Properties["ModelId"]?.Value is not string modelId)
        {
            return null;
        }
        string Text(string name) => bag.Properties[name]?.Value?.ToString() ?? "";
        int Number(string name) => bag.Properties[name]?.Value is { } v ? LanguagePrimitives.ConvertTo<int>(v) : 0;
        object items = vector is PSObject v2 ? v2.BaseObject : vector;
        float[] values;
        try
        {
            values = items is IEnumerable e and not string
                ? e.Cast<object>().Select(x => LanguagePrimitives.ConvertTo<float>(x)).ToArray()
                : [];
        }
        catch (PSInvalidCastException)
        {
            return null;
        }
        string path = Text("Path");
        string id = Text("Id");
        return new HouseEmbedding
        {
            Id = id.Length > 0 ? id : path, Path = path, Sha256 = Text("Sha256"), Width = Number("Width"), Height = Number("Height"),
            ModelId = modelId, Vector = values,
        };
    }
}

/// <summary>
/// -Collection takes one name. Several (-Collection a, b) would otherwise fail with PowerShell's "Specified method is not
/// supported"; this says what to do instead.
/// </summary>
public sealed class SingleCollectionNameAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject pso ? pso.BaseObject : inputData;
        if (value is IList list)
        {
            if (list.Count == 1)
            {
                return list[0] is PSObject one ? one.BaseObject : list[0]!;
            }
            string names = string.Join(", ", list.Cast<object>().Select(n => $"'{n}'"));
            throw new ArgumentTransformationMetadataException(
                $"-Collection takes one collection name, not {list.Count} ({names}): run the command once per collection, for " +
                $"example {names} | ForEach-Object {{ ... -Collection $_ }}. Get-HouseCollection and Remove-HouseCollection take several names.");
        }
        return inputData;
    }
}
