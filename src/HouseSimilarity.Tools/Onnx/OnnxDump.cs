using HouseSimilarity.Embedding.Onnx;

namespace HouseSimilarity.Tools.Onnx;

internal static class OnnxDump
{
    public static int Run(string path)
    {
        var model = Proto.Parse(File.ReadAllBytes(path));
        foreach (var f in model.Where(f => f.Number != 7)) Console.WriteLine($"model field {f.Number}: {(f.WireType == 2 ? f.Text.Length > 80 ? "bytes" : f.Text : f.Value.ToString())}");
        foreach (var op in model.Where(f => f.Number == 8)) Console.WriteLine("opset " + string.Join(",", Proto.Parse(op.Bytes).Select(x => x.WireType == 2 ? x.Text : x.Value.ToString())));
        var graph = Proto.Parse(model.First(f => f.Number == 7).Bytes);
        Console.WriteLine("graph fields: " + string.Join(",", graph.GroupBy(f => f.Number).Select(g => $"{g.Key}x{g.Count()}")));
        var nodes = graph.Where(f => f.Number == 1).Select(n => Proto.Parse(n.Bytes)).ToList();
        foreach (var n in nodes.TakeLast(4).Concat(nodes.Take(3)))
            Console.WriteLine($"node {n.FirstOrDefault(f => f.Number == 4).Text} in=[{string.Join(",", n.Where(f => f.Number == 1).Select(f => f.Text))}] out=[{string.Join(",", n.Where(f => f.Number == 2).Select(f => f.Text))}] name={n.FirstOrDefault(f => f.Number == 3).Text}");
        foreach (var io in graph.Where(f => f.Number is 11 or 12)) Console.WriteLine($"{(io.Number == 11 ? "input" : "output")} {Proto.Parse(io.Bytes).First(f => f.Number == 1).Text}");
        Console.WriteLine($"initializers {graph.Count(f => f.Number == 5)}");
        return 0;
    }
}
