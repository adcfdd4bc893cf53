using HouseSimilarity.Embedding;
using HouseSimilarity.Imaging;
using MathNet.Numerics.LinearAlgebra;

namespace HouseSimilarity.Tools;

/// <summary>
/// Fits the first head: PCA of the L2-normalised backbone features to 128 dimensions, then calibrates the
/// duplicate threshold on edited copies so that pairwise precision stays at or above 0.999.
/// </summary>
internal static class FitPca
{
    public static int Run(string dataDirectory, string modelDirectory, string outDirectory)
    {
        const int dimension = 128;
        var loader = new HouseImageLoader();
        using var backbone = new ResNetBackbone(modelDirectory);
        string[] files = DevPhotos.List(dataDirectory);
        Console.Error.WriteLine($"Backbone features of {files.Length} photos...");
        float[][] features = DevPhotos.Features(backbone, loader, files);

        var x = Matrix<double>.Build.Dense(files.Length, ResNetBackbone.FeatureDimension,
            (i, j) => features[i][j] / Norm(features[i]));
        Vector<double> mean = x.ColumnSums() / files.Length;
        var centred = Matrix<double>.Build.Dense(x.RowCount, x.ColumnCount, (i, j) => x[i, j] - mean[j]);
        var covariance = centred.TransposeThisAndMultiply(centred) / files.Length;
        var evd = covariance.Evd(Symmetricity.Symmetric);
        // Eigenvalues come in ascending order: the last columns are the principal axes.
        var projection = new float[dimension * ResNetBackbone.FeatureDimension];
        for (int k = 0; k < dimension; k++)
        {
            int column = ResNetBackbone.FeatureDimension - 1 - k;
            for (int j = 0; j < ResNetBackbone.FeatureDimension; j++)
            {
                projection[k * ResNetBackbone.FeatureDimension + j] = (float)evd.EigenVectors[j, column];
            }
        }
        double kept = evd.EigenValues.Skip(ResNetBackbone.FeatureDimension - dimension).Sum(v => v.Real)
            / evd.EigenValues.Sum(v => v.Real);
        Console.Error.WriteLine($"PCA keeps {kept:P1} of the variance.");

        float[] meanF = mean.Select(v => (float)v).ToArray();
        var head = new HouseModel
        {
            Name = "resnet18-pca128", Id = "", InputDimension = ResNetBackbone.FeatureDimension, Dimension = dimension,
            DuplicateThreshold = 0, Mean = meanF, Projection = projection,
        };
        double threshold = Calibration.Threshold(files, features, f => head.Project(f), backbone, loader);
        HouseModel.Save(outDirectory, head.Name, "pca", HouseEmbedder.Preprocess, threshold, meanF, projection, dimension);
        Console.WriteLine($"Wrote {outDirectory}/head.json (threshold {threshold:F4}).");
        return 0;
    }

    private static double Norm(float[] v) => Math.Sqrt(v.Sum(a => (double)a * a));
}
