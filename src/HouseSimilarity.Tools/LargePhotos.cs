using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace HouseSimilarity.Tools;

/// <summary>
/// Camera-sized copies of the development photos for the decode and ingest benchmarks: upscaled to 12 MP (every tenth
/// to 24 MP), with sensor-like grain so that the JPEG data is as dense as a real photo's (an upscaled 600x400 photo is
/// smooth and would compress to a quarter of a camera file), saved at camera JPEG qualities 85-92, some with an EXIF
/// orientation, every fifteenth as PNG.
/// </summary>
internal static class LargePhotos
{
    public static int Run(string photos, string output, int count)
    {
        Directory.CreateDirectory(output);
        string[] files = DevPhotos.List(photos);
        // Spread over all houses and rooms, the same files every run.
        string[] chosen = Enumerable.Range(0, count).Select(i => files[(int)((long)i * files.Length / count)]).ToArray();
        DevPhotos.Map(chosen.Select((f, i) => (f, i)).ToArray(), item => Write(item.f, item.i, output));
        long bytes = Directory.GetFiles(output).Sum(f => new FileInfo(f).Length);
        Console.WriteLine($"{output}: {count} photos, {bytes / (1 << 20)} MiB");
        return 0;
    }

    private static int Write(string source, int index, string output)
    {
        bool big = index % 10 == 9, png = index % 15 == 14;
        var (width, height) = big ? (6000, 4000) : (4000, 3000);
        string name = $"{index:D5}_{Path.GetFileNameWithoutExtension(source)}_{width}x{height}";
        using var image = Image.Load<Rgb24>(source);
        image.Mutate(x => x.Resize(width, height, KnownResamplers.Bicubic));
        var random = new Random(index);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                foreach (ref Rgb24 p in rows.GetRowSpan(y))
                {
                    int grain = random.Next(-6, 7);
                    p = new Rgb24(Clamp(p.R + grain), Clamp(p.G + grain + random.Next(-2, 3)), Clamp(p.B + grain));
                }
            }
        });
        // Phones store the sensor's landscape pixels and the way the camera was held.
        if (index % 7 == 3)
        {
            image.Metadata.ExifProfile = new ExifProfile();
            image.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)(index % 2 == 0 ? 6 : 8));
        }
        if (png)
        {
            image.SaveAsPng(Path.Combine(output, name + ".png"), new PngEncoder { CompressionLevel = PngCompressionLevel.DefaultCompression });
        }
        else
        {
            image.SaveAsJpeg(Path.Combine(output, name + ".jpg"), new JpegEncoder { Quality = 85 + index % 8 });
        }
        return 0;
    }

    private static byte Clamp(int value) => (byte)Math.Clamp(value, 0, 255);
}
