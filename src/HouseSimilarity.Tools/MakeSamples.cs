namespace HouseSimilarity.Tools;

/// <summary>
/// Copies the shipped sample photos and writes one edited copy per kind of edit of a few of them, named
/// &lt;photo&gt;.&lt;edit&gt;.jpg (the demo's and the tests' duplicates).
/// </summary>
internal static class MakeSamples
{
    private static readonly string[] Edited = ["241_frontal", "242_kitchen", "243_bedroom"];
    /// <summary>Battery edit label -> the file name's tag.</summary>
    private static readonly Dictionary<string, string> EditTags = new()
    {
        ["resize:0.5"] = "resize", ["jpeg:q30"] = "jpeg", ["crop-center:80%"] = "crop", ["mirror:h"] = "mirror",
        ["watermark:small-br"] = "watermark", ["brightness:+25%"] = "brightness", ["png:lossless"] = "format",
    };

    public static int Run(string samples, string outDirectory)
    {
        if (Directory.Exists(outDirectory))
        {
            Directory.Delete(outDirectory, recursive: true);
        }
        string originals = Path.Combine(outDirectory, "originals"), edits = Path.Combine(outDirectory, "edits");
        Directory.CreateDirectory(originals);
        Directory.CreateDirectory(edits);
        foreach (string file in Directory.GetFiles(samples, "*.jpg"))
        {
            File.Copy(file, Path.Combine(originals, Path.GetFileName(file)), overwrite: true);
        }
        var battery = ImageEdits.Battery().ToDictionary(e => e.Label);
        foreach (string stem in Edited)
        {
            byte[] original = File.ReadAllBytes(Path.Combine(samples, stem + ".jpg"));
            foreach (var (label, tag) in EditTags)
            {
                ImageEdit edit = battery[label];
                string name = $"{stem}.{tag}{edit.Extension}";
                File.WriteAllBytes(Path.Combine(edits, name), edit.ApplyTo(original));
            }
        }
        return 0;
    }
}
