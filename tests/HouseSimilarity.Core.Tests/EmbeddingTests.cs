using HouseSimilarity.Embedding;
using HouseSimilarity.Imaging;
using HouseSimilarity.Tools;
using Xunit.Abstractions;

namespace HouseSimilarity.Tests;

[Collection("Embedder")]
public sealed class EmbeddingTests(EmbedderFixture fixture, ITestOutputHelper output) : IDisposable
{
    private const int Plane = HouseImageLoader.InputSize * HouseImageLoader.InputSize;
    private static readonly string[] EditedSamples = ["241_frontal", "242_kitchen", "243_bedroom", "250_frontal"];
    private static readonly string[] MildEdits = ["resize:0.5", "jpeg:q30", "brightness:+25%", "crop-center:80%", "watermark:small-br"];

    private readonly string _dir = TestData.NewScratchDirectory();
    private HouseEmbedder Embedder => fixture.Embedder;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteEdit(string sample, string label)
    {
        ImageEdit edit = ImageEdits.Battery().Single(e => e.Label == label);
        string path = Path.Combine(_dir, $"{sample}.{edit.Name}{edit.Extension}");
        File.WriteAllBytes(path, edit.ApplyTo(File.ReadAllBytes(TestData.Sample(sample))));
        return path;
    }

    [Fact]
    public void Embedding_is_a_deterministic_unit_vector_of_the_model()
    {
        string file = TestData.Sample("243_frontal");
        HouseEmbedding a = Embedder.Embed(file), b = Embedder.Embed(file);
        Assert.Equal(128, a.Vector.Length);
        Assert.Equal(1.0, Math.Sqrt(a.Vector.Sum(v => (double)v * v)), 5);
        Assert.Equal(a.Vector, b.Vector);
        Assert.Equal(Embedder.Model.Id, a.ModelId);
        Assert.Equal(file, a.Id);
        Assert.Matches("^resnet18-[a-z0-9]+-[0-9a-f]{12}$", a.ModelId);
    }

    private static readonly Dictionary<string, Func<float[], float[]>> Conventions = new()
    {
        ["planar RGB 0..255"] = p => p,
        ["planar BGR 0..255"] = p => [.. p[(2 * Plane)..], .. p[Plane..(2 * Plane)], .. p[..Plane]],
        ["planar RGB 0..1"] = p => p.Select(v => v / 255f).ToArray(),
        ["interleaved RGB 0..255"] = p => Enumerable.Range(0, 3 * Plane).Select(i => p[(i % 3) * Plane + i / 3]).ToArray(),
    };

    /// <summary>
    /// The preprocess graph reorders the planes to BGR and subtracts the ImageNet mean image (B 104, G 117, R 124
    /// on a 0..255 scale). So an image of the ImageNet mean colour must come out near zero, and only when it is
    /// given as planar R, G, B planes of raw 0..255 values.
    /// </summary>
    [Fact]
    public void Backbone_input_is_planar_rgb_0_to_255()
    {
        float[] meanColour = new float[3 * Plane];
        Array.Fill(meanColour, 123.68f, 0, Plane);
        Array.Fill(meanColour, 116.78f, Plane, Plane);
        Array.Fill(meanColour, 103.94f, 2 * Plane, Plane);
        foreach (var (name, convert) in Conventions)
        {
            float[] prepared = fixture.Backbone.Prepare(convert(meanColour));
            double[] planeMeans = Enumerable.Range(0, 3).Select(c => prepared.AsSpan(c * Plane, Plane).ToArray().Average(v => (double)v)).ToArray();
            output.WriteLine($"{name,-24} prepared plane means {string.Join(", ", planeMeans.Select(m => m.ToString("F1")))}");
            bool centred = planeMeans.All(m => Math.Abs(m) < 5);
            Assert.True(centred == (name == "planar RGB 0..255"), $"{name}: plane means {string.Join(", ", planeMeans)}");
        }
    }

