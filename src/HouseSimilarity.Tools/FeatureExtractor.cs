using HouseSimilarity.Embedding.Onnx;
using HouseSimilarity.Imaging;
using Microsoft.ML.OnnxRuntime;

namespace HouseSimilarity.Tools;

/// <summary>
/// The backbone alone, for fitting heads: preprocess + ResNet18 up to the last convolutional map
/// ([512, 7, 7]) and, when asked, the GeM vectors of its earlier stages; composed in memory from the NuGet
/// files. Thread-safe like the embedder.
/// </summary>
internal sealed class FeatureExtractor : IDisposable
{
    public const int Channels = 512, Cells = 49;
    public static readonly int StageChannels = OnnxComposer.EarlyStages.Sum(s => s.Channels);
    private static readonly long[] InputShape = [1, 3, HouseImageLoader.InputSize, HouseImageLoader.InputSize];

    private readonly InferenceSession _prepare;
    private readonly InferenceSession _features;
    private readonly RunOptions _runOptions = new();

    /// <param name="stagesGemPower">GeM power for the earlier stages' vectors; null for the last map alone.</param>
    public FeatureExtractor(string modelsDirectory, float? stagesGemPower = null)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        _prepare = new InferenceSession(Path.Combine(modelsDirectory, "ResNetPreprocess.onnx"), options);
        _features = new InferenceSession(OnnxComposer.FeatureMapModel(modelsDirectory, stagesGemPower), options);
    }

    /// <summary>The preprocess graph's output alone: BGR planes minus the ImageNet mean image.</summary>
    public float[] Prepare(float[] pixels) => Run(_prepare, pixels)[0];

    /// <summary>The last convolutional map, channel-major [512, 49].</summary>
    public float[] FeatureMap(float[] pixels) => Run(_features, pixels)[0];

    /// <summary>The last map and the earlier stages' GeM vectors, concatenated in <see cref="OnnxComposer.EarlyStages"/> order.</summary>
    public (float[] Map, float[] Stages) Features(float[] pixels)
    {
        float[][] outputs = Run(_features, pixels);
        return (outputs[0], [.. outputs.Skip(1).SelectMany(o => o)]);
    }

    /// <summary>Generalised mean pooling of a feature map; p = 1 is the backbone's own average pool.</summary>
    public static float[] Gem(ReadOnlySpan<float> map, float p)
    {
        var pooled = new float[Channels];
        for (int c = 0; c < Channels; c++)
        {
            double sum = 0;
            foreach (float v in map.Slice(c * Cells, Cells))
            {
                sum += p == 1 ? v : Math.Pow(v, p);
            }
            pooled[c] = (float)(p == 1 ? sum / Cells : Math.Pow(sum / Cells, 1 / p));
        }
        return pooled;
    }

    /// <summary>
    /// The head's input, as the composed model pools it: the L2-normalised global GeM vector, with regions
    /// followed by the normalised mean of the normalised regional GeM vectors, with <paramref name="stages"/>
    /// (from <see cref="Features"/>) followed by each earlier stage's normalised GeM vector; all L2-normalised.
    /// </summary>
    public static float[] Describe(ReadOnlySpan<float> map, float p, bool regions, float[]? stages = null)
    {
        float[] global = Gem(map, p);
        VectorMath.Normalize(global);
        float[] pooled = regions ? [.. global, .. RegionSum(map, p)] : global;
        if (stages is not null)
        {
            var parts = new List<float>(pooled);
            int offset = 0;
            foreach (var (_, channels) in OnnxComposer.EarlyStages)
            {
                float[] stage = stages[offset..(offset + channels)];
                VectorMath.Normalize(stage);
                parts.AddRange(stage);
                offset += channels;
            }
            pooled = [.. parts];
        }
        VectorMath.Normalize(pooled);
        return pooled;
    }

    /// <summary>The normalised sum of the normalised GeM vectors of <see cref="OnnxComposer.Regions"/>.</summary>
    private static float[] RegionSum(ReadOnlySpan<float> map, float p)
    {
        var sum = new float[Channels];
        foreach (var (top, left, side) in HouseSimilarity.Embedding.Onnx.OnnxComposer.Regions)
        {
            float[] region = RegionGem(map, p, top, left, side);
            VectorMath.Normalize(region);
            System.Numerics.Tensors.TensorPrimitives.Add(sum, region, sum);
        }
        VectorMath.Normalize(sum);
        return sum;
    }

    private static float[] RegionGem(ReadOnlySpan<float> map, float p, int top, int left, int side)
    {
        var pooled = new float[Channels];
        for (int c = 0; c < Channels; c++)
        {
            double sum = 0;
            for (int y = top; y < top + side; y++)
                for (int x = left; x < left + side; x++)
                    sum += Math.Pow(map[c * Cells + y * 7 + x], p);
            pooled[c] = (float)Math.Pow(sum / (side * side), 1 / p);
        }
        return pooled;
    }

    private float[][] Run(InferenceSession session, float[] pixels)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, InputShape);
        using var outputs = session.Run(_runOptions, [.. session.InputNames], [input], [.. session.OutputNames]);
        return [.. outputs.Select(o => o.GetTensorDataAsSpan<float>().ToArray())];
    }

    public void Dispose()
    {
        _prepare.Dispose();
        _features.Dispose();
        _runOptions.Dispose();
    }
}
