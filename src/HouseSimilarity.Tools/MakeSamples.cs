namespace HouseSimilarity.Tools;

/// <summary>
/// Copies the shipped sample photos and writes one edited copy per kind of edit of a few of them, named
/// &lt;photo&gt;.&lt;edit&gt;.jpg (the demo's and the tests' duplicates).
/// </summary>
internal static class MakeSamples
{
    private static readonly string[] Edited = ["241_frontal", "242_kitchen", "243_bedroom"];
    private static readonly string[] EditLabels =
        ["resize:0.5", "jpeg:q30", "crop-center:80%", "mirror:h", "watermark:small-br", "brightness:+25%", "png:lossless"];

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
            foreach (string label in EditLabels)
            {
                ImageEdit edit = battery[label];
                string name = $"{stem}.{edit.Name}{edit.Extension}";
                File.WriteAllBytes(Path.Combine(edits, name), edit.ApplyTo(original));
            }
        }
        return 0;
    }
}
