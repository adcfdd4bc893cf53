using System.Numerics.Tensors;
using HouseSimilarity.Embedding.Onnx;
using MathNet.Numerics.LinearAlgebra;

namespace HouseSimilarity.Tools;

/// <summary>
/// Fits the Siamese head: both twins (an original and its edited copy) go through the same weights, so the
/// head is one linear map W (128 x 512) on centred, L2-normalised GeM descriptors, followed by L2 normalisation.
/// Step 1 is closed-form learned whitening from matching pairs (Radenovic et al. 2018); step 2 fine-tunes W
/// with a symmetric InfoNCE loss over in-batch negatives (every other photo of the batch), optimised by Adam.
/// </summary>
internal static class HeadTrainer
{
    /// <param name="RoomWeight">Weight of the room-type term: originals of the same room type (a weak label of
    /// "similar") are pulled together, so the head does not buy duplicate recall by scattering similar houses.</param>
    public sealed record Options(int Dimension = 128, double Shrinkage = 0.1, int Epochs = 30, int BatchSize = 128,
        double LearningRate = 1e-3, double Temperature = 0.05, double RoomWeight = 0, double RoomTemperature = 0.1, int Seed = 1);

    /// <summary>
    /// Learned whitening: whiten by the covariance of differences between matching pairs (so the directions
    /// that edits move are damped), then keep the leading principal directions of the whitened photos.
    /// </summary>
    public static HeadWeights LearnedWhitening(float[][] originals, float[][] edits, int[] editSource, float gemPower, Options options)
    {
        int d = originals[0].Length;
        var all = originals.Concat(edits).ToArray();
        var mean = Vector<double>.Build.Dense(d, j => all.Average(x => (double)x[j]));

        var differences = Matrix<double>.Build.Dense(edits.Length, d, (i, j) => edits[i][j] - originals[editSource[i]][j]);
        var intra = differences.TransposeThisAndMultiply(differences) / edits.Length;
        // Shrinkage towards the average eigenvalue keeps rare directions from being blown up.
        double average = intra.Trace() / d;
        intra += Matrix<double>.Build.DenseIdentity(d) * (options.Shrinkage * average);
        var intraEvd = intra.Evd(Symmetricity.Symmetric);
        var whitening = intraEvd.EigenVectors * Matrix<double>.Build.DenseOfDiagonalArray(
            intraEvd.EigenValues.Select(v => 1 / Math.Sqrt(v.Real)).ToArray()) * intraEvd.EigenVectors.Transpose();

        var centred = Matrix<double>.Build.Dense(originals.Length, d, (i, j) => originals[i][j] - mean[j]);
        var whitened = centred * whitening;
        var spread = whitened.TransposeThisAndMultiply(whitened) / originals.Length;
        var spreadEvd = spread.Evd(Symmetricity.Symmetric);
        // Eigenvalues come in ascending order: the last columns are the leading directions.
        var leading = spreadEvd.EigenVectors.SubMatrix(0, d, d - options.Dimension, options.Dimension);
        var projection = leading.TransposeThisAndMultiply(whitening.Transpose());
        // Unit-length rows keep the scale sane for fine-tuning; the output is normalised anyway.
        var rows = projection.NormalizeRows(2.0);
        return new HeadWeights(gemPower, mean.Select(v => (float)v).ToArray(),
            Enumerable.Range(0, options.Dimension * d).Select(k => (float)rows[k / d, k % d]).ToArray(), options.Dimension);
    }

