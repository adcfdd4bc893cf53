using System.Diagnostics;
using HouseSimilarity.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;
using SkiaSharp;

namespace HouseSimilarity.Tools;

/// <summary>
/// Decode + resize to the model's 224x224 on one core, the candidates side by side on the same photos (file bytes read
/// beforehand, so only decoding is timed): ImageSharp as the module decoded before (Identify, truncation scan, full
/// decode, orient, resize), SkiaSharp's codec with its scaled decode, libvips' thumbnail (shrink-on-load), and the
/// module's loader as it is now. Prints one markdown row per candidate and kind of photo.
/// </summary>
internal static class BenchDecode
{
    private const int Size = HouseImageLoader.InputSize;

    public static int Run(string photos, int repeat)
    {
        string[] files = Directory.GetFiles(photos).Where(f => HouseImageLoader.Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .OrderBy(f => f, StringComparer.Ordinal).ToArray();
        if (files.Length == 0)
        {
            throw new InvalidOperationException($"No photos in '{photos}'.");
        }
        NetVips.Cache.Max = 0;
        NetVips.NetVips.Concurrency = 1;
        var loader = new HouseImageLoader();
        var pixels = new float[3 * Size * Size];
        var candidates = new (string Name, Func<string, byte[], int> Decode)[]
        {
            ("ImageSharp 2.1.13, full decode (the module before)", (_, bytes) => ImageSharpFull(bytes)),
            ("SkiaSharp 3.119.4, SKCodec scaled decode + resize", (_, bytes) => Skia(bytes)),
            ("NetVips 3.2.0 / libvips 8.18.7, thumbnail (shrink-on-load)", (_, bytes) => Vips(bytes)),
            ("the module's loader now (SkiaSharp, streamed rows, file hash)", (path, _) => loader.Load(path, pixels).Width),
        };
        var groups = files.GroupBy(Kind).OrderBy(g => g.Key).ToArray();
        Console.WriteLine($"| candidate | {string.Join(" | ", groups.Select(g => $"{g.Key} ({g.Count()}), ms/photo"))} |");
        Console.WriteLine($"|---|{string.Concat(groups.Select(_ => "---|"))}");
        var process = Process.GetCurrentProcess();
        foreach (var (name, decode) in candidates)
        {
            var cells = new List<string>();
            foreach (var group in groups)
            {
                var bytes = group.Select(File.ReadAllBytes).ToArray();
                var paths = group.ToArray();
                for (int i = 0; i < Math.Min(2, paths.Length); i++) decode(paths[i], bytes[i]); // warm-up
                var times = new List<double>();
                for (int r = 0; r < repeat; r++)
                {
                    for (int i = 0; i < paths.Length; i++)
                    {
                        long start = Stopwatch.GetTimestamp();
                        if (decode(paths[i], bytes[i]) <= 0) throw new InvalidOperationException($"{name} decoded nothing from {paths[i]}");
                        times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    }
                }
                times.Sort();
                double median = times[times.Count / 2];
                if (!double.IsFinite(median) || median <= 0) throw new InvalidOperationException($"{name}: no timing for {group.Key}");
                cells.Add($"{median:F1} (mean {times.Average():F1})");
            }
            Console.WriteLine($"| {name} | {string.Join(" | ", cells)} |");
        }
        process.Refresh();
        Console.WriteLine($"peak_working_set_mib={process.PeakWorkingSet64 >> 20}");
        return 0;
    }

    private static string Kind(string path)
    {
        string ext = Path.GetExtension(path).ToLowerInvariant();
        using var stream = File.OpenRead(path);
        var info = Image.Identify(stream);
        double mp = (double)info.Width * info.Height / 1e6;
        string format = ext is ".jpg" or ".jpeg" ? "JPEG" : ext.TrimStart('.').ToUpperInvariant();
        return mp < 2 ? $"{format} < 2 MP" : $"{format} {Math.Round(mp):F0} MP";
    }

    private static readonly Configuration OneCore = CreateConfiguration();

    private static Configuration CreateConfiguration()
    {
        var configuration = Configuration.Default.Clone();
        configuration.MaxDegreeOfParallelism = 1;
        return configuration;
    }

    private static int ImageSharpFull(byte[] bytes)
    {
        using var header = new MemoryStream(bytes, writable: false);
        IImageInfo info = Image.Identify(OneCore, header, out IImageFormat format);
        if (info.Width <= 0 || HouseImageLoaderTruncation(bytes, format)) throw new InvalidDataException("truncated");
        Image<Rgb24> image;
        if (format is JpegFormat)
        {
            image = Image.Load<Rgb24>(OneCore, bytes);
        }
        else
        {
            using var rgba = Image.Load<Rgba32>(OneCore, bytes);
            rgba.Mutate(x => x.BackgroundColor(Color.White));
            image = rgba.CloneAs<Rgb24>();
        }
        using (image)
        {
            image.Mutate(x => x.AutoOrient());
            image.Mutate(x => x.Resize(new ResizeOptions { Size = new Size(Size, Size), Mode = ResizeMode.Stretch, Sampler = KnownResamplers.Triangle }));
            return image.Width;
        }
    }

    /// <summary>The truncation scan the module ran before decoding (a pass over all the bytes).</summary>
    private static bool HouseImageLoaderTruncation(ReadOnlySpan<byte> bytes, IImageFormat format)
    {
        if (format is JpegFormat)
        {
            int sos = bytes.LastIndexOf([(byte)0xFF, (byte)0xDA]);
            return sos < 0 || bytes[sos..].IndexOf([(byte)0xFF, (byte)0xD9]) < 0;
        }
        return format is PngFormat && bytes[^Math.Min(64, bytes.Length)..].IndexOf("IEND"u8) < 0;
    }

    private static int Skia(byte[] bytes)
    {
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data) ?? throw new InvalidDataException("not an image");
        float scale = Math.Max((float)Size / codec.Info.Width, (float)Size / codec.Info.Height);
        SKSizeI scaled = codec.GetScaledDimensions(Math.Min(1f, scale));
        for (float s = scale; (scaled.Width < Size || scaled.Height < Size) && s < 1f;)
        {
            s = Math.Min(1f, s + 0.125f);
            scaled = codec.GetScaledDimensions(s);
        }
        var info = new SKImageInfo(scaled.Width, scaled.Height, SKColorType.Rgba8888, SKAlphaType.Premul);
        using var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result is not (SKCodecResult.Success)) throw new InvalidDataException(result.ToString());
        using var resized = bitmap.Resize(new SKImageInfo(Size, Size, SKColorType.Rgba8888, SKAlphaType.Premul), new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear));
        return resized.Width;
    }

    private static int Vips(byte[] bytes)
    {
        using var image = NetVips.Image.ThumbnailBuffer(bytes, Size, height: Size, size: NetVips.Enums.Size.Force, noRotate: false,
            failOn: NetVips.Enums.FailOn.Truncated);
        using var flat = image.HasAlpha() ? image.Flatten(background: [255.0]) : image.Copy();
        byte[] memory = flat.WriteToMemory<byte>();
        return memory.Length > 0 ? flat.Width : 0;
    }
}
