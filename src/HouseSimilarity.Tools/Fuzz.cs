using System.Diagnostics;
using System.Security.Cryptography;
using HouseSimilarity.Embedding;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Bmp;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tga;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Formats.Webp;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace HouseSimilarity.Tools;

/// <summary>
/// Seeded mutation fuzzing of the path every photo takes (decode, limits, orientation, resize, inference): small seed
/// files of every format the module reads are mutated (bit flips, boundary values, inserted, removed and repeated
/// chunks, truncation, splices of two seeds) and embedded. A case may embed or be refused with a HouseImageException;
/// anything else, a case that runs past the time bound, or memory over the limit is a finding, saved for replay.
/// </summary>
internal static class Fuzz
{
    public sealed record Options(string Corpus, string Findings, int Cases, TimeSpan Budget, int Seed,
        TimeSpan CaseLimit, long MemoryLimitBytes);

    public sealed record Report(int Seed, int Cases, int Embedded, IReadOnlyDictionary<ImageFailure, int> Refused,
        IReadOnlyList<string> Findings, long PeakWorkingSetBytes, TimeSpan Elapsed)
    {
        public override string ToString() =>
            $"fuzz: {Cases} cases in {Elapsed.TotalSeconds:F0} s (seed {Seed}): {Embedded} embedded, " +
            $"{Refused.Values.Sum()} refused ({string.Join(", ", Refused.OrderBy(r => r.Key).Select(r => $"{r.Key} {r.Value}"))}), " +
            $"{Findings.Count} findings, peak working set {PeakWorkingSetBytes >> 20} MiB";
    }

    /// <summary>hstool fuzz: exit code 1 when there is a finding.</summary>
    public static int Command(string model, Options options)
    {
        using var embedder = new HouseEmbedder(model);
        var report = Run(embedder, options, Console.Out);
        Console.WriteLine(report);
        foreach (string finding in report.Findings)
        {
            Console.WriteLine($"finding: {finding}");
        }
        return report.Findings.Count == 0 ? 0 : 1;
    }

    public static Report Run(HouseEmbedder embedder, Options options, TextWriter log)
    {
        var seeds = Directory.GetFiles(options.Corpus).Where(f => !f.EndsWith(".md", StringComparison.Ordinal))
            .OrderBy(f => f, StringComparer.Ordinal).Select(f => (Extension: Path.GetExtension(f), Bytes: File.ReadAllBytes(f))).ToArray();
        if (seeds.Length == 0)
        {
            throw new InvalidOperationException($"No seed files in {options.Corpus}.");
        }
        Directory.CreateDirectory(options.Findings);
        string scratch = Path.Combine(Path.GetTempPath(), $"housesim-fuzz-{Environment.ProcessId}");
        Directory.CreateDirectory(scratch);
        // Before each case its bytes are written here, so that a case that kills the process is left to replay.
        string current = Path.Combine(options.Findings, "current-case");
        var rng = new Random(options.Seed);
        var refused = new Dictionary<ImageFailure, int>();
        var findings = new List<string>();
        int embedded = 0, cases = 0;
        using var process = Process.GetCurrentProcess();
        var clock = Stopwatch.StartNew();
        try
        {
            for (; cases < options.Cases && clock.Elapsed < options.Budget; cases++)
            {
                var (extension, seed) = seeds[rng.Next(seeds.Length)];
                byte[] bytes = Mutate(seed, seeds[rng.Next(seeds.Length)].Bytes, rng);
                string file = Path.Combine(scratch, $"case{extension}");
                File.WriteAllBytes(file, bytes);
                File.WriteAllBytes(current + extension, bytes);
                var work = Task.Run(() => embedder.Embed(file));
                string? problem = null;
                if (!work.ContinueWith(_ => { }, TaskScheduler.Default).Wait(options.CaseLimit))
                {
                    problem = $"ran past {options.CaseLimit.TotalSeconds:F0} s";
                }
                else if (work.Exception?.InnerException is HouseImageException refusal)
                {
                    refused[refusal.Failure] = refused.GetValueOrDefault(refusal.Failure) + 1;
                }
                else if (work.Exception?.InnerException is { } crash)
                {
                    problem = crash.ToString();
                }
                else if (HouseRecordCheck.VectorProblem(work.Result.Vector, embedder.Model.Dimension) is { } bad)
                {
                    problem = $"embedded as a bad vector: {bad}";
                }
                else
                {
                    embedded++;
                }
                process.Refresh();
                if (problem is null && process.WorkingSet64 > options.MemoryLimitBytes)
                {
                    problem = $"working set {process.WorkingSet64 >> 20} MiB, over the limit of {options.MemoryLimitBytes >> 20} MiB";
                }
                File.Delete(current + extension);
                if (problem is not null)
                {
                    string name = $"finding-{Convert.ToHexStringLower(SHA256.HashData(bytes))[..12]}{extension}";
                    File.WriteAllBytes(Path.Combine(options.Findings, name), bytes);
                    File.WriteAllText(Path.Combine(options.Findings, name + ".txt"), problem);
                    findings.Add($"{name}: {problem.Split('\n')[0]}");
                    log.WriteLine($"case {cases}: {findings[^1]}");
                    if (!work.IsCompleted)
                    {
                        break; // the stuck case still runs: end here rather than measure beside it
                    }
                }
            }
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
        process.Refresh();
        return new Report(options.Seed, cases, embedded, refused, findings, process.PeakWorkingSet64, clock.Elapsed);
    }

    /// <summary>One to three mutations of <paramref name="seed"/>; <paramref name="other"/> is the second half of a splice.</summary>
    internal static byte[] Mutate(byte[] seed, byte[] other, Random rng)
    {
        var data = new List<byte>(seed);
        int mutations = 1 + rng.Next(3);
        for (int m = 0; m < mutations && data.Count > 0; m++)
        {
            int at = rng.Next(data.Count);
            switch (rng.Next(8))
            {
                case 0: // flip a few bits
                    for (int i = 0, n = 1 + rng.Next(8); i < n; i++)
                    {
                        int p = rng.Next(data.Count);
                        data[p] ^= (byte)(1 << rng.Next(8));
                    }
                    break;
                case 1: // a boundary value, most harmful in headers (dimensions, lengths, counts)
                    byte[] values = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE];
                    int headerAt = rng.Next(2) == 0 ? rng.Next(Math.Min(data.Count, 512)) : at;
                    for (int i = 0, n = 1 + rng.Next(4); i < n && headerAt + i < data.Count; i++)
                    {
                        data[headerAt + i] = values[rng.Next(values.Length)];
                    }
                    break;
                case 2: // random bytes inserted
                    data.InsertRange(at, Enumerable.Range(0, 1 + rng.Next(64)).Select(_ => (byte)rng.Next(256)));
                    break;
                case 3: // a chunk removed
                    data.RemoveRange(at, Math.Min(data.Count - at, 1 + rng.Next(256)));
                    break;
                case 4: // a chunk repeated
                    int length = Math.Min(data.Count - at, 1 + rng.Next(512));
                    data.InsertRange(at, data.GetRange(at, length));
                    break;
                case 5: // cut short
                    data.RemoveRange(at, data.Count - at);
                    break;
                case 6: // a 16- or 32-bit field set large (big endian and little endian alike)
                    uint big = rng.Next(3) switch { 0 => 0xFFFF, 1 => 0x7FFFFFFF, _ => (uint)rng.Next(1 << 16, int.MaxValue) };
                    for (int i = 0; i < 4 && at + i < data.Count; i++)
                    {
                        data[at + i] = (byte)(big >> (8 * (rng.Next(2) == 0 ? i : 3 - i)));
                    }
                    break;
                default: // splice: the start of this file, the end of another
                    int from = rng.Next(other.Length);
                    data.RemoveRange(at, data.Count - at);
                    data.AddRange(other.AsSpan(from).ToArray());
                    break;
            }
        }
        return data.ToArray();
    }

