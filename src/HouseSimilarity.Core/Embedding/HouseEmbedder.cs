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

    /// <summary>
    /// Loads the model. With <paramref name="requireHash"/> (the module's own model) the file must match the SHA-256 the
    /// build wrote beside it (<see cref="HashFileName"/>); without it, a hash file that is there is still checked. A
    /// missing, damaged, tampered or foreign model, or one with implausible metadata, is an
    /// <see cref="InvalidDataException"/> (<see cref="FileNotFoundException"/> when missing) that names the file and the
    /// command that rebuilds it.
    /// </summary>
    public HouseEmbedder(string modelPath, HouseImageLoader? loader = null, bool requireHash = false)
    {
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"The model '{modelPath}' is missing; {Rebuild}.", modelPath);
        }
        VerifyHash(modelPath, requireHash);
        Loader = loader ?? new HouseImageLoader();
        using var options = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        try
        {
            _session = new InferenceSession(modelPath, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"The model '{modelPath}' cannot be loaded ({e.Message.Trim()}); {Rebuild}.", e);
        }
        _inputs = [.. _session.InputNames];
        _outputs = [.. _session.OutputNames];
        try
        {
            Model = ModelInfo(modelPath, _session.ModelMetadata.CustomMetadataMap);
        }
        catch (InvalidDataException)
        {
            _session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The model's metadata, checked as the constructor checks it (hash, plausible values), read from the file without
    /// loading the network: what a search by stored Id needs (the threshold), in a fraction of the time.
    /// </summary>
    public static HouseModelInfo ReadModelInfo(string modelPath, bool requireHash = false)
    {
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"The model '{modelPath}' is missing; {Rebuild}.", modelPath);
        }
        VerifyHash(modelPath, requireHash);
        var metadata = new Dictionary<string, string>();
        try
        {
            // ModelProto field 14: metadata_props, (key 1, value 2) pairs; the graph (field 7) is only sliced, not parsed.
            foreach (var field in Onnx.Proto.Parse(File.ReadAllBytes(modelPath)).Where(f => f.Number == 14 && f.WireType == 2))
            {
                var entry = Onnx.Proto.Parse(field.Bytes);
                if (entry.FirstOrDefault(f => f.Number == 1).Bytes is { Length: > 0 } key)
                {
                    metadata[System.Text.Encoding.UTF8.GetString(key.Span)] =
                        System.Text.Encoding.UTF8.GetString(entry.FirstOrDefault(f => f.Number == 2).Bytes.Span);
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentOutOfRangeException or IndexOutOfRangeException or OverflowException)
        {
            throw new InvalidDataException($"The model '{modelPath}' cannot be read ({e.Message.Trim()}); {Rebuild}.", e);
        }
        return ModelInfo(modelPath, metadata);
    }

    private static HouseModelInfo ModelInfo(string modelPath, IReadOnlyDictionary<string, string> metadata)
    {
        string Read(string key) => metadata.TryGetValue(key, out string? value)
            ? value : throw new InvalidDataException($"The model '{modelPath}' has no '{key}' metadata; {Rebuild}.");
        var model = new HouseModelInfo(Read(HouseModelInfo.IdKey), Read(HouseModelInfo.NameKey),
            int.TryParse(Read(HouseModelInfo.DimensionKey), NumberStyles.None, CultureInfo.InvariantCulture, out int dimension) ? dimension : -1,
            double.TryParse(Read(HouseModelInfo.ThresholdKey), NumberStyles.Float, CultureInfo.InvariantCulture, out double threshold) ? threshold : double.NaN);
        if (MetadataProblem(model) is { } problem)
        {
            throw new InvalidDataException($"The model '{modelPath}' has implausible metadata ({problem}); {Rebuild}.");
        }
        return model;
    }

    private const string Rebuild = "rebuild the module with ./build.ps1 (or reinstall it)";

    /// <summary>The SHA-256 of the model file, in lower-case hex, written beside it by the build: house.onnx.sha256.</summary>
    public const string HashFileName = ModelFileName + ".sha256";

    /// <summary>Writes the hash file beside a model the build has just made.</summary>
    public static void WriteHash(string modelPath) =>
        File.WriteAllText(modelPath + ".sha256", Hash(modelPath) + "\n");

    private static string Hash(string file)
    {
        using var stream = File.OpenRead(file);
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
    }

    private static void VerifyHash(string modelPath, bool required)
    {
        string hashFile = modelPath + ".sha256";
        if (!File.Exists(hashFile))
        {
            if (required)
            {
                throw new InvalidDataException($"The model '{modelPath}' has no build hash beside it ({hashFile}), so it cannot be trusted; {Rebuild}.");
            }
            return;
        }
        string expected = File.ReadAllText(hashFile).Trim().ToLowerInvariant(), actual = Hash(modelPath);
        if (expected != actual)
        {
            throw new InvalidDataException($"The model '{modelPath}' is not the one this module was built with (SHA-256 {actual[..12]}…, " +
                                           $"expected {(expected.Length >= 12 ? expected[..12] : expected)}…): it was changed or damaged; {Rebuild}.");
        }
    }

    /// <summary>Why metadata cannot be a house model's, or null.</summary>
    public static string? MetadataProblem(HouseModelInfo model) =>
        model.Id.Length is 0 or > 200 || model.Id.Any(char.IsControl) ? $"id '{model.Id}'"
        : model.Name.Length == 0 ? "no name"
        : model.Dimension is < 1 or > 65_536 ? $"dimension {model.Dimension}"
        : !(model.DuplicateThreshold > 0 && model.DuplicateThreshold < 2) ? $"duplicate threshold {model.DuplicateThreshold}, outside (0, 2)"
        : null;

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
