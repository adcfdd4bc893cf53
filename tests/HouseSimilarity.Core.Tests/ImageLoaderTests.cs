using HouseSimilarity.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;

namespace HouseSimilarity.Tests;

public sealed class ImageLoaderTests : IDisposable
{
    private const int Plane = HouseImageLoader.InputSize * HouseImageLoader.InputSize;
    private readonly string _dir = TestData.NewScratchDirectory();
    private readonly HouseImageLoader _loader = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, Image image, SixLabors.ImageSharp.Formats.IImageEncoder encoder)
    {
        string path = Path.Combine(_dir, name);
        image.Save(path, encoder);
        return path;
    }

    [Fact]
    public void Real_photo_gives_its_size_hash_and_planar_rgb_in_0_to_255()
    {
        string file = TestData.Sample("241_frontal");
        LoadedImage image = _loader.Load(file);
        using var decoded = Image.Load<Rgb24>(file);
        Assert.Equal((decoded.Width, decoded.Height), (image.Width, image.Height));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file))), image.Sha256);
        Assert.Equal(3 * Plane, image.Pixels.Length);
        Assert.InRange(image.Pixels.Min(), 0f, 255f);
        Assert.InRange(image.Pixels.Max(), 128f, 255f);
    }

    [Fact]
    public void Planes_are_red_green_blue_in_that_order()
    {
        using var image = new Image<Rgb24>(64, 48, new Rgb24(200, 100, 30));
        LoadedImage loaded = _loader.Load(Write("colour.png", image, new PngEncoder()));
        Assert.All(loaded.Pixels[..Plane], v => Assert.Equal(200f, v, 0.5f));
        Assert.All(loaded.Pixels[Plane..(2 * Plane)], v => Assert.Equal(100f, v, 0.5f));
        Assert.All(loaded.Pixels[(2 * Plane)..], v => Assert.Equal(30f, v, 0.5f));
    }

    [Fact]
    public void Exif_orientation_is_applied()
    {
        // Left half red, right half blue, stored sideways with "rotate 90° clockwise" (orientation 6).
        using var image = new Image<Rgb24>(80, 40);
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++) row[x] = x < 40 ? new Rgb24(255, 0, 0) : new Rgb24(0, 0, 255);
            }
        });
        image.Metadata.ExifProfile = new ExifProfile();
        image.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
        LoadedImage loaded = _loader.Load(Write("rotated.jpg", image, new JpegEncoder { Quality = 95 }));
        Assert.Equal((40, 80), (loaded.Width, loaded.Height));
        // After rotating clockwise the red half is on top: the first row is red, the last row blue.
        Assert.True(loaded.Pixels[10] > 200 && loaded.Pixels[2 * Plane + 10] < 60);
        Assert.True(loaded.Pixels[Plane - 10] < 60 && loaded.Pixels[3 * Plane - 10] > 200);
    }

    [Fact]
    public void Transparent_pixels_become_white_and_grayscale_becomes_rgb()
    {
        using var clear = new Image<Rgba32>(30, 30, new Rgba32(0, 0, 0, 0));
        LoadedImage loaded = _loader.Load(Write("clear.png", clear, new PngEncoder()));
        Assert.All(loaded.Pixels, v => Assert.Equal(255f, v, 0.5f));

        using var gray = new Image<L16>(30, 30, new L16(ushort.MaxValue / 2));
        LoadedImage grey = _loader.Load(Write("gray16.png", gray, new PngEncoder()));
        Assert.Equal(grey.Pixels[0], grey.Pixels[Plane]);
        Assert.Equal(grey.Pixels[0], grey.Pixels[2 * Plane]);
    }

    [Theory]
    [InlineData(".bmp")]
    [InlineData(".gif")]
    [InlineData(".tiff")]
    [InlineData(".webp")]
    [InlineData(".tga")]
    public void Other_formats_load(string extension)
    {
        using var photo = Image.Load<Rgb24>(TestData.Sample("242_kitchen"));
        string path = Path.Combine(_dir, "photo" + extension);
        photo.Save(path);
        Assert.Equal(photo.Width, _loader.Load(path).Width);
    }

    [Fact]
    public void Missing_file_is_not_found()
    {
        var e = Assert.Throws<HouseImageException>(() => _loader.Load(Path.Combine(_dir, "nope.jpg")));
        Assert.Equal(ImageFailure.NotFound, e.Failure);
        Assert.Contains("nope.jpg", e.Message);
    }

    [Fact]
    public void Text_file_is_an_unsupported_format()
    {
        string path = Path.Combine(_dir, "notes.jpg");
        File.WriteAllText(path, "this is not a photo");
        var e = Assert.Throws<HouseImageException>(() => _loader.Load(path));
        Assert.Equal(ImageFailure.UnsupportedFormat, e.Failure);
        Assert.Contains("notes.jpg", e.Message);
    }

    [Fact]
    public void Empty_and_truncated_files_are_corrupt()
    {
        string empty = Path.Combine(_dir, "empty.jpg");
        File.WriteAllBytes(empty, []);
        Assert.Equal(ImageFailure.Corrupt, Assert.Throws<HouseImageException>(() => _loader.Load(empty)).Failure);

        byte[] bytes = File.ReadAllBytes(TestData.Sample("243_kitchen"));
        foreach (double keep in new[] { 0.3, 0.6, 0.95 })
        {
            string cut = Path.Combine(_dir, $"cut{keep}.jpg");
            File.WriteAllBytes(cut, bytes[..(int)(bytes.Length * keep)]);
            var e = Assert.Throws<HouseImageException>(() => _loader.Load(cut));
            Assert.Equal(ImageFailure.Corrupt, e.Failure);
        }

        using var png = Image.Load<Rgb24>(TestData.Sample("243_kitchen"));
        byte[] pngBytes = File.ReadAllBytes(Write("whole.png", png, new PngEncoder()));
        string cutPng = Path.Combine(_dir, "cut.png");
        File.WriteAllBytes(cutPng, pngBytes[..(pngBytes.Length / 2)]);
        Assert.Equal(ImageFailure.Corrupt, Assert.Throws<HouseImageException>(() => _loader.Load(cutPng)).Failure);
    }

    [Fact]
    public void Decompression_bomb_is_refused_before_decoding()
    {
        // A valid PNG header declaring 60000 x 60000 pixels (3.6 gigapixels) followed by a tiny body.
        using var small = new Image<Rgb24>(1, 1);
        byte[] png = File.ReadAllBytes(Write("tiny.png", small, new PngEncoder()));
        WriteBigEndian(png, 16, 60_000);
        WriteBigEndian(png, 20, 60_000);
        uint crc = Crc32(png.AsSpan(12, 17));
        WriteBigEndian(png, 29, crc);
        string bomb = Path.Combine(_dir, "bomb.png");
        File.WriteAllBytes(bomb, png);
        long before = GC.GetTotalAllocatedBytes();
        var e = Assert.Throws<HouseImageException>(() => _loader.Load(bomb));
        Assert.Equal(ImageFailure.TooLarge, e.Failure);
        Assert.True(GC.GetTotalAllocatedBytes() - before < 64 << 20, "the bomb must be refused without allocating its pixels");
    }

    [Fact]
    public void Oversized_files_are_refused_by_the_byte_limit()
    {
        var loader = new HouseImageLoader(new ImageLimits(MaxFileBytes: 1000));
        Assert.Equal(ImageFailure.TooLarge, Assert.Throws<HouseImageException>(() => loader.Load(TestData.Sample("241_frontal"))).Failure);
    }

    private static void WriteBigEndian(byte[] buffer, int offset, uint value)
    {
        buffer[offset] = (byte)(value >> 24);
        buffer[offset + 1] = (byte)(value >> 16);
        buffer[offset + 2] = (byte)(value >> 8);
        buffer[offset + 3] = (byte)value;
    }

    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320 & (uint)-(int)(crc & 1));
        }
        return ~crc;
    }
}
