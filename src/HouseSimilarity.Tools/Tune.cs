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
        // Fitted on houses 1..200, scored on the benchmark's battery of edits of the tuning houses 201..240.
        var fitData = new Dictionary<string, TrainingData>();
        var tuneData = new Dictionary<string, TrainingData>();
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
            // The earlier stages' vectors are cached per GeM power; only kinds that pool them need them.
            float? stagesGem = Train.PoolsStages(p[0]) ? gem : null;
            string key = $"{stagesGem}";
            if (!fitData.ContainsKey(key))
            {
                fitData[key] = TrainingData.Load(photos, models, Train.FirstTrainingHouse, Train.LastTrainingHouse, editsPerPhoto, baseOptions.Seed,
                    battery: false, cache, stagesGem).Subset(h => h <= LastFitHouse);
                tuneData[key] = TrainingData.Load(photos, models, LastFitHouse + 1, Train.LastTrainingHouse, 0, 0, battery: true, cache, stagesGem);
            }
            var (head, _) = Train.Fit(fitData[key], p[0], gem, options);
            var report = Score(tuneData[key], head, variant);
            var worst = report.PerEdit.MinBy(e => e.RecallAt1)!;
            Console.WriteLine($"| {variant} | {report.Overall.RecallAt1:F3} ({worst.Label} {worst.RecallAt1:F3}) | {report.Overall.RecallAtP999:F3} | " +
                              $"{report.Overall.RecallAtP99:F3} | {report.RoomPrecisionAt5:F3} | {report.RecommendedThreshold:F3} |");
        }
        return 0;
    }

    public static QualityReport Score(TrainingData data, HeadWeights head, string name)
    {
        var (originals, edits) = data.Embed(head);
        var labels = data.EditLabel.Distinct().ToList();
        var kinds = labels.Select(l => new ImageEdit(l.Split(':')[0], l.Split(':').ElementAtOrDefault(1) ?? "", img => img)).ToList();
        var jobs = data.EditSource.Select((s, i) => (Original: s, Edit: labels.IndexOf(data.EditLabel[i]))).ToArray();
        return QualityBenchmark.Score(data.Files, data.Groups, kinds, jobs, originals, edits, 0, 0, 0.5, name);
    }
}
