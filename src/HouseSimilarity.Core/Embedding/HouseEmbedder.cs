using HouseSimilarity.Imaging;
using Microsoft.ML.OnnxRuntime;

namespace HouseSimilarity.Embedding;

/// <summary>
/// ML.NET's ResNet18 featurizer (preprocess + backbone ONNX files). Thread-safe: each call runs
/// single-threaded, so parallel callers use the cores without oversubscribing them.
/// </summary>
public sealed class ResNetBackbone : IDisposable
{
    public const string Name = "Microsoft.ML.DnnImageFeaturizer.ResNet18/0.23.1";
    public const int FeatureDimension = 512;

    private static readonly long[] InputShape = [1, 3, HouseImageLoader.InputSize, HouseImageLoader.InputSize];

    private readonly InferenceSession _prepare;
    private readonly InferenceSession _backbone;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _prepareIn, _prepareOut, _backboneIn, _backboneOut;

    public ResNetBackbone(string modelDirectory)
    {
        using var options = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _prepare = new InferenceSession(Path.Combine(modelDirectory, "ResNetPreprocess.onnx"), options);
        _backbone = new InferenceSession(Path.Combine(modelDirectory, "ResNet18.onnx"), options);
        _prepareIn = [.. _prepare.InputNames];
        _prepareOut = [.. _prepare.OutputNames];
        _backboneIn = [.. _backbone.InputNames];
        _backboneOut = [.. _backbone.OutputNames];
    }

    /// <summary>The 512-d pooled feature of planar R, G, B planes with values 0..255.</summary>
    public float[] Features(float[] pixels)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, InputShape);
        using var prepared = _prepare.Run(_runOptions, _prepareIn, [input], _prepareOut);
        using var pooled = _backbone.Run(_runOptions, _backboneIn, [prepared[0]], _backboneOut);
        return pooled[0].GetTensorDataAsSpan<float>().ToArray();
    }

    /// <summary>The preprocess graph's output alone: BGR planes minus the ImageNet mean image.</summary>
    internal float[] Prepare(float[] pixels)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, InputShape);
        using var prepared = _prepare.Run(_runOptions, _prepareIn, [input], _prepareOut);
        return prepared[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public void Dispose()
    {
        _prepare.Dispose();
        _backbone.Dispose();
        _runOptions.Dispose();
    }
}

/// <summary>Photo in, 128-d unit vector out: image loader, backbone and head together.</summary>
public sealed class HouseEmbedder : IDisposable
{
    public const string Preprocess = "stretch224-triangle-rgb255-chw";

    public HouseModel Model { get; }
    public HouseImageLoader Loader { get; }
    public ResNetBackbone Backbone { get; }

    public HouseEmbedder(string modelDirectory, HouseImageLoader? loader = null)
    {
        Model = HouseModel.Load(modelDirectory);
        Loader = loader ?? new HouseImageLoader();
        Backbone = new ResNetBackbone(modelDirectory);
    }

    /// <summary>The models/ folder shipped next to this assembly.</summary>
    public static string DefaultModelDirectory =>
        Path.Combine(Path.GetDirectoryName(typeof(HouseEmbedder).Assembly.Location)!, "models");

    public HouseEmbedding Embed(string path, string? id = null)
    {
        LoadedImage image = Loader.Load(path);
        return new HouseEmbedding
        {
            Id = id ?? path,
            Path = path,
            Sha256 = image.Sha256,
            Width = image.Width,
            Height = image.Height,
            ModelId = Model.Id,
            Vector = Project(Backbone.Features(image.Pixels)),
        };
    }

    /// <summary>Head: L2-normalise, centre, project, L2-normalise.</summary>
    public float[] Project(ReadOnlySpan<float> feature) => Model.Project(feature);

    public void Dispose() => Backbone.Dispose();
}
