using HouseSimilarity.Embedding;

namespace HouseSimilarity.Tools;

/// <summary>
/// Writes the validation houses' photos and their edited copies (the battery) as labelled vectors, for benchmarks that
/// need real copies with known groups: per row the group (photos of one listing photo share it: the original, its
/// byte-identical or re-encoded twins and all their edits), the name, and the vector.
/// </summary>
internal static class BatteryExport
{
    public static int Run(string photos, string modelDirectory, string outFile, int firstHouse, int lastHouse, string? cache)
    {
        using var embedder = new HouseEmbedder(Path.Combine(modelDirectory, HouseEmbedder.ModelFileName));
        var v = CalibrateDuplicates.LoadOrEmbed(photos, firstHouse, lastHouse, embedder, cache);
        var rows = new List<(int Group, string Name, float[] Vector)>();
        for (int o = 0; o < v.Files.Length; o++)
        {
            rows.Add((v.Group[o], Path.GetFileName(v.Files[o]), v.Originals[o]));
        }
        for (int j = 0; j < v.Jobs.Length; j++)
        {
            var (o, k) = v.Jobs[j];
            rows.Add((v.Group[o], $"{Path.GetFileName(v.Files[o])}.{v.Battery[k].Label.Replace(':', '_')}", v.Edited[j]));
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outFile))!);
        using var writer = new BinaryWriter(File.Create(outFile));
        writer.Write(embedder.Model.Id);
        writer.Write(rows.Count);
        writer.Write(rows[0].Vector.Length);
        foreach (var (group, name, vector) in rows)
        {
            writer.Write(group);
            writer.Write(name);
            foreach (float x in vector) writer.Write(x);
        }
        Console.WriteLine($"{outFile}: {v.Files.Length} photos and {v.Jobs.Length} edited copies of houses {firstHouse}..{lastHouse}");
        return 0;
    }
}
