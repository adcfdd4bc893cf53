using HouseSimilarity.Tools;

namespace HouseSimilarity.Tests;

public sealed class HeadTrainerTests
{
    private static float[][] Vectors(Random rng, int count, int d) =>
        Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, d).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray()).ToArray();

    [Fact]
    public void Siamese_loss_gradient_matches_numeric_differentiation()
    {
        var rng = new Random(11);
        int d = 12, dimension = 5;
        float[][] anchors = Vectors(rng, 6, d);
        float[][] positives = anchors.Select(a => a.Select(v => v + (float)(rng.NextDouble() - 0.5) * 0.4f).ToArray()).ToArray();
        float[] w = Vectors(rng, 1, dimension * d)[0];
        int[] rooms = [0, 1, 0, 2, 1, 0];
        const double temperature = 0.2;
        (double Loss, float[] Gradient) Evaluate(float[] weights) =>
            HeadTrainer.LossAndGradient(weights, dimension, anchors, positives, temperature, rooms, roomWeight: 0.7, roomTemperature: 0.3);

        var (_, gradient) = Evaluate(w);
        for (int k = 0; k < w.Length; k += 3)
        {
            const float step = 1e-2f;
            float[] plus = (float[])w.Clone(), minus = (float[])w.Clone();
            plus[k] += step;
            minus[k] -= step;
            double numeric = (Evaluate(plus).Loss - Evaluate(minus).Loss) / (2 * step);
            Assert.True(Math.Abs(numeric - gradient[k]) <= 2e-3 + 0.03 * Math.Abs(numeric),
                $"weight {k}: numeric {numeric:G5}, analytic {gradient[k]:G5}");
        }
    }

    [Fact]
    public void Training_is_deterministic_for_a_seed_and_lowers_the_loss()
    {
        var rng = new Random(12);
        int d = 16;
        float[][] originals = Vectors(rng, 40, d).Select(Unit).ToArray();
        int[] source = Enumerable.Range(0, 80).Select(i => i % 40).ToArray();
        float[][] edits = source.Select(s => Unit(originals[s].Select(v => v + (float)(rng.NextDouble() - 0.5) * 0.5f).ToArray())).ToArray();
        int[] groups = Enumerable.Range(0, 40).ToArray();
        var options = new HeadTrainer.Options(Dimension: 8, Epochs: 15, BatchSize: 16, LearningRate: 1e-2, Temperature: 0.1, Seed: 5);

        var start = HeadTrainer.LearnedWhitening(originals, edits, source, 3, options);
        var losses = new List<double>();
        int[] rooms = Enumerable.Range(0, 40).Select(i => i % 4).ToArray();
        var a = HeadTrainer.FineTune(start, originals, groups, rooms, edits, source, options, (_, loss) => losses.Add(loss));
        var b = HeadTrainer.FineTune(start, originals, groups, rooms, edits, source, options);
        Assert.Equal(a.Projection, b.Projection);
        Assert.True(losses[^1] < losses[0] * 0.9, $"loss went from {losses[0]:F4} to {losses[^1]:F4}");
    }

    private static float[] Unit(float[] v)
    {
        VectorMath.Normalize(v);
        return v;
    }
}
