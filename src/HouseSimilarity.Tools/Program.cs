using System.Globalization;
using HouseSimilarity.Embedding;
using HouseSimilarity.Tools;

// Developer tools: fit the model head, make the sample photos, run the benchmarks.
string Arg(string name, string fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

string data = Arg("--data", Path.Combine("..", "shared", "data", "houses"));
string models = Arg("--models", Path.Combine(AppContext.BaseDirectory, "models"));
string cache = Arg("--cache", Path.Combine("out", "cache"));
var options = new HeadTrainer.Options(
    Shrinkage: double.Parse(Arg("--shrinkage", "0.1"), CultureInfo.InvariantCulture),
    Epochs: int.Parse(Arg("--epochs", "30"), CultureInfo.InvariantCulture),
    LearningRate: double.Parse(Arg("--lr", "0.001"), CultureInfo.InvariantCulture),
    Temperature: double.Parse(Arg("--temperature", "0.3"), CultureInfo.InvariantCulture),
    RoomWeight: double.Parse(Arg("--room-weight", "0.05"), CultureInfo.InvariantCulture),
    Seed: int.Parse(Arg("--seed", "1"), CultureInfo.InvariantCulture));
float gem = float.Parse(Arg("--gem", "3"), CultureInfo.InvariantCulture);
string? threshold = Arg("--threshold", "") is { Length: > 0 } t ? t : null;
return args.FirstOrDefault() switch
{
    // The defaults are the shipped head's settings (models/MODEL.md).
    "train" => Train.Run(data, models, Arg("--out", "models"), Arg("--kind", "rs-siamese"), gem,
        int.Parse(Arg("--edits", "8"), CultureInfo.InvariantCulture), options,
        threshold is null ? null : double.Parse(threshold, CultureInfo.InvariantCulture), cache),
    "tune" => Tune.Run(data, models, int.Parse(Arg("--edits", "8"), CultureInfo.InvariantCulture), options, cache,
        Arg("--variants", "pca:1,whitening:1,whitening:3,siamese:3").Split(',')),
    "compare" => CompareHeads.Run(data, models, Arg("--head", "models"), int.Parse(Arg("--edits", "8"), CultureInfo.InvariantCulture), options, cache),
    "compose" => Compose(models, Arg("--out", Path.Combine("out", HouseEmbedder.ModelFileName))),
    "make-samples" => MakeSamples.Run(data, Arg("--out", Path.Combine("out", "samples"))),
    "bench-inference" => BenchInference.Run(data, Arg("--model", Path.Combine("out", "HouseSimilarity", "bin", "models", HouseEmbedder.ModelFileName)),
        models, int.Parse(Arg("--count", "1200"))),
    "make-large-photos" => LargePhotos.Run(data, Arg("--out", Path.Combine("out", "bench", "large")), int.Parse(Arg("--count", "60"), CultureInfo.InvariantCulture)),
    "bench-decode" => BenchDecode.Run(Arg("--photos", Path.Combine("out", "bench", "large")), int.Parse(Arg("--repeat", "3"), CultureInfo.InvariantCulture)),
    "quality" => QualityBenchmark.Command(Arg("--out", ""), () => { using var e = new HouseEmbedder(Path.Combine(models, HouseEmbedder.ModelFileName)); return QualityBenchmark.Run(data, int.Parse(Arg("--first", "241")), int.Parse(Arg("--last", "300")), p => e.Embed(p).Vector, e.Model.DuplicateThreshold, e.Model.Id); }),
    "calibrate" => CalibrateDuplicates.Run(data, models, Arg("--out", Path.Combine("models", DuplicateCalibration.FileName)),
        int.Parse(Arg("--first", "241"), CultureInfo.InvariantCulture), int.Parse(Arg("--last", "300"), CultureInfo.InvariantCulture),
        Arg("--prior", "") is { Length: > 0 } prior ? double.Parse(prior, CultureInfo.InvariantCulture) : null,
        Arg("--vectors", "") is { Length: > 0 } vectors ? vectors : null),
    "battery-export" => BatteryExport.Run(data, models, Arg("--out", Path.Combine("out", "bench", "battery.bin")),
        int.Parse(Arg("--first", "241"), CultureInfo.InvariantCulture), int.Parse(Arg("--last", "300"), CultureInfo.InvariantCulture),
        Arg("--vectors", "") is { Length: > 0 } cached ? cached : null),
    "fuzz" => Fuzz.Command(Arg("--model", Path.Combine("out", "HouseSimilarity", "bin", "models", HouseEmbedder.ModelFileName)),
        new Fuzz.Options(Arg("--corpus", Path.Combine("tests", "fuzz", "corpus")), Arg("--findings", Path.Combine("out", "fuzz")),
            int.Parse(Arg("--cases", "2000"), CultureInfo.InvariantCulture),
            TimeSpan.FromSeconds(double.Parse(Arg("--seconds", "150"), CultureInfo.InvariantCulture)),
            int.Parse(Arg("--seed", Random.Shared.Next(1_000_000).ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture),
            TimeSpan.FromSeconds(20), long.Parse(Arg("--memory-mib", "2048"), CultureInfo.InvariantCulture) << 20)),
    "make-fuzz-corpus" => Fuzz.MakeCorpus(Arg("--photo", Path.Combine("samples", "houses", "241_frontal.jpg")), Arg("--out", Path.Combine("tests", "fuzz", "corpus"))),
    "make-help" => HelpBuilder.Run(Arg("--docs", "docs"), Arg("--out", Path.Combine("out", "HouseSimilarity", "en-US", "HouseSimilarity.dll-Help.xml")),
        Arg("--assembly", ""), Arg("--manifest", "")),
    _ => Usage(),
};

static int Compose(string models, string output)
{
    Console.WriteLine($"{output}: {HeadFile.Compose(models, output)}");
    // The module checks its model against this before loading it.
    HouseEmbedder.WriteHash(output);
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("""
        usage: hstool <command> [options]
          train         --data <photos> --out <models dir>   fit the head on houses 1..240 (--kind [rs-]siamese|whitening|pca,
                        --gem p, --edits n, --epochs, --lr, --temperature, --room-weight, --shrinkage, --seed, --threshold)
          tune          --data <photos> --variants kind:gem[:epochs:temperature:lr:shrinkage:roomWeight:roomTemperature],...
                        fit on houses 1..200, score on the battery edits of 201..240
          compare       --data <photos> --head <models dir>  raw backbone, PCA, whitening and the shipped head on houses 241..300
          compose       --models <dir> --out <house.onnx>   compose backbone + head into the module's model
          make-samples  --data <samples> --out <dir>         copy the sample photos and write edited copies
          bench-inference --data <photos> --model <house.onnx> [--count N]  bare inference throughput (decoded photos in memory)
          make-large-photos --data <photos> --out out/bench/large [--count 60]   camera-sized JPEG/PNG copies (12 and 24 MP, EXIF orientation)
          bench-decode  --photos <dir> [--repeat 3]   decode + resize to 224 on one core: ImageSharp, SkiaSharp, NetVips, the module's loader
          quality       --data <photos> [--first 241 --last 300] [--out file.md]   retrieval-quality benchmark (markdown table)
          calibrate     --data <photos> --models <dir of house.onnx> --out models/calibration.json [--first 241 --last 300]
                        [--prior p] [--vectors cache.bin]   P(duplicate | distance) and the false pair rate by distance (markdown tables)
          battery-export --data <photos> --models <dir of house.onnx> --out <file> [--first 241 --last 300 --vectors <cache>]
                        the validation photos and their edited copies as labelled vectors (bench/Invoke-DuplicateBenchmark.ps1)
          fuzz          [--corpus tests/fuzz/corpus --findings out/fuzz --cases 2000 --seconds 150 --seed n --memory-mib 2048]
                        mutated seed photos through decode and embed; exit code 1 with a finding (saved for replay)
          make-fuzz-corpus [--photo <jpg> --out tests/fuzz/corpus]   the seed files: one small photo per format and variant
          make-help     --docs <docs dir> --out <module>/en-US/HouseSimilarity.dll-Help.xml [--assembly <dll>] [--manifest <psd1>]
                        MAML help from docs/<Cmdlet>.md and the cmdlets' metadata (default: <module>/bin, <module>/*.psd1)
        """);
    return 2;
}
