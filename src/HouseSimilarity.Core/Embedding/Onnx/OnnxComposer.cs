using System.Runtime.InteropServices;

namespace HouseSimilarity.Embedding.Onnx;

/// <summary>
/// Composes one ONNX model from ML.NET's ResNet18 featurizer (preprocess graph + backbone graph, opset 8) and
/// the house head: [1,3,224,224] planar RGB 0..255 in, [1,128] unit vector out. Graph surgery on raw protobuf
/// fields: the two graphs share no tensor names, so their nodes are concatenated and joined by an Identity.
/// </summary>
public static class OnnxComposer
{
    public const string OutputName = "embedding";
    /// <summary>The backbone's last convolutional map, [1,512,7,7], before its global average pool.</summary>
    public const string FeatureMapName = "ReLU393_Output_0";
    private const string BackboneInput = "Input247";
    private const string BackbonePool = "Pooling395";
    private const string PreprocessOutput = "PreprocessedInput";

    // Field numbers of onnx.proto.
    private const int ModelGraph = 7, ModelMetadata = 14;
    private const int GraphNode = 1, GraphName = 2, GraphInitializer = 5, GraphInput = 11, GraphOutput = 12, GraphValueInfo = 13;
    private const int NodeInput = 1, NodeOutput = 2, NodeName = 3, NodeOpType = 4, NodeAttribute = 5;
    private const int FloatType = 1;

    /// <summary>Square windows (top, left, side) of the 7x7 map: four corners and the centre at side 5, four corners at side 4.</summary>
    public static readonly (int Top, int Left, int Side)[] Regions =
        [(0, 0, 5), (0, 2, 5), (2, 0, 5), (2, 2, 5), (1, 1, 5), (0, 0, 4), (0, 3, 4), (3, 0, 4), (3, 3, 4)];

    /// <summary>
    /// The outputs of ResNet18's first three stages (64 x 56², 128 x 28², 256 x 14²). Their GeM vectors carry the
    /// texture and colour detail that tells a photo from a similar photo, and they survive crops better than the
    /// last map's semantics do.
    /// </summary>
    public static readonly (string Name, int Channels)[] EarlyStages =
        [("ReLU283_Output_0", 64), ("ReLU315_Output_0", 128), ("ReLU347_Output_0", 256)];

    /// <summary>
    /// Preprocess + backbone with the last convolutional map as output (for fitting the head); with
    /// <paramref name="stagesGemPower"/>, also the GeM vectors of <see cref="EarlyStages"/> ([1, channels, 1, 1] each).
    /// </summary>
    public static byte[] FeatureMapModel(string backboneDirectory, float? stagesGemPower = null)
    {
        var nodes = new List<byte[]>();
        var initializers = new List<byte[]>();
        var outputs = new List<(string, long[])> { (FeatureMapName, [1, 512, 7, 7]) };
        if (stagesGemPower is float p)
        {
            initializers.AddRange(GemPowers(p));
            foreach (var (name, channels) in EarlyStages)
            {
                nodes.Add(Node("Pow", [name, "gem_p"], [$"{name}_powered"]));
                nodes.AddRange(Gem($"{name}_powered", name));
                outputs.Add(($"{name}_gem", [1, channels, 1, 1]));
            }
        }
        return Compose(backboneDirectory, nodes, initializers, [.. outputs], new Dictionary<string, string>());
    }

