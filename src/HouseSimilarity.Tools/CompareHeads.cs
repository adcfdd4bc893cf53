using System.Globalization;
using HouseSimilarity.Embedding.Onnx;

namespace HouseSimilarity.Tools;

/// <summary>
/// The <c>compare</c> command: the model card's side-by-side table. Raw backbone features, the PCA projection,
/// learned whitening, the previous Siamese head and the shipped head (models/), each scored on the benchmark
/// battery of the validation houses 241..300 from cached backbone features (the composed model computes the same
/// vectors, see the tests).
/// </summary>
internal static class CompareHeads
{
    public static int Run(string photos, string models, string headDirectory, int editsPerPhoto, HeadTrainer.Options options, string cache)
    {
        var training = TrainingData.Load(photos, models, Train.FirstTrainingHouse, Train.LastTrainingHouse, editsPerPhoto, options.Seed, battery: false, cache);
        var validation = TrainingData.Load(photos, models, 241, 300, 0, 0, battery: true, cache);
        var (file, shipped) = HeadFile.Load(headDirectory);
        var heads = new List<(string Name, HeadWeights Head)>
        {
            ("raw ResNet18 features (512-d, average pool)", Raw()),
            ("PCA 128 (average pool)", Train.Fit(training, "pca", 1, options).Head),
            ("learned whitening 128 (GeM p=3)", Train.Fit(training, "whitening", 3, options).Head),
            ("learned whitening 128 (GeM p=3 + regions)", Train.Fit(training, "r-whitening", 3, options).Head),
            ("Siamese head (GeM p=3 + regions), the previous head", Train.Fit(training, "r-siamese", 3, options).Head),
            ("learned whitening 128 (GeM p=3 + regions + earlier stages)", Train.Fit(training, "rs-whitening", 3, options).Head),
            ($"shipped: {file.ModelId(shipped)}", shipped),
        };
        var reports = heads.Select(h => Tune.Score(validation, h.Head, h.Name)).ToList();
        var ci = CultureInfo.InvariantCulture;
        Console.WriteLine("| model (validation houses 241..300, battery edits) | recall@1 | worst edit recall@1 | recall@P0.999 | recall@P0.99 | room P@5 | threshold@P0.999 |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var r in reports)
        {
            var worst = r.PerEdit.MinBy(e => e.RecallAt1)!;
            Console.WriteLine(string.Create(ci, $"| {r.Name} | {r.Overall.RecallAt1:F3} | {worst.RecallAt1:F3} ({worst.Label}) | {r.Overall.RecallAtP999:F3} | " +
                $"{r.Overall.RecallAtP99:F3} | {r.RoomPrecisionAt5:F3} | {r.RecommendedThreshold:F3} |"));
        }
        Console.WriteLine();
        Console.WriteLine(reports[^1].ToMarkdown());
        return 0;
    }

    /// <summary>The backbone's own feature, L2-normalised: no centring, identity projection.</summary>
    private static HeadWeights Raw()
    {
        const int d = FeatureExtractor.Channels;
        var identity = new float[d * d];
        for (int i = 0; i < d; i++) identity[i * d + i] = 1;
        return new HeadWeights(1, new float[d], identity, d);
    }
}
