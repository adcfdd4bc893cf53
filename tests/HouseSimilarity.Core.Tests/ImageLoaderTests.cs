using HouseSimilarity.Imaging;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

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

    private static double MeanAbsoluteDifference(float[] a, float[] b) =>
        a.Zip(b, (x, y) => Math.Abs(x - y)).Average();

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    public void Every_exif_orientation_matches_the_photo_turned_by_hand(ushort orientation)
    {
        using var photo = Image.Load<Rgb24>(TestData.Sample("243_frontal"));
        photo.Metadata.ExifProfile = new ExifProfile();
        photo.Metadata.ExifProfile.SetValue(ExifTag.Orientation, orientation);
        string tagged = Write($"tagged{orientation}.jpg", photo, new JpegEncoder { Quality = 95 });
        using var upright = photo.Clone(x => x.AutoOrient());
        upright.Metadata.ExifProfile = null;
        string turned = Write($"turned{orientation}.jpg", upright, new JpegEncoder { Quality = 95 });

        LoadedImage fromTag = _loader.Load(tagged), byHand = _loader.Load(turned);
        Assert.Equal((upright.Width, upright.Height), (fromTag.Width, fromTag.Height));
        // Only the two JPEG encodings differ; a wrong turn differs by tens of levels.
        Assert.InRange(MeanAbsoluteDifference(fromTag.Pixels, byHand.Pixels), 0, 3);
    }

    [Fact]
    public void A_camera_sized_jpeg_decoded_at_reduced_size_matches_a_full_size_resize()
    {
        using var photo = Image.Load<Rgb24>(TestData.Sample("250_frontal"));
        photo.Mutate(x => x.Resize(4000, 3000, KnownResamplers.Bicubic));
        string path = Write("12mp.jpg", photo, new JpegEncoder { Quality = 90 });
        LoadedImage loaded = _loader.Load(path);
        Assert.Equal((4000, 3000), (loaded.Width, loaded.Height));

        using var reference = Image.Load<Rgb24>(path);
        reference.Mutate(x => x.Resize(new ResizeOptions
        {
            Size = new Size(HouseImageLoader.InputSize, HouseImageLoader.InputSize), Mode = ResizeMode.Stretch, Sampler = KnownResamplers.Triangle,
        }));
        var expected = new float[3 * Plane];
        reference.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                var row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                {
                    expected[y * row.Length + x] = row[x].R;
                    expected[Plane + y * row.Length + x] = row[x].G;
                    expected[2 * Plane + y * row.Length + x] = row[x].B;
                }
            }
        });
        Assert.InRange(MeanAbsoluteDifference(loaded.Pixels, expected), 0, 2.5);
    }

    [Fact]
    public void Thumbnails_are_small_and_turned_upright()
    {
        using var image = new Image<Rgb24>(800, 400, new Rgb24(10, 200, 10));
        image.Metadata.ExifProfile = new ExifProfile();
        image.Metadata.ExifProfile.SetValue(ExifTag.Orientation, (ushort)6);
        byte[] jpeg = _loader.Thumbnail(Write("wide.jpg", image, new JpegEncoder()), 100);
        using var thumbnail = Image.Load<Rgb24>(jpeg);
        Assert.Equal((50, 100), (thumbnail.Width, thumbnail.Height));
        Assert.InRange(thumbnail[25, 50].G, 180, 220);
    }

    [Fact]
    public async Task Streamed_decodes_need_no_budget_and_whole_image_decodes_wait_for_it()
    {
        var budget = new PixelBudget(1000);
        var loader = new HouseImageLoader(budget: budget);
        using var photo = Image.Load<Rgba32>(TestData.Sample("242_bedroom"));
        string jpeg = Write("plain.jpg", photo, new JpegEncoder());
        string png = Write("plain.png", photo, new PngEncoder());
        string interlaced = Write("interlaced.png", photo, new PngEncoder { InterlaceMethod = PngInterlaceMode.Adam7 });
        string tiff = Write("photo.tiff", photo, new SixLabors.ImageSharp.Formats.Tiff.TiffEncoder());

        var held = budget.Acquire(1000);
        // Rows reduced as they are decoded: nothing whole in memory, so nothing to wait for.
        Assert.Equal(photo.Width, loader.Load(jpeg).Width);
        string progressive = TestData.Sample("241_frontal");
        var waiting = new[] { png, interlaced, tiff, progressive }.Select(f => Task.Run(() => loader.Load(f, new float[3 * Plane]))).ToArray();
        var all = Task.WhenAll(waiting);
        await Task.Delay(500);
        Assert.DoesNotContain(waiting, t => t.IsCompleted); // whole-image decodes wait for the budget
        held.Dispose();
        LoadedImage[] loaded = await all.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(loaded[..3], image => Assert.Equal(photo.Width, image.Width));
        Assert.Equal(0, budget.InUse);
        // The same pixels whichever way the PNG was stored.
        Assert.InRange(MeanAbsoluteDifference(loaded[0].Pixels, loaded[1].Pixels), 0, 0.01);
    }

    [Fact]
    public void Progressive_jpegs_are_told_from_baseline_by_their_frame_marker()
    {
        Assert.False(HouseImageLoader.IsProgressiveJpeg(File.ReadAllBytes(TestData.Sample("259_bathroom"))));
        Assert.True(HouseImageLoader.IsProgressiveJpeg(File.ReadAllBytes(TestData.Sample("241_frontal"))));
        Assert.False(HouseImageLoader.IsProgressiveJpeg("not a jpeg at all"u8));
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
