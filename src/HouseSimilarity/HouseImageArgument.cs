using System.Management.Automation;

namespace HouseSimilarity.Commands;

/// <summary>A photo given as a path, a FileInfo or an existing HouseEmbedding (so nothing is embedded twice).</summary>
public sealed class HouseImageArgument
{
    public HouseImageArgument(string path) => Path = path;

    public HouseImageArgument(HouseEmbedding embedding)
    {
        Embedding = embedding;
        Path = embedding.Path;
    }

    public string Path { get; }
    public HouseEmbedding? Embedding { get; }

    public override string ToString() => Path;
}

/// <summary>Converts what users pass or pipe into a <see cref="HouseImageArgument"/>, resolving relative paths against $PWD.</summary>
public sealed class HouseImageTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object value = inputData is PSObject pso ? pso.BaseObject : inputData;
        return value switch
        {
            HouseImageArgument argument => argument,
            HouseEmbedding embedding => new HouseImageArgument(embedding),
            FileSystemInfo file => new HouseImageArgument(file.FullName),
            string path => new HouseImageArgument(engineIntrinsics.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path)),
            _ => throw new ArgumentTransformationMetadataException(
                $"Cannot use a {value?.GetType().Name ?? "null"} as a photo: pass a path, a file or a HouseEmbedding."),
        };
    }
}