    /// <summary>
    /// With the right value range and layout every mildly edited photo is nearest to its source among the samples,
    /// with a wider gap to the nearest other photo than a wrong range or layout gives. (Swapped channels barely
    /// change near-duplicate retrieval; the preprocess test above is what pins the channel order.)
    /// </summary>
    [Fact]
    public void Right_convention_ranks_edited_copies_nearest_by_the_widest_margin()
    {
        string[] originals = TestData.AllSamples;
        var edits = EditedSamples.SelectMany(s => MildEdits.Select(e => (Source: TestData.Sample(s), Path: WriteEdit(s, e)))).ToList();
        float[][] originalPixels = originals.Select(f => Embedder.Loader.Load(f).Pixels).ToArray();
        float[][] editPixels = edits.Select(e => Embedder.Loader.Load(e.Path).Pixels).ToArray();

        var results = new Dictionary<string, (double Gap, int Correct)>();
        foreach (var (name, convert) in Conventions)
        {
            float[][] o = originalPixels.Select(p => Unit(BackboneFeature(convert(p)))).ToArray();
            double gap = 0;
            int correct = 0;
            for (int i = 0; i < edits.Count; i++)
            {
                float[] e = Unit(BackboneFeature(convert(editPixels[i])));
                int source = Array.IndexOf(originals, edits[i].Source);
                double toSource = VectorMath.L2(e, o[source]);
                double toOther = Enumerable.Range(0, o.Length).Where(j => j != source && !SameBytes(originals[j], originals[source]))
                    .Min(j => VectorMath.L2(e, o[j]));
                correct += toSource < toOther ? 1 : 0;
                gap += toOther - toSource;
            }
            results[name] = (gap / edits.Count, correct);
            output.WriteLine($"{name,-24} rank-1 {correct}/{edits.Count}, mean gap to the nearest other photo {results[name].Gap:F3}");
        }
        var right = results["planar RGB 0..255"];
        Assert.Equal(edits.Count, right.Correct);
        Assert.All(results.Where(r => r.Key is "planar RGB 0..1" or "interleaved RGB 0..255"), wrong => Assert.True(right.Gap > wrong.Value.Gap,
            $"{wrong.Key}: gap {wrong.Value.Gap:F3} is not below the right convention's {right.Gap:F3}"));
    }

    [Fact]
    public void Edited_copies_are_duplicates_and_other_houses_are_not()
    {
        double threshold = Embedder.Model.DuplicateThreshold;
        foreach (string sample in EditedSamples)
        {
            HouseEmbedding original = Embedder.Embed(TestData.Sample(sample));
            foreach (string label in new[] { "resize:0.5", "jpeg:q30", "mirror:h", "png:lossless" })
            {
                double d = VectorMath.L2(original.Vector, Embedder.Embed(WriteEdit(sample, label)).Vector);
                output.WriteLine($"{sample} {label}: {d:F4}");
                Assert.True(d <= threshold, $"{sample} {label}: distance {d:F4} above the duplicate threshold {threshold:F4}");
            }
        }
        var all = TestData.AllSamples.Select(f => Embedder.Embed(f)).ToList();
        for (int a = 0; a < all.Count; a++)
        {
            for (int b = a + 1; b < all.Count; b++)
            {
                bool sameListing = all[a].Sha256 == all[b].Sha256 || IsReencodedPair(all[a].Path, all[b].Path);
                double d = VectorMath.L2(all[a].Vector, all[b].Vector);
                Assert.True(sameListing == d <= threshold,
                    $"{Path.GetFileName(all[a].Path)} vs {Path.GetFileName(all[b].Path)}: distance {d:F4}, threshold {threshold:F4}");
            }
        }
    }

    [Fact]
    public void Byte_identical_photos_embed_identically()
    {
        var a = Embedder.Embed(TestData.Sample("292_frontal"));
        var b = Embedder.Embed(TestData.Sample("293_frontal"));
        Assert.Equal(a.Sha256, b.Sha256);
        Assert.Equal(0, VectorMath.L2(a.Vector, b.Vector), 6);
    }