    /// <summary>Fine-tunes W with symmetric InfoNCE: each original must pick out its own edit among the batch's, and back.</summary>
    public static HeadWeights FineTune(HeadWeights start, float[][] originals, int[] groups, int[] rooms, float[][] edits, int[] editSource,
        Options options, Action<int, double>? report = null)
    {
        var rng = new Random(options.Seed);
        float[] w = (float[])start.Projection.Clone();
        var adam = new Adam(w.Length, options.LearningRate);
        var editsOf = Enumerable.Range(0, originals.Length).Select(o => new List<int>()).ToArray();
        for (int e = 0; e < edits.Length; e++) editsOf[editSource[e]].Add(e);
        float[][] centredOriginals = originals.Select(x => Centre(x, start.Mean)).ToArray();
        float[][] centredEdits = edits.Select(x => Centre(x, start.Mean)).ToArray();

        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            int[] order = Enumerable.Range(0, originals.Length).OrderBy(_ => rng.Next()).ToArray();
            double total = 0;
            int batches = 0;
            for (int b = 0; b + 2 <= order.Length; b += options.BatchSize)
            {
                // One photo per duplicate group, so no in-batch negative is secretly a positive.
                var batch = order.Skip(b).Take(options.BatchSize).GroupBy(o => groups[o]).Select(g => g.First()).ToArray();
                var anchors = batch.Select(o => centredOriginals[o]).ToArray();
                var positives = batch.Select(o => centredEdits[editsOf[o][rng.Next(editsOf[o].Count)]]).ToArray();
                int[] batchRooms = batch.Select(o => rooms[o]).ToArray();
                var (loss, gradient) = LossAndGradient(w, start.Dimension, anchors, positives, options.Temperature,
                    batchRooms, options.RoomWeight, options.RoomTemperature);
                adam.Step(w, gradient);
                total += loss;
                batches++;
            }
            report?.Invoke(epoch, total / Math.Max(batches, 1));
        }
        return start with { Projection = w };
    }

    public static float[] Centre(float[] x, float[] mean)
    {
        var c = new float[x.Length];
        TensorPrimitives.Subtract(x, mean, c);
        return c;
    }

    /// <summary>
    /// Symmetric InfoNCE of a batch and its gradient with respect to W (row-major dimension x input).
    /// z = W x / |W x|; logits s_ij = z_i . z'_j / tau; loss = mean over rows and columns of cross-entropy with the diagonal.
    /// Plus, with a room weight, a supervised contrastive term among the anchors: each anchor's softmax over the
    /// other anchors should put its mass on those of the same room type.
    /// </summary>
    public static (double Loss, float[] Gradient) LossAndGradient(float[] w, int dimension, float[][] anchors, float[][] positives,
        double temperature, int[]? rooms = null, double roomWeight = 0, double roomTemperature = 0.1)
    {
        int n = anchors.Length, d = anchors[0].Length;
        var (za, ya, na) = Forward(w, dimension, anchors);
        var (zp, yp, np) = Forward(w, dimension, positives);
        var logits = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                logits[i, j] = TensorPrimitives.Dot(za[i], zp[j]) / temperature;

        double loss = 0;
        var g = new double[n, n];   // dLoss / dlogits
        for (int i = 0; i < n; i++)
        {
            loss += SoftmaxRow(logits, i, g, rows: true, 1.0 / (2 * n));
            loss += SoftmaxRow(logits, i, g, rows: false, 1.0 / (2 * n));
        }

        var gradZa = new float[n][];
        var gradZp = new float[n][];
        for (int i = 0; i < n; i++)
        {
            gradZa[i] = new float[dimension];
            gradZp[i] = new float[dimension];
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                float s = (float)(g[i, j] / temperature);
                TensorPrimitives.MultiplyAdd(zp[j], s, gradZa[i], gradZa[i]);
                TensorPrimitives.MultiplyAdd(za[i], s, gradZp[j], gradZp[j]);
            }

        if (rooms is not null && roomWeight > 0)
        {
            loss += RoomTerm(za, rooms, roomWeight, roomTemperature, gradZa);
        }

        var gradient = new float[w.Length];
        Backward(gradient, d, za, na, gradZa, anchors);
        Backward(gradient, d, zp, np, gradZp, positives);
        return (loss, gradient);
    }

    /// <summary>Supervised contrastive loss over room types among the anchors; adds its gradient to gradZ.</summary>
    private static double RoomTerm(float[][] z, int[] rooms, double weight, double temperature, float[][] gradZ)
    {
        int n = z.Length;
        int anchors = Enumerable.Range(0, n).Count(i => Enumerable.Range(0, n).Any(j => j != i && rooms[j] == rooms[i]));
        if (anchors == 0)
        {
            return 0;
        }
        double loss = 0, scale = weight / anchors;
        var logits = new double[n];
        for (int i = 0; i < n; i++)
        {
            int same = Enumerable.Range(0, n).Count(j => j != i && rooms[j] == rooms[i]);
            if (same == 0) continue;
            double max = double.MinValue;
            for (int j = 0; j < n; j++)
            {
                logits[j] = j == i ? double.NegativeInfinity : TensorPrimitives.Dot(z[i], z[j]) / temperature;
                max = Math.Max(max, logits[j]);
            }
            double sum = 0;
            for (int j = 0; j < n; j++) sum += j == i ? 0 : Math.Exp(logits[j] - max);
            double logSum = Math.Log(sum) + max;
            for (int j = 0; j < n; j++)
            {
                if (j == i) continue;
                bool positive = rooms[j] == rooms[i];
                if (positive) loss -= (logits[j] - logSum) / same * scale;
                float g = (float)((Math.Exp(logits[j] - logSum) - (positive ? 1.0 / same : 0)) * scale / temperature);
                TensorPrimitives.MultiplyAdd(z[j], g, gradZ[i], gradZ[i]);
                TensorPrimitives.MultiplyAdd(z[i], g, gradZ[j], gradZ[j]);
            }
        }
        return loss;
    }

    /// <summary>Adds one row's (or column's) softmax cross-entropy against the diagonal; returns its loss share.</summary>
    private static double SoftmaxRow(double[,] logits, int k, double[,] g, bool rows, double scale)
    {
        int n = logits.GetLength(0);
        double max = double.MinValue;
        for (int j = 0; j < n; j++) max = Math.Max(max, rows ? logits[k, j] : logits[j, k]);
        double sum = 0;
        for (int j = 0; j < n; j++) sum += Math.Exp((rows ? logits[k, j] : logits[j, k]) - max);
        for (int j = 0; j < n; j++)
        {
            double p = Math.Exp((rows ? logits[k, j] : logits[j, k]) - max) / sum - (j == k ? 1 : 0);
            if (rows) g[k, j] += p * scale; else g[j, k] += p * scale;
        }
        return (Math.Log(sum) + max - logits[k, k]) * scale;
    }

    private static (float[][] Z, float[][] Y, float[] Norm) Forward(float[] w, int dimension, float[][] x)
    {
        int d = x[0].Length;
        var z = new float[x.Length][];
        var y = new float[x.Length][];
        var norm = new float[x.Length];
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = new float[dimension];
            for (int r = 0; r < dimension; r++) y[i][r] = TensorPrimitives.Dot(w.AsSpan(r * d, d), x[i]);
            norm[i] = TensorPrimitives.Norm(y[i]);
            z[i] = new float[dimension];
            TensorPrimitives.Divide(y[i], norm[i], z[i]);
        }
        return (z, y, norm);
    }

    /// <summary>Through z = y/|y| (dy = (dz - z (z . dz)) / |y|) and y = W x (dW += dy x^T).</summary>
    private static void Backward(float[] gradient, int d, float[][] z, float[] norm, float[][] gradZ, float[][] x)
    {
        for (int i = 0; i < z.Length; i++)
        {
            float along = TensorPrimitives.Dot(z[i], gradZ[i]);
            for (int r = 0; r < z[i].Length; r++)
            {
                float dy = (gradZ[i][r] - z[i][r] * along) / norm[i];
                TensorPrimitives.MultiplyAdd(x[i], dy, gradient.AsSpan(r * d, d), gradient.AsSpan(r * d, d));
            }
        }
    }

    private sealed class Adam(int size, double learningRate)
    {
        private readonly double[] _m = new double[size], _v = new double[size];
        private int _t;

        public void Step(float[] w, float[] gradient)
        {
            const double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
            _t++;
            double c1 = 1 - Math.Pow(beta1, _t), c2 = 1 - Math.Pow(beta2, _t);
            for (int k = 0; k < w.Length; k++)
            {
                _m[k] = beta1 * _m[k] + (1 - beta1) * gradient[k];
                _v[k] = beta2 * _v[k] + (1 - beta2) * gradient[k] * gradient[k];
                w[k] -= (float)(learningRate * (_m[k] / c1) / (Math.Sqrt(_v[k] / c2) + epsilon));
            }
        }
    }
}
