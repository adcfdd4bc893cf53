using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using HouseSimilarity.Embedding;
using HouseSimilarity.Embedding.Onnx;

namespace HouseSimilarity.Tools;

/// <summary>
/// The committed head: models/head.json (what it is, the duplicate threshold) and models/head.f32 (mean and
/// projection, little-endian float32). Composed with the NuGet backbone into the module's house.onnx.
/// </summary>
internal sealed class HeadFile
{
    public const string BackboneName = "Microsoft.ML.DnnImageFeaturizer.ResNet18/0.23.1";
    public const string Preprocess = "stretch224-triangle-rgb255-chw";

    public string Name { get; set; } = "";
    public string Kind { get; set; } = "";
    public string Backbone { get; set; } = BackboneName;
    public string Preprocessing { get; set; } = Preprocess;
    public float GemPower { get; set; } = 1;
    /// <summary>Regional pooling as well as global (see <see cref="OnnxComposer.Regions"/>).</summary>
    public bool Regions { get; set; }
    /// <summary>The earlier stages' GeM vectors as well (see <see cref="OnnxComposer.EarlyStages"/>).</summary>
    public bool Stages { get; set; }
    public int InputDimension { get; set; }
    public int Dimension { get; set; }
    public double DuplicateThreshold { get; set; }
    public string Weights { get; set; } = "head.f32";
    public string Training { get; set; } = "";

    public static (HeadFile File, HeadWeights Weights) Load(string directory)
    {
        string json = Path.Combine(directory, "head.json");
        var file = JsonSerializer.Deserialize(File.ReadAllBytes(json), HeadJson.Default.HeadFile)
            ?? throw new InvalidDataException($"'{json}' is empty.");
        byte[] bytes = File.ReadAllBytes(Path.Combine(directory, file.Weights));
        float[] all = MemoryMarshal.Cast<byte, float>(bytes).ToArray();
        if (all.Length != file.InputDimension * (1 + file.Dimension))
        {
            throw new InvalidDataException($"'{file.Weights}' holds {all.Length} floats; expected {file.InputDimension * (1 + file.Dimension)}.");
        }
        return (file, new HeadWeights(file.GemPower, all[..file.InputDimension], all[file.InputDimension..], file.Dimension, file.Regions, file.Stages));
    }

    public static void Save(string directory, HeadFile file, HeadWeights weights)
    {
        Directory.CreateDirectory(directory);
        file.GemPower = weights.GemPower;
        file.Regions = weights.Regions;
        file.Stages = weights.Stages;
        file.InputDimension = weights.InputDimension;
        file.Dimension = weights.Dimension;
        File.WriteAllBytes(Path.Combine(directory, file.Weights),
            [.. MemoryMarshal.AsBytes(weights.Mean.AsSpan()), .. MemoryMarshal.AsBytes(weights.Projection.AsSpan())]);
        File.WriteAllBytes(Path.Combine(directory, "head.json"), JsonSerializer.SerializeToUtf8Bytes(file, HeadJson.Default.HeadFile));
    }

    /// <summary>Name plus a hash of everything that shapes a vector: backbone, preprocessing, pooling and weights.</summary>
    public string ModelId(HeadWeights weights)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{Backbone}\n{Preprocessing}\ngem={weights.GemPower:R}\n"
            + (weights.Regions ? $"regions={string.Join(';', OnnxComposer.Regions)}\n" : "")
            + (weights.Stages ? $"stages={string.Join(';', OnnxComposer.EarlyStages)}\n" : "")));
        hash.AppendData(MemoryMarshal.AsBytes(weights.Mean.AsSpan()));
        hash.AppendData(MemoryMarshal.AsBytes(weights.Projection.AsSpan()));
        return $"{Name}-{Convert.ToHexStringLower(hash.GetHashAndReset())[..12]}";
    }

    /// <summary>Writes house.onnx from the backbone files and the head in <paramref name="modelsDirectory"/>.</summary>
    public static string Compose(string modelsDirectory, string outputPath)
    {
        var (file, weights) = Load(modelsDirectory);
        string id = file.ModelId(weights);
        var metadata = new Dictionary<string, string>
        {
            [HouseModelInfo.IdKey] = id,
            [HouseModelInfo.NameKey] = file.Name,
            [HouseModelInfo.DimensionKey] = file.Dimension.ToString(CultureInfo.InvariantCulture),
            [HouseModelInfo.ThresholdKey] = file.DuplicateThreshold.ToString("R", CultureInfo.InvariantCulture),
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outputPath))!);
        File.WriteAllBytes(outputPath, OnnxComposer.EmbeddingModel(modelsDirectory, weights, metadata));
        return id;
    }

    /// <summary>The head in C#, as the composed model computes it: normalise, centre, project, normalise.</summary>
    public static float[] Apply(HeadWeights weights, ReadOnlySpan<float> pooled)
    {
        var centred = new float[pooled.Length];
        TensorPrimitives.Divide(pooled, Math.Max(TensorPrimitives.Norm(pooled), 1e-12f), centred);
        TensorPrimitives.Subtract(centred, weights.Mean, centred);
        var output = new float[weights.Dimension];
        for (int i = 0; i < output.Length; i++)
        {
            output[i] = TensorPrimitives.Dot(weights.Projection.AsSpan(i * weights.InputDimension, weights.InputDimension), centred);
        }
        VectorMath.Normalize(output);
        return output;
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(HeadFile))]
internal partial class HeadJson : JsonSerializerContext;