    [Fact]
    public void Model_id_changes_with_the_head_weights()
    {
        string copy = Path.Combine(_dir, "model");
        Directory.CreateDirectory(copy);
        foreach (string f in Directory.GetFiles(EmbedderFixture.ModelsDirectory))
        {
            File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        }
        string same = HeadFile.Compose(copy, Path.Combine(_dir, "same.onnx"));
        Assert.Equal(Embedder.Model.Id, same);
        byte[] weights = File.ReadAllBytes(Path.Combine(copy, "head.f32"));
        weights[100] ^= 1;
        File.WriteAllBytes(Path.Combine(copy, "head.f32"), weights);
        string other = HeadFile.Compose(copy, Path.Combine(_dir, "other.onnx"));
        Assert.NotEqual(Embedder.Model.Id, other);
        using var otherEmbedder = new HouseEmbedder(Path.Combine(_dir, "other.onnx"));
        Assert.Equal(other, otherEmbedder.Model.Id);
    }

    [Fact]
    public void A_model_that_is_not_the_one_built_is_refused_naming_the_file_and_the_rebuild()
    {
        string path = Path.Combine(_dir, HouseEmbedder.ModelFileName);
        File.Copy(fixture.ModelPath, path);
        var unhashed = Assert.Throws<InvalidDataException>(() => new HouseEmbedder(path, requireHash: true));
        Assert.Contains("no build hash", unhashed.Message);
        HouseEmbedder.WriteHash(path);
        using (var built = new HouseEmbedder(path, requireHash: true))
        {
            Assert.Equal(Embedder.Model.Id, built.Model.Id);
        }
        // Read without loading the network: the same metadata, the same checks.
        Assert.Equal(Embedder.Model, HouseEmbedder.ReadModelInfo(path, requireHash: true));

        // 64 KB of weights overwritten with NaN: ONNX Runtime would load it, the hash does not.
        byte[] good = File.ReadAllBytes(path), bad = (byte[])good.Clone();
        bad.AsSpan(bad.Length / 2, 65_536).Fill(0xFF);
        File.WriteAllBytes(path, bad);
        var tampered = Assert.Throws<InvalidDataException>(() => new HouseEmbedder(path, requireHash: true));
        Assert.Contains($"'{path}' is not the one this module was built with", tampered.Message);
        Assert.Equal(tampered.Message, Assert.Throws<InvalidDataException>(() => HouseEmbedder.ReadModelInfo(path, requireHash: true)).Message);
        Assert.Contains("./build.ps1", tampered.Message);

        // Without a hash to check, the NaN vectors it makes are refused photo by photo, never returned.
        File.Delete(path + ".sha256");
        using (var damaged = new HouseEmbedder(path))
        {
            var nan = Assert.Throws<InvalidDataException>(() => damaged.Embed(TestData.Sample("242_kitchen")));
            Assert.Contains("NaN", nan.Message);
        }

        // Truncated: ONNX Runtime's parse error becomes one that names the file and the fix.
        File.WriteAllBytes(path, good[..4096]);
        var truncated = Assert.Throws<InvalidDataException>(() => new HouseEmbedder(path));
        Assert.Contains($"'{path}' cannot be loaded", truncated.Message);
        Assert.Contains($"'{path}' cannot be read", Assert.Throws<InvalidDataException>(() => HouseEmbedder.ReadModelInfo(path)).Message);
        Assert.Contains("./build.ps1", truncated.Message);
    }

    [Theory]
    [InlineData("9.999", "128", "duplicate threshold 9.999")]
    [InlineData("0", "128", "duplicate threshold 0")]
    [InlineData("NaN", "128", "duplicate threshold NaN")]
    [InlineData("0.8", "-3", "dimension -1")]
    public void A_model_with_implausible_metadata_is_refused(string threshold, string dimension, string problem)
    {
        var (_, head) = HeadFile.Load(EmbedderFixture.ModelsDirectory);
        string path = Path.Combine(_dir, "odd.onnx");
        File.WriteAllBytes(path, HouseSimilarity.Embedding.Onnx.OnnxComposer.EmbeddingModel(EmbedderFixture.ModelsDirectory, head,
            new Dictionary<string, string>
            {
                [HouseModelInfo.IdKey] = "odd", [HouseModelInfo.NameKey] = "odd",
                [HouseModelInfo.DimensionKey] = dimension, [HouseModelInfo.ThresholdKey] = threshold,
            }));
        var error = Assert.Throws<InvalidDataException>(() => new HouseEmbedder(path));
        Assert.Contains($"implausible metadata ({problem}", error.Message);
        Assert.Equal(error.Message, Assert.Throws<InvalidDataException>(() => HouseEmbedder.ReadModelInfo(path)).Message);
    }

