using System.Buffers;
using System.Security.Cryptography;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace HouseSimilarity.Imaging;

/// <summary>A decoded photo reduced to the model's input, plus facts about the file.</summary>
public sealed class LoadedImage
{
    public required string Path { get; init; }
    public required string Sha256 { get; init; }
    /// <summary>Size after EXIF orientation was applied.</summary>
    public required int Width { get; init; }
    public required int Height { get; init; }
    /// <summary>Planar R, G, B planes of InputSize² values in 0..255 (the backbone's convention).</summary>
    public required float[] Pixels { get; init; }
}

/// <summary>Limits that keep a huge or hostile file from exhausting memory.</summary>
public sealed record ImageLimits(long MaxFileBytes = 256L << 20, long MaxPixels = 120_000_000, int MaxSide = 30_000)
{
    public static ImageLimits Default { get; } = new();
}

/// <summary>
/// Decodes any format ImageSharp reads, applies EXIF orientation, flattens alpha onto white, and
/// resizes the whole photo (no crop, so borders and crops stay visible to the model) to the input size.
/// </summary>
public sealed class HouseImageLoader
{
    public const int InputSize = 224;

    /// <summary>The file extensions of the formats it reads, for picking photos out of a folder.</summary>
    public static readonly IReadOnlyList<string> Extensions =
        [".jpg", ".jpeg", ".jfif", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".tga", ".pbm", ".ppm", ".pgm"];

    private readonly Configuration _configuration;
    private readonly ImageLimits _limits;