    /// <summary>The whole embedding model: backbone, GeM pooling, head, L2 normalisation.</summary>
    public static byte[] EmbeddingModel(string backboneDirectory, HeadWeights head, IReadOnlyDictionary<string, string> metadata)
    {
        var initializers = new List<byte[]>(GemPowers(head.GemPower))
        {
            Tensor("head_mean", [1, head.InputDimension], head.Mean),
            Tensor("head_projection", [head.InputDimension, head.Dimension], Transpose(head.Projection, head.Dimension, head.InputDimension)),
        };
        // GeM pooling, (mean of x^p)^(1/p) over the 7x7 map; the map is post-ReLU, so x >= 0.
        var nodes = new List<byte[]> { Node("Pow", [FeatureMapName, "gem_p"], ["gem_powered"]) };
        nodes.AddRange(Gem("gem_powered", "global"));
        string pooled = "global_unit";
        if (head.Regions)
        {
            for (int r = 0; r < Regions.Length; r++)
            {
                var (top, left, side) = Regions[r];
                nodes.Add(Node("Slice", ["gem_powered"], [$"region{r}_powered"],
                    Attributes("axes", 2, 3), Attributes("starts", top, left), Attributes("ends", top + side, left + side)));
                nodes.AddRange(Gem($"region{r}_powered", $"region{r}"));
            }
            nodes.Add(Node("Sum", [.. Enumerable.Range(0, Regions.Length).Select(r => $"region{r}_unit")], ["regions_sum"]));
            nodes.Add(Node("LpNormalization", ["regions_sum"], ["regions_unit"], Attribute("axis", 1), Attribute("p", 2)));
            nodes.Add(Node("Concat", ["global_unit", "regions_unit"], ["pooled_both"], Attribute("axis", 1)));
            pooled = "pooled_both";
        }
        if (head.Stages)
        {
            foreach (var (name, _) in EarlyStages)
            {
                nodes.Add(Node("Pow", [name, "gem_p"], [$"{name}_powered"]));
                nodes.AddRange(Gem($"{name}_powered", name));
            }
            nodes.Add(Node("Concat", [pooled, .. EarlyStages.Select(s => $"{s.Name}_unit")], ["pooled_stages"], Attribute("axis", 1)));
            pooled = "pooled_stages";
        }
        nodes.Add(Node("LpNormalization", [pooled], ["pooled_unit"], Attribute("axis", 1), Attribute("p", 2)));
        nodes.Add(Node("Sub", ["pooled_unit", "head_mean"], ["centred"]));
        nodes.Add(Node("MatMul", ["centred", "head_projection"], ["projected"]));
        nodes.Add(Node("LpNormalization", ["projected"], [OutputName], Attribute("axis", 1), Attribute("p", 2)));
        return Compose(backboneDirectory, nodes, initializers, [(OutputName, [1, head.Dimension])], metadata);
    }

    private static byte[] Compose(string backboneDirectory, List<byte[]> headNodes, List<byte[]> headInitializers,
        (string Name, long[] Shape)[] outputs, IReadOnlyDictionary<string, string> metadata)
    {
        var preprocessModel = Proto.Parse(File.ReadAllBytes(Path.Combine(backboneDirectory, "ResNetPreprocess.onnx")));
        var backboneModel = Proto.Parse(File.ReadAllBytes(Path.Combine(backboneDirectory, "ResNet18.onnx")));
        var preprocess = Proto.Parse(preprocessModel.Single(f => f.Number == ModelGraph).Bytes);
        var backbone = Proto.Parse(backboneModel.Single(f => f.Number == ModelGraph).Bytes);

        var graph = new List<ProtoField>();
        graph.AddRange(preprocess.Where(f => f.Number == GraphNode));
        graph.Add(ProtoField.Message(GraphNode, Node("Identity", [PreprocessOutput], [BackboneInput])));
        // The backbone's own global average pool is replaced by the head's pooling.
        graph.AddRange(backbone.Where(f => f.Number == GraphNode && !Names(f, NodeName, BackbonePool)));
        graph.AddRange(headNodes.Select(n => ProtoField.Message(GraphNode, n)));
        graph.Add(ProtoField.String(GraphName, "house_similarity"));
        graph.AddRange(preprocess.Where(f => f.Number == GraphInitializer));
        graph.AddRange(backbone.Where(f => f.Number == GraphInitializer));
        graph.AddRange(headInitializers.Select(t => ProtoField.Message(GraphInitializer, t)));
        graph.AddRange(preprocess.Where(f => f.Number == GraphInput));
        graph.AddRange(outputs.Select(o => ProtoField.Message(GraphOutput, ValueInfo(o.Name, o.Shape))));
        graph.AddRange(backbone.Where(f => f.Number == GraphValueInfo && !Names(f, 1, BackbonePool + "_Output_0")));

        var model = backboneModel.Where(f => f.Number is not ModelGraph and not ModelMetadata).ToList();
        model.Add(ProtoField.Message(ModelGraph, Proto.Write(graph)));
        model.AddRange(metadata.Select(kv => ProtoField.Message(ModelMetadata, [ProtoField.String(1, kv.Key), ProtoField.String(2, kv.Value)])));
        return Proto.Write(model);
    }