    /// <summary>Collections made with a head that pooled differently are refused, so the pooling is part of the id.</summary>
    [Fact]
    public void Model_id_changes_with_what_is_pooled()
    {
        var (file, head) = HeadFile.Load(EmbedderFixture.ModelsDirectory);
        Assert.NotEqual(file.ModelId(head), file.ModelId(head with { Stages = !head.Stages }));
        Assert.NotEqual(file.ModelId(head), file.ModelId(head with { Regions = !head.Regions }));
        Assert.Equal(Embedder.Model.Id, file.ModelId(head));
    }

    /// <summary>The composed ONNX graph computes exactly what the head's C# definition (used in training) computes.</summary>
    [Fact]
    public void Composed_model_matches_the_head_computed_in_csharp()
    {
        var (_, head) = HeadFile.Load(EmbedderFixture.ModelsDirectory);
        foreach (string sample in EditedSamples)
        {
            float[] pixels = Embedder.Loader.Load(TestData.Sample(sample)).Pixels;
            float[] composed = Embedder.Embed(pixels);
            var (map, stages) = fixture.Backbone.Features(pixels);
            float[] reference = HeadFile.Apply(head, FeatureExtractor.Describe(map, head.GemPower, head.Regions, head.Stages ? stages : null));
            Assert.True(VectorMath.L2(composed, reference) < 1e-4, $"{sample}: {VectorMath.L2(composed, reference)}");
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Composed_pooling_matches_csharp_with_and_without_regions_and_stages(bool regions, bool stages)
    {
        var rng = new Random(3);
        int input = 512 + (regions ? 512 : 0) + (stages ? FeatureExtractor.StageChannels : 0);
        float[] Random(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * scale)).ToArray();
        var head = new HouseSimilarity.Embedding.Onnx.HeadWeights(3, Random(input, 0.01), Random(16 * input, 1), 16, regions, stages);
        string path = Path.Combine(_dir, "random.onnx");
        File.WriteAllBytes(path, HouseSimilarity.Embedding.Onnx.OnnxComposer.EmbeddingModel(EmbedderFixture.ModelsDirectory, head,
            new Dictionary<string, string>
            {
                [HouseModelInfo.IdKey] = "test", [HouseModelInfo.NameKey] = "test",
                [HouseModelInfo.DimensionKey] = "16", [HouseModelInfo.ThresholdKey] = "0.5",
            }));
        using var embedder = new HouseEmbedder(path);
        float[] pixels = embedder.Loader.Load(TestData.Sample("242_kitchen")).Pixels;
        float[] composed = embedder.Embed(pixels);
        var (map, stageVectors) = fixture.Backbone.Features(pixels);
        float[] reference = HeadFile.Apply(head, FeatureExtractor.Describe(map, 3, regions, stages ? stageVectors : null));
        Assert.Equal(16, composed.Length);
        Assert.True(VectorMath.L2(composed, reference) < 1e-4, $"distance {VectorMath.L2(composed, reference)}");
    }

    private static bool SameBytes(string a, string b) => File.ReadAllBytes(a).AsSpan().SequenceEqual(File.ReadAllBytes(b));

    private static bool IsReencodedPair(string a, string b)
    {
        string x = Path.GetFileNameWithoutExtension(a), y = Path.GetFileNameWithoutExtension(b);
        return (x, y) is ("259_bathroom", "296_bathroom") or ("296_bathroom", "259_bathroom");
    }

    /// <summary>The backbone's own feature: its last map average-pooled.</summary>
    private float[] BackboneFeature(float[] pixels) => FeatureExtractor.Gem(fixture.Backbone.FeatureMap(pixels), 1);

    private static float[] Unit(float[] v)
    {
        VectorMath.Normalize(v);
        return v;
    }
}