    public HouseImageLoader(ImageLimits? limits = null)
    {
        _limits = limits ?? ImageLimits.Default;
        // Callers parallelise across photos; row-parallel processing inside one photo only adds contention.
        _configuration = Configuration.Default.Clone();
        _configuration.MaxDegreeOfParallelism = 1;
        // Animated or multi-page files: only the first frame is a photo worth comparing, and decoding all frames costs memory.
        _configuration.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First });
        _configuration.ImageFormatsManager.SetDecoder(TiffFormat.Instance, new TiffDecoder { DecodingMode = FrameDecodingMode.First });
    }

    /// <summary>
    /// Decodes a photo. With <paramref name="pixels"/> (3 x InputSize² values) the model input is written there, so
    /// a caller that embeds many photos reuses one buffer instead of allocating one per photo on the large object heap.
    /// </summary>
    public LoadedImage Load(string path, float[]? pixels = null)
    {
        // File bytes come from a pool for the same reason; they are only needed until the image is decoded.
        var (bytes, length) = ReadBytes(path);
        try
        {
            var data = new ArraySegment<byte>(bytes, 0, length);
            using var image = Decode(path, data);
            image.Mutate(x => x.AutoOrient());
            int width = image.Width, height = image.Height;
            image.Mutate(x => x.Resize(new ResizeOptions
            {
                Size = new Size(InputSize, InputSize),
                Mode = ResizeMode.Stretch,
                Sampler = KnownResamplers.Triangle,
            }));
            pixels ??= new float[3 * InputSize * InputSize];
            ToPlanarRgb(image, pixels);
            return new LoadedImage
            {
                Path = path,
                Sha256 = Convert.ToHexStringLower(SHA256.HashData(data)),
                Width = width,
                Height = height,
                Pixels = pixels,
            };
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    /// <summary>A small JPEG of the photo (EXIF orientation applied, at most <paramref name="maxSide"/> pixels a side), for reports.</summary>
    public byte[] Thumbnail(string path, int maxSide)
    {
        var (bytes, length) = ReadBytes(path);
        try
        {
            using var image = Decode(path, new ArraySegment<byte>(bytes, 0, length));
            image.Mutate(x => x.AutoOrient().Resize(new ResizeOptions { Size = new Size(maxSide, maxSide), Mode = ResizeMode.Max }));
            using var output = new MemoryStream();
            image.SaveAsJpeg(output, new JpegEncoder { Quality = 70 });
            return output.ToArray();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    private (byte[] Buffer, int Length) ReadBytes(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new HouseImageException(path, Directory.Exists(path) ? ImageFailure.UnsupportedFormat : ImageFailure.NotFound,
                    Directory.Exists(path) ? "it is a directory, not an image file" : "the file does not exist");
            }
            if (info.Length > _limits.MaxFileBytes)
            {
                throw new HouseImageException(path, ImageFailure.TooLarge,
                    $"the file is {info.Length / (1 << 20)} MiB, over the limit of {_limits.MaxFileBytes / (1 << 20)} MiB");
            }
            if (info.Length == 0)
            {
                throw new HouseImageException(path, ImageFailure.Corrupt, "the file is empty");
            }
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
            byte[] buffer = ArrayPool<byte>.Shared.Rent((int)info.Length);
            try
            {
                int length = stream.ReadAtLeast(buffer.AsSpan(0, (int)info.Length), (int)info.Length, throwOnEndOfStream: false);
                return (buffer, length);
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(buffer);
                throw;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new HouseImageException(path, ImageFailure.Unreadable, e.Message, e);
        }
    }

    private Image<Rgb24> Decode(string path, ArraySegment<byte> bytes)
    {
        try
        {
            using var header = new MemoryStream(bytes.Array!, bytes.Offset, bytes.Count, writable: false);
            IImageInfo? info = Image.Identify(_configuration, header, out IImageFormat? format);
            if (info is null || format is null)
            {
                throw new HouseImageException(path, ImageFailure.UnsupportedFormat,
                    "not an image in a supported format (JPEG, PNG, GIF, BMP, TIFF, TGA, WebP, PBM)");
            }
            if (info.Width <= 0 || info.Height <= 0 || info.Width > _limits.MaxSide || info.Height > _limits.MaxSide
                || (long)info.Width * info.Height > _limits.MaxPixels)
            {
                throw new HouseImageException(path, ImageFailure.TooLarge,
                    $"the image declares {info.Width}x{info.Height} pixels, over the limit of {_limits.MaxPixels:N0} pixels");
            }
            if (IsTruncated(bytes, format))
            {
                throw new HouseImageException(path, ImageFailure.Corrupt, $"the {format.Name} data is truncated (no end-of-image marker)");
            }
            // JPEG has no alpha; every other format may, and transparent pixels are shown on white, not black.
            if (format is not JpegFormat)
            {
                using var rgba = Image.Load<Rgba32>(_configuration, bytes.AsSpan());
                rgba.Mutate(x => x.BackgroundColor(Color.White));
                return rgba.CloneAs<Rgb24>();
            }
            return Image.Load<Rgb24>(_configuration, bytes.AsSpan());
        }
        catch (HouseImageException) { throw; }
        catch (UnknownImageFormatException e)
        {
            throw new HouseImageException(path, ImageFailure.UnsupportedFormat, "not an image in a supported format", e);
        }
        catch (OutOfMemoryException e)
        {
            throw new HouseImageException(path, ImageFailure.TooLarge, "the image needs more memory than is available", e);
        }
        // Whatever else a decoder throws on damaged data (fuzzing found NullReferenceException in JPEG headers) is
        // the file's fault, reported as such, never an error of the command.
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new HouseImageException(path, ImageFailure.Corrupt, $"the image data is damaged ({e.Message})", e);
        }
    }

    /// <summary>
    /// ImageSharp fills a cut-off JPEG or PNG with grey instead of failing; a photo cut short would then be
    /// embedded as garbage, so files without their end marker are refused.
    /// </summary>
    internal static bool IsTruncated(ReadOnlySpan<byte> bytes, IImageFormat format)
    {
        if (format is JpegFormat)
        {
            // Scan data stuffs every 0xFF, so the last SOS marker belongs to the main image (not the EXIF thumbnail),
            // and a complete file has an EOI marker after it.
            int sos = bytes.LastIndexOf([(byte)0xFF, (byte)0xDA]);
            return sos < 0 || bytes[sos..].IndexOf([(byte)0xFF, (byte)0xD9]) < 0;
        }
        if (format is PngFormat)
        {
            ReadOnlySpan<byte> tail = bytes.Length > 64 ? bytes[^64..] : bytes;
            return tail.IndexOf("IEND"u8) < 0;
        }
        return false;
    }

    private static void ToPlanarRgb(Image<Rgb24> image, float[] pixels)
    {
        const int plane = InputSize * InputSize;
        ArgumentOutOfRangeException.ThrowIfNotEqual(pixels.Length, 3 * plane, nameof(pixels));
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                Span<Rgb24> row = rows.GetRowSpan(y);
                int offset = y * InputSize;
                for (int x = 0; x < row.Length; x++)
                {
                    pixels[offset + x] = row[x].R;
                    pixels[plane + offset + x] = row[x].G;
                    pixels[2 * plane + offset + x] = row[x].B;
                }
            }
        });
    }
}