    /// <summary>
    /// Writes the seed corpus: one small photo in every format and variant the module reads (baseline JPEG, JPEG with
    /// EXIF orientation, PNG as RGB, RGBA, 16-bit, palette and grey, GIF, BMP, TIFF, WebP lossy and lossless, TGA).
    /// </summary>
    public static int MakeCorpus(string photo, string corpus)
    {
        Directory.CreateDirectory(corpus);
        using var source = Image.Load<Rgba32>(photo);
        source.Mutate(x => x.Resize(96, 64));
        void Save(string name, IImageEncoder encoder, Image? image = null) =>
            (image ?? source).Save(Path.Combine(corpus, name), encoder);
        Save("baseline.jpg", new JpegEncoder { Quality = 85 });
        using (var oriented = source.Clone())
        {
            oriented.Metadata.ExifProfile = new ExifProfile();
            oriented.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
            Save("orientation6.jpg", new JpegEncoder { Quality = 85 }, oriented);
        }
        Save("rgb.png", new PngEncoder { ColorType = PngColorType.Rgb });
        using (var alpha = source.Clone())
        {
            alpha.ProcessPixelRows(rows =>
            {
                for (int y = 0; y < rows.Height; y++)
                {
                    foreach (ref var pixel in rows.GetRowSpan(y))
                    {
                        pixel.A = (byte)(y * 255 / rows.Height);
                    }
                }
            });
            Save("alpha.png", new PngEncoder { ColorType = PngColorType.RgbWithAlpha }, alpha);
        }
        Save("deep.png", new PngEncoder { ColorType = PngColorType.Rgb, BitDepth = PngBitDepth.Bit16 });
        Save("palette.png", new PngEncoder { ColorType = PngColorType.Palette });
        Save("grey.png", new PngEncoder { ColorType = PngColorType.Grayscale });
        Save("frame.gif", new GifEncoder());
        Save("plain.bmp", new BmpEncoder());
        Save("plain.tiff", new TiffEncoder());
        Save("lossy.webp", new WebpEncoder { FileFormat = WebpFileFormatType.Lossy, Quality = 80 });
        Save("lossless.webp", new WebpEncoder { FileFormat = WebpFileFormatType.Lossless });
        Save("plain.tga", new TgaEncoder());
        Console.WriteLine($"{corpus}: {Directory.GetFiles(corpus).Length} seed files");
        return 0;
    }
}