    private static byte[][] GemPowers(float p) => [Tensor("gem_p", [], [p]), Tensor("gem_inverse_p", [], [1f / p])];

    /// <summary>Mean of an already powered map, to the power 1/p, flattened and L2-normalised: &lt;name&gt;_unit.</summary>
    private static IEnumerable<byte[]> Gem(string powered, string name) =>
    [
        Node("GlobalAveragePool", [powered], [$"{name}_mean"]),
        Node("Pow", [$"{name}_mean", "gem_inverse_p"], [$"{name}_gem"]),
        Node("Flatten", [$"{name}_gem"], [$"{name}_flat"], Attribute("axis", 1)),
        Node("LpNormalization", [$"{name}_flat"], [$"{name}_unit"], Attribute("axis", 1), Attribute("p", 2)),
    ];

    private static bool Names(ProtoField message, int nameField, string name) =>
        Proto.Parse(message.Bytes).Any(f => f.Number == nameField && f.WireType == 2 && f.Text == name);

    private static byte[] Node(string opType, string[] inputs, string[] outputs, params byte[][] attributes) =>
        Proto.Write([
            .. inputs.Select(i => ProtoField.String(NodeInput, i)),
            .. outputs.Select(o => ProtoField.String(NodeOutput, o)),
            ProtoField.String(NodeName, outputs[0] + "_node"),
            ProtoField.String(NodeOpType, opType),
            .. attributes.Select(a => ProtoField.Message(NodeAttribute, a)),
        ]);

    /// <summary>An INT attribute (AttributeProto: name 1, i 3, type 20 = INT).</summary>
    private static byte[] Attribute(string name, long value) =>
        Proto.Write([ProtoField.String(1, name), ProtoField.Varint(3, value), ProtoField.Varint(20, 2)]);

    /// <summary>An INTS attribute (AttributeProto: name 1, ints 8, type 20 = INTS).</summary>
    private static byte[] Attributes(string name, params long[] values) =>
        Proto.Write([ProtoField.String(1, name), .. values.Select(v => ProtoField.Varint(8, v)), ProtoField.Varint(20, 7)]);

    /// <summary>A float tensor (TensorProto: dims 1, data_type 2, name 8, raw_data 9 little-endian).</summary>
    private static byte[] Tensor(string name, long[] dims, float[] values) =>
        Proto.Write([
            .. dims.Select(d => ProtoField.Varint(1, d)),
            ProtoField.Varint(2, FloatType),
            ProtoField.String(8, name),
            ProtoField.Message(9, MemoryMarshal.AsBytes(values.AsSpan()).ToArray()),
        ]);

    /// <summary>ValueInfoProto of a float tensor with a fixed shape.</summary>
    private static byte[] ValueInfo(string name, long[] shape)
    {
        byte[] dims = Proto.Write(shape.Select(d => ProtoField.Message(1, [ProtoField.Varint(1, d)])));
        byte[] tensorType = Proto.Write([ProtoField.Varint(1, FloatType), ProtoField.Message(2, dims)]);
        return Proto.Write([ProtoField.String(1, name), ProtoField.Message(2, [ProtoField.Message(1, tensorType)])]);
    }

    private static float[] Transpose(float[] matrix, int rows, int columns)
    {
        var result = new float[matrix.Length];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < columns; c++)
            {
                result[c * rows + r] = matrix[r * columns + c];
            }
        }
        return result;
    }
}

/// <summary>
/// The fitted part of the model: GeM power, then a centred linear projection of the L2-normalised pooled
/// backbone feature. Projection is row-major Dimension x InputDimension.
/// With <paramref name="Regions"/>, the pooled feature is the global GeM vector concatenated with the mean of the
/// L2-normalised GeM vectors of <see cref="OnnxComposer.Regions"/>, so a crop still resembles part of its original.
/// With <paramref name="Stages"/>, the L2-normalised GeM vectors of <see cref="OnnxComposer.EarlyStages"/> follow.
/// </summary>
public sealed record HeadWeights(float GemPower, float[] Mean, float[] Projection, int Dimension, bool Regions = false, bool Stages = false)
{
    public int InputDimension => Mean.Length;
}
