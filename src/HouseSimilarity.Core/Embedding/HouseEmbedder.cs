using System.Globalization;
using HouseSimilarity.Imaging;
using Microsoft.ML.OnnxRuntime;

namespace HouseSimilarity.Embedding;

/// <summary>What identifies a model and how its distances read; stored in the ONNX file's metadata.</summary>
public sealed record HouseModelInfo(string Id, string Name, int Dimension, double DuplicateThreshold)
{
    public const string IdKey = "house_model_id", NameKey = "house_model_name", DimensionKey = "house_dimension",
        ThresholdKey = "house_duplicate_threshold";
}

/// <summary>
/// Photo in, unit vector out: the image loader and the composed house model (backbone, pooling, head and
/// normalisation in one ONNX file). Thread-safe: each call runs single-threaded, so parallel callers use the
/// cores without oversubscribing them.
/// </summary>
public sealed class HouseEmbedder : IDisposable
{
    public const string ModelFileName = "house.onnx";
    private static readonly long[] InputShape = [1, 3, HouseImageLoader.InputSize, HouseImageLoader.InputSize];

    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputs, _outputs;

    public HouseModelInfo Model { get; }
    public HouseImageLoader Loader { get; }

    public HouseEmbedder(string modelPath, HouseImageLoader? loader = null)
    {
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"The model '{modelPath}' is missing; rebuild the module (./build.ps1).", modelPath);
        }
        Loader = loader ?? new HouseImageLoader();
        using var options = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(modelPath, options);
        _inputs = [.. _session.InputNames];
        _outputs = [.. _session.OutputNames];
        var metadata = _session.ModelMetadata.CustomMetadataMap;
        string Read(string key) => metadata.TryGetValue(key, out string? value)
            ? value : throw new InvalidDataException($"The model '{modelPath}' has no '{key}' metadata.");
        Model = new HouseModelInfo(Read(HouseModelInfo.IdKey), Read(HouseModelInfo.NameKey),
            int.Parse(Read(HouseModelInfo.DimensionKey), CultureInfo.InvariantCulture),
            double.Parse(Read(HouseModelInfo.ThresholdKey), CultureInfo.InvariantCulture));
    }

    /// <summary>models/house.onnx next to this assembly.</summary>
    public static string DefaultModelPath =>
        Path.Combine(Path.GetDirectoryName(typeof(HouseEmbedder).Assembly.Location)!, "models", ModelFileName);

    // One model-input buffer per thread: parallel callers embed thousands of photos without large-object garbage.
    [ThreadStatic]
    private static float[]? _pixels;

    public HouseEmbedding Embed(string path, string? id = null)
    {
        LoadedImage image = Loader.Load(path, _pixels ??= new float[InputShape[1] * InputShape[2] * InputShape[3]]);
        return new HouseEmbedding
        {
            Id = id ?? path,
            Path = path,
            Sha256 = image.Sha256,
            Width = image.Width,
            Height = image.Height,
            ModelId = Model.Id,
            Vector = Embed(image.Pixels),
        };
    }

    /// <summary>The unit vector of planar R, G, B planes with values 0..255.</summary>
    public float[] Embed(float[] pixels)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, InputShape);
        using var output = _session.Run(_runOptions, _inputs, [input], _outputs);
        var vector = output[0].GetTensorDataAsSpan<float>().ToArray();
        if (HouseRecordCheck.VectorProblem(vector, Model.Dimension) is { } problem)
        {
            throw new InvalidDataException($"The model {Model.Id} made a vector that cannot be used ({problem}): " +
                "the model file is damaged or not this module's; rebuild it with ./build.ps1.");
        }
        return vector;
    }

    public void Dispose()
    {
        _session.Dispose();
        _runOptions.Dispose();
    }
}
