using HouseSimilarity.Embedding;
using HouseSimilarity.Tools;

// Developer tools: fit the model head, make the sample photos, run the benchmarks.
string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

string data = Arg("--data", Path.Combine("..", "shared", "data", "houses"));
string models = Arg("--models", HouseEmbedder.DefaultModelDirectory);
return args.FirstOrDefault() switch
{
    "fit-pca" => FitPca.Run(data, models, Arg("--out", "models")),
    "make-samples" => MakeSamples.Run(data, Arg("--out", Path.Combine("out", "samples"))),
    "bench-inference" => BenchInference.Run(data, models, int.Parse(Arg("--count", "1200"))),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: hstool <command> [options]
          fit-pca       --data <photos> --out <models dir>   fit the PCA head and calibrate the duplicate threshold
          make-samples  --data <samples> --out <dir>         copy the sample photos and write edited copies
          bench-inference --data <photos> [--count N]        bare inference throughput (decoded photos in memory)
        """);
    return 2;
}
