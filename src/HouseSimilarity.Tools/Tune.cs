using HouseSimilarity.Embedding.Onnx;

namespace HouseSimilarity.Tools;

/// <summary>
/// The <c>tune</c> command: fits head variants on training houses 1..200 and scores them on their random edits
/// of houses 201..240 (never on the validation houses 241..300, which only the final report sees).
/// </summary>
internal static class Tune
{
    public const int LastFitHouse = 200;

    public static int Run(string photos, string models, int editsPerPhoto, HeadTrainer.Options baseOptions, string cache, string[] variants)
    {
        var data = TrainingData.Load(photos, models, Train.FirstTrainingHouse, Train.LastTrainingHouse, editsPerPhoto, baseOptions.Seed, battery: false, cache);
        var (fit, _) = Split(data);
        // Scored on the benchmark's battery of edits, but of the tuning houses.
        var tune = TrainingData.Load(photos, models, LastFitHouse + 1, Train.LastTrainingHouse, 0, 0, battery: true, cache);
        Console.WriteLine("| variant | recall@1 | recall@P0.999 | recall@P0.99 | room P@5 | threshold@P0.999 |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (string variant in variants)
        {
            // kind:gem[:epochs:temperature:lr:shrinkage:roomWeight:roomTemperature]
            string[] p = variant.Split(':');
            var options = baseOptions with
            {
                Epochs = p.Length > 2 ? int.Parse(p[2]) : baseOptions.Epochs,
                Temperature = p.Length > 3 ? double.Parse(p[3], System.Globalization.CultureInfo.InvariantCulture) : baseOptions.Temperature,
                LearningRate = p.Length > 4 ? double.Parse(p[4], System.Globalization.CultureInfo.InvariantCulture) : baseOptions.LearningRate,
                Shrinkage = p.Length > 5 ? double.Parse(p[5], System.Globalization.CultureInfo.InvariantCulture) : baseOptions.Shrinkage,
                RoomWeight = p.Length > 6 ? double.Parse(p[6], System.Globalization.CultureInfo.InvariantCulture) : baseOptions.RoomWeight,
                RoomTemperature = p.Length > 7 ? double.Parse(p[7], System.Globalization.CultureInfo.InvariantCulture) : baseOptions.RoomTemperature,
            };
            float gem = float.Parse(p[1], System.Globalization.CultureInfo.InvariantCulture);
            var (head, _) = Train.Fit(fit, p[0], gem, options);
            var report = Score(tune, head, variant);
            var worst = report.PerEdit.MinBy(e => e.RecallAt1)!;
            Console.WriteLine($"| {variant} | {report.Overall.RecallAt1:F3} ({worst.Label} {worst.RecallAt1:F3}) | {report.Overall.RecallAtP999:F3} | " +
                              $"{report.Overall.RecallAtP99:F3} | {report.RoomPrecisionAt5:F3} | {report.RecommendedThreshold:F3} |");
        }
        return 0;
    }

    public static QualityReport Score(TrainingData data, HeadWeights head, string name)
    {
        float[][] originals = TrainingData.Pool(data.Originals, head.GemPower, head.Regions).Select(x => HeadFile.Apply(head, x)).ToArray();
        float[][] edits = TrainingData.Pool(data.Edits, head.GemPower, head.Regions).Select(x => HeadFile.Apply(head, x)).ToArray();
        var labels = data.EditLabel.Distinct().ToList();
        var kinds = labels.Select(l => new ImageEdit(l.Split(':')[0], l.Split(':').ElementAtOrDefault(1) ?? "", img => img)).ToList();
        var jobs = data.EditSource.Select((s, i) => (Original: s, Edit: labels.IndexOf(data.EditLabel[i]))).ToArray();
        return QualityBenchmark.Score(data.Files, data.Groups, kinds, jobs, originals, edits, 0, 0, 0.5, name);
    }

    private static (TrainingData Fit, TrainingData Tune) Split(TrainingData data)
    {
        TrainingData Take(Func<int, bool> keep)
        {
            int[] originals = Enumerable.Range(0, data.Files.Length).Where(i => keep(DevPhotos.House(data.Files[i]))).ToArray();
            var index = originals.Select((o, k) => (o, k)).ToDictionary(x => x.o, x => x.k);
            int[] edits = Enumerable.Range(0, data.Edits.Length).Where(e => index.ContainsKey(data.EditSource[e])).ToArray();
            return new TrainingData
            {
                Files = originals.Select(i => data.Files[i]).ToArray(),
                Groups = originals.Select(i => data.Groups[i]).ToArray(),
                Originals = originals.Select(i => data.Originals[i]).ToArray(),
                EditSource = edits.Select(e => index[data.EditSource[e]]).ToArray(),
                EditLabel = edits.Select(e => data.EditLabel[e]).ToArray(),
                Edits = edits.Select(e => data.Edits[e]).ToArray(),
            };
        }
        return (Take(h => h <= LastFitHouse), Take(h => h > LastFitHouse));
    }
}
