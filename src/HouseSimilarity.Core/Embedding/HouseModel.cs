using System.Numerics.Tensors;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace HouseSimilarity.Embedding;

/// <summary>The committed head (models/head.json + head.f32) that maps backbone features to 128-d unit vectors.</summary>
public sealed class HouseModel
{
    public const string HeadFileName = "head.json";

    /// <summary>Short human name, for example resnet18-pca128.</summary>
    public required string Name { get; init; }
    /// <summary>Hash of everything that shapes a vector: backbone, preprocessing and head weights.</summary>
    public required string Id { get; init; }
    public required int InputDimension { get; init; }
    public required int Dimension { get; init; }
    /// <summary>L2 distance at or below which two photos are reported as duplicates.</summary>
    public required double DuplicateThreshold { get; init; }
    /// <summary>Mean subtracted from the L2-normalised backbone feature.</summary>
    public required float[] Mean { get; init; }
    /// <summary>Row-major Dimension x InputDimension projection.</summary>
    public required float[] Projection { get; init; }

    public static HouseModel Load(string modelDirectory)
    {
        string headPath = Path.Combine(modelDirectory, HeadFileName);
        if (!File.Exists(headPath))
        {
            throw new FileNotFoundException($"The model head '{headPath}' is missing; rebuild the module (./build.ps1).", headPath);
        }
        var head = JsonSerializer.Deserialize(File.ReadAllBytes(headPath), HeadJsonContext.Default.HeadFile)
            ?? throw new InvalidDataException($"'{headPath}' is empty.");
        byte[] weights = File.ReadAllBytes(Path.Combine(modelDirectory, head.Weights));
        int expected = (head.InputDimension + head.Dimension * head.InputDimension) * sizeof(float);
        if (weights.Length != expected)
        {
            throw new InvalidDataException($"'{head.Weights}' has {weights.Length} bytes; expected {expected}.");
        }
        float[] all = new float[weights.Length / sizeof(float)];
        Buffer.BlockCopy(weights, 0, all, 0, weights.Length);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("The model weights are little-endian.");
        }
        return new HouseModel
        {
            Name = head.Name,
            Id = ComputeId(head, weights),
            InputDimension = head.InputDimension,
            Dimension = head.Dimension,
            DuplicateThreshold = head.DuplicateThreshold,
            Mean = all[..head.InputDimension],
            Projection = all[head.InputDimension..],
        };
    }

    /// <summary>Head: L2-normalise the backbone feature, centre, project, L2-normalise.</summary>
    public float[] Project(ReadOnlySpan<float> feature)
    {
        Span<float> centred = stackalloc float[feature.Length];
        float norm = TensorPrimitives.Norm(feature);
        TensorPrimitives.Divide(feature, norm > 0 ? norm : 1, centred);
        TensorPrimitives.Subtract(centred, Mean, centred);
        var output = new float[Dimension];
        for (int i = 0; i < output.Length; i++)
        {
            output[i] = TensorPrimitives.Dot(Projection.AsSpan(i * InputDimension, InputDimension), centred);
        }
        VectorMath.Normalize(output);
        return output;
    }

    /// <summary>Writes a head; used by the tool that fits it.</summary>
    public static void Save(string modelDirectory, string name, string kind, string preprocess, double threshold,
        float[] mean, float[] projection, int dimension)
    {
        Directory.CreateDirectory(modelDirectory);
        var head = new HeadFile
        {
            Name = name, Kind = kind, Backbone = ResNetBackbone.Name, Preprocess = preprocess,
            InputDimension = mean.Length, Dimension = dimension, DuplicateThreshold = Math.Round(threshold, 4),
            Weights = "head.f32",
        };
        var bytes = new byte[(mean.Length + projection.Length) * sizeof(float)];
        Buffer.BlockCopy(mean, 0, bytes, 0, mean.Length * sizeof(float));
        Buffer.BlockCopy(projection, 0, bytes, mean.Length * sizeof(float), projection.Length * sizeof(float));
        File.WriteAllBytes(Path.Combine(modelDirectory, head.Weights), bytes);
        File.WriteAllBytes(Path.Combine(modelDirectory, HeadFileName),
            JsonSerializer.SerializeToUtf8Bytes(head, HeadJsonContext.Default.HeadFile));
    }

    private static string ComputeId(HeadFile head, byte[] weights)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"{head.Backbone}\n{head.Preprocess}\n"));
        hash.AppendData(weights);
        return $"{head.Name}-{Convert.ToHexStringLower(hash.GetHashAndReset())[..12]}";
    }

    internal sealed class HeadFile
    {
        public string Name { get; set; } = "";
        public string Kind { get; set; } = "";
        public string Backbone { get; set; } = "";
        public string Preprocess { get; set; } = "";
        public int InputDimension { get; set; }
        public int Dimension { get; set; }
        public double DuplicateThreshold { get; set; }
        public string Weights { get; set; } = "";
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(HouseModel.HeadFile))]
internal partial class HeadJsonContext : JsonSerializerContext;
