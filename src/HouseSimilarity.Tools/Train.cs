using MathNet.Numerics.LinearAlgebra;
using HouseSimilarity.Embedding.Onnx;

namespace HouseSimilarity.Tools;

/// <summary>
/// The <c>train</c> command: fits a head on the training houses and writes models/head.json + head.f32.
/// Kinds: <c>pca</c> (the first projection, kept for comparison), <c>whitening</c> (closed-form learned
/// whitening) and <c>siamese</c> (whitening fine-tuned with the Siamese InfoNCE objective, the default),
/// each with a prefix for what is pooled (<see cref="Pooling"/>).
/// </summary>
internal static class Train
{
    public const int FirstTrainingHouse = 1, LastTrainingHouse = 240;
    private static readonly string[] Rooms = ["bathroom", "bedroom", "frontal", "kitchen"];

    public static int Run(string photos, string models, string outDirectory, string kind, float gemPower, int editsPerPhoto,
        HeadTrainer.Options options, double? threshold, string cache)
    {
        var data = TrainingData.Load(photos, models, FirstTrainingHouse, LastTrainingHouse, editsPerPhoto, options.Seed, battery: false, cache,
            PoolsStages(kind) ? gemPower : null);
        var (head, file) = Fit(data, kind, gemPower, options);
        file.DuplicateThreshold = Math.Round(threshold ?? Calibrate(data, head), 4);
        file.Training = $"houses {FirstTrainingHouse}..{LastTrainingHouse}, {editsPerPhoto} random edits per photo (seed {options.Seed}); {options}";
        HeadFile.Save(outDirectory, file, head);
        Console.WriteLine($"Wrote {outDirectory}/head.json: {file.ModelId(head)}, threshold {file.DuplicateThreshold}");
        return 0;
    }

    public static (HeadWeights Head, HeadFile File) Fit(TrainingData data, string kind, float gemPower, HeadTrainer.Options options)
    {
        string pooling = Pooling(kind);
        kind = kind[(kind.IndexOf('-') + 1)..];
        bool regions = pooling.Contains('r'), stages = pooling.Contains('s');
        var (originals, edits) = data.Pool(gemPower, regions, stages);
        HeadWeights head = kind switch
        {
            "pca" => Pca(originals, gemPower, options.Dimension),
            "whitening" => HeadTrainer.LearnedWhitening(originals, edits, data.EditSource, gemPower, options),
            "siamese" => HeadTrainer.FineTune(HeadTrainer.LearnedWhitening(originals, edits, data.EditSource, gemPower, options),
                originals, data.Groups, data.Files.Select(f => Array.IndexOf(Rooms, DevPhotos.Room(f))).ToArray(), edits, data.EditSource, options,
                (epoch, loss) => Console.Error.WriteLine($"  epoch {epoch + 1}: loss {loss:F4}")),
            _ => throw new ArgumentException($"Unknown head kind '{kind}': use pca, whitening or siamese."),
        };
        head = head with { Regions = regions, Stages = stages };
        return (head, new HeadFile { Name = $"resnet18-{kind}{options.Dimension}{pooling}", Kind = kind });
    }

    /// <summary>
    /// A prefix before a kind says what is pooled besides the whole last map: "r" its regions, "s" the earlier
    /// stages (e.g. "rs-siamese").
    /// </summary>
    private static string Pooling(string kind) => kind.Contains('-') ? kind[..kind.IndexOf('-')] : "";

    public static bool PoolsStages(string kind) => Pooling(kind).Contains('s');

    /// <summary>Largest distance keeping pairwise precision at 0.999 on the training photos and their edits.</summary>
    private static double Calibrate(TrainingData data, HeadWeights head)
    {
        var (originals, edits) = data.Embed(head);
        return Calibration.Threshold(originals, data.Groups, edits, data.EditSource);
    }

    /// <summary>The first head: principal components of the descriptors of the photos, no edits involved.</summary>
    private static HeadWeights Pca(float[][] descriptors, float gemPower, int dimension)
    {
        int d = descriptors[0].Length;
        var mean = Vector<double>.Build.Dense(d, j => descriptors.Average(x => (double)x[j]));
        var centred = Matrix<double>.Build.Dense(descriptors.Length, d, (i, j) => descriptors[i][j] - mean[j]);
        var evd = (centred.TransposeThisAndMultiply(centred) / descriptors.Length).Evd(Symmetricity.Symmetric);
        var projection = new float[dimension * d];
        for (int k = 0; k < dimension; k++)
        {
            for (int j = 0; j < d; j++)
            {
                projection[k * d + j] = (float)evd.EigenVectors[j, d - 1 - k];
            }
        }
        return new HeadWeights(gemPower, mean.Select(v => (float)v).ToArray(), projection, dimension);
    }
}
