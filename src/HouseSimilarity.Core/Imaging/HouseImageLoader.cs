using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats;
using SixLabors.ImageSharp.Formats.Gif;
using SixLabors.ImageSharp.Metadata;
using SixLabors.ImageSharp.Formats.Tiff;
using SixLabors.ImageSharp.Metadata.Profiles.Exif;
using SixLabors.ImageSharp.PixelFormats;
using SkiaSharp;

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
/// Decodes a photo straight to the size the model needs: JPEG and WebP are decoded at reduced size (JPEG's DCT scaling
/// gives 1/8 to 8/8 of the photo), rows are reduced as they are decoded, EXIF orientation is applied to the small
/// result, and alpha is flattened onto white on the way, so no full-size copy is made (JPEG and BMP rows are reduced
/// straight from the decoder; PNG, WebP and GIF are decoded whole at their reduced size first). The whole photo is resized (no
/// crop, so borders and crops stay visible to the model). SkiaSharp reads JPEG, PNG, WebP, GIF and BMP; ImageSharp reads
/// the rest (TIFF, TGA, PBM). A decode that must hold a whole image takes its pixels from a process-wide
/// <see cref="PixelBudget"/> first.
/// </summary>
public sealed class HouseImageLoader
{
    public const int InputSize = 224;

    /// <summary>The file extensions of the formats it reads, for picking photos out of a folder.</summary>
    public static readonly IReadOnlyList<string> Extensions =
        [".jpg", ".jpeg", ".jfif", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".tga", ".pbm", ".ppm", ".pgm"];

    private const string Supported = "JPEG, PNG, GIF, BMP, TIFF, TGA, WebP, PBM";

    private readonly Configuration _configuration;
    private readonly ImageLimits _limits;
    private readonly PixelBudget _budget;

    public HouseImageLoader(ImageLimits? limits = null, PixelBudget? budget = null)
    {
        _limits = limits ?? ImageLimits.Default;
        _budget = budget ?? PixelBudget.Shared;
        // Callers parallelise across photos; row-parallel processing inside one photo only adds contention.
        _configuration = Configuration.Default.Clone();
        _configuration.MaxDegreeOfParallelism = 1;
        // Animated or multi-page files: only the first frame is a photo worth comparing, and decoding all frames costs memory.
        _configuration.ImageFormatsManager.SetDecoder(GifFormat.Instance, new GifDecoder { DecodingMode = FrameDecodingMode.First });
        _configuration.ImageFormatsManager.SetDecoder(TiffFormat.Instance, new TiffDecoder { DecodingMode = FrameDecodingMode.First });
    }

    public PixelBudget Budget => _budget;

    // Per-thread scratch for orienting the model input, reused across photos.
    [ThreadStatic]
    private static float[]? _scratch;

    /// <summary>
    /// Decodes a photo. With <paramref name="pixels"/> (3 x InputSize² values) the model input is written there, so
    /// a caller that embeds many photos reuses one buffer instead of allocating one per photo on the large object heap.
    /// </summary>
    public LoadedImage Load(string path, float[]? pixels = null)
    {
        pixels ??= new float[3 * InputSize * InputSize];
        ArgumentOutOfRangeException.ThrowIfNotEqual(pixels.Length, 3 * InputSize * InputSize, nameof(pixels));
        // File bytes come from a pool for the same reason; they are only needed until the image is decoded.
        var (bytes, length) = ReadBytes(path);
        try
        {
            var data = new ArraySegment<byte>(bytes, 0, length);
            var (width, height, orientation) = Decode(path, data, _ => (InputSize, InputSize), pixels);
            RowResampler.Orient(pixels, InputSize, InputSize, orientation, _scratch ??= new float[pixels.Length]);
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
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSide, 1);
        var (bytes, length) = ReadBytes(path);
        try
        {
            var planar = new float[3 * maxSide * maxSide];
            int storedWidth = 0, storedHeight = 0;
            var (_, _, orientation) = Decode(path, new ArraySegment<byte>(bytes, 0, length), size =>
            {
                // The displayed photo fits in maxSide x maxSide; the decode works in stored orientation.
                double fit = Math.Min(1.0, (double)maxSide / Math.Max(size.Width, size.Height));
                storedWidth = Math.Max(1, (int)Math.Round(size.Width * fit));
                storedHeight = Math.Max(1, (int)Math.Round(size.Height * fit));
                return (storedWidth, storedHeight);
            }, planar);
            RowResampler.Orient(planar, storedWidth, storedHeight, orientation, new float[planar.Length]);
            bool swap = orientation >= 5 && orientation <= 8;
            int width = swap ? storedHeight : storedWidth, height = swap ? storedWidth : storedHeight, plane = width * height;
            using var image = new Image<Rgb24>(width, height);
            image.ProcessPixelRows(rows =>
            {
                for (int y = 0; y < height; y++)
                {
                    var row = rows.GetRowSpan(y);
                    for (int x = 0; x < width; x++)
                    {
                        int i = y * width + x;
                        row[x] = new Rgb24((byte)(planar[i] + 0.5f), (byte)(planar[plane + i] + 0.5f), (byte)(planar[2 * plane + i] + 0.5f));
                    }
                }
            });
            using var output = new MemoryStream();
            image.SaveAsJpeg(output, new SixLabors.ImageSharp.Formats.Jpeg.JpegEncoder { Quality = 70 });
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

    /// <summary>
    /// Decodes and reduces to the size <paramref name="target"/> picks from the stored size, into planar
    /// <paramref name="output"/> in stored orientation. Returns the displayed size and the EXIF orientation still to apply.
    /// </summary>
    private (int Width, int Height, int Orientation) Decode(string path, ArraySegment<byte> bytes,
        Func<(int Width, int Height), (int Width, int Height)> target, float[] output)
    {
        try
        {
            var handle = GCHandle.Alloc(bytes.Array!, GCHandleType.Pinned);
            try
            {
                IntPtr address = handle.AddrOfPinnedObject() + bytes.Offset;
                using var data = SKData.Create(address, bytes.Count, static (_, _) => { });
                using var codec = data is null ? null : SKCodec.Create(data);
                if (codec is not null && codec.EncodedFormat is SKEncodedImageFormat.Jpeg or SKEncodedImageFormat.Png
                        or SKEncodedImageFormat.Webp or SKEncodedImageFormat.Gif or SKEncodedImageFormat.Bmp)
                {
                    return DecodeWithSkia(path, codec, bytes, target, output);
                }
            }
            finally
            {
                handle.Free();
            }
            return DecodeWithImageSharp(path, bytes, target, output);
        }
        catch (HouseImageException) { throw; }
        catch (UnknownImageFormatException e)
        {
            throw new HouseImageException(path, ImageFailure.UnsupportedFormat, $"not an image in a supported format ({Supported})", e);
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

    private void CheckDeclaredSize(string path, int width, int height)
    {
        if (width <= 0 || height <= 0 || width > _limits.MaxSide || height > _limits.MaxSide || (long)width * height > _limits.MaxPixels)
        {
            throw new HouseImageException(path, ImageFailure.TooLarge,
                $"the image declares {width}x{height} pixels, over the limit of {_limits.MaxPixels:N0} pixels");
        }
    }

    private (int, int, int) DecodeWithSkia(string path, SKCodec codec, ReadOnlySpan<byte> bytes,
        Func<(int Width, int Height), (int Width, int Height)> target, float[] output)
    {
        SKImageInfo header = codec.Info;
        CheckDeclaredSize(path, header.Width, header.Height);
        int orientation = (int)codec.EncodedOrigin;
        var (outWidth, outHeight) = target((header.Width, header.Height));
        SKSizeI size = ScaledSize(codec, outWidth, outHeight);
        bool opaque = header.AlphaType == SKAlphaType.Opaque;
        // No colour space: pixel values as stored, the convention the model was trained on.
        var info = new SKImageInfo(size.Width, size.Height, SKColorType.Rgba8888, opaque ? SKAlphaType.Opaque : SKAlphaType.Premul);
        var resampler = new RowResampler(size.Width, size.Height, outWidth, outHeight, output, Extent(codec, size));
        string format = codec.EncodedFormat.ToString().ToUpperInvariant();

        // Streamed: one row at a time, nothing held whole (JPEG, BMP; SkiaSharp's PNG decoder has no row-by-row mode).
        // A progressive JPEG is held whole inside the decoder (its coefficients), so it is charged like a full decode.
        bool buffersInside = codec.EncodedFormat == SKEncodedImageFormat.Jpeg && IsProgressiveJpeg(bytes);
        if (codec.EncodedFormat is SKEncodedImageFormat.Jpeg or SKEncodedImageFormat.Bmp
            && codec.ScanlineOrder == SKCodecScanlineOrder.TopDown)
        {
            using var lease = _budget.Acquire(buffersInside ? (long)header.Width * header.Height : 0);
            SKCodecResult started = codec.StartScanlineDecode(info);
            if (started == SKCodecResult.Success)
            {
                byte[] row = ArrayPool<byte>.Shared.Rent(info.RowBytes);
                try
                {
                    GCHandle pinned = GCHandle.Alloc(row, GCHandleType.Pinned);
                    try
                    {
                        for (int y = 0; y < size.Height; y++)
                        {
                            if (codec.GetScanlines(pinned.AddrOfPinnedObject(), 1, info.RowBytes) != 1)
                            {
                                throw Truncated(path, format);
                            }
                            resampler.AddRow(row.AsSpan(0, info.RowBytes), !opaque);
                        }
                    }
                    finally
                    {
                        pinned.Free();
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(row);
                }
                resampler.Finish();
                return Displayed(header.Width, header.Height, orientation);
            }
        }

        // Whole (reduced) image at once: PNG, WebP, GIF, bottom-up BMP. An interlaced PNG is charged three times: libpng
        // keeps the image again at its stored depth (up to 8 bytes a pixel) beside the 4-byte output.
        long pixelCount = (long)size.Width * size.Height;
        if (codec.EncodedFormat == SKEncodedImageFormat.Png && IsInterlacedPng(bytes))
        {
            pixelCount *= 3;
        }
        using (_budget.Acquire(buffersInside ? Math.Max(pixelCount, (long)header.Width * header.Height) : pixelCount))
        {
            nint buffer = (nint)0;
            try
            {
                unsafe
                {
                    buffer = (nint)NativeMemory.Alloc((nuint)info.BytesSize64);
                }
                SKCodecResult result = codec.GetPixels(info, buffer);
                if (result == SKCodecResult.IncompleteInput)
                {
                    throw Truncated(path, format);
                }
                if (result != SKCodecResult.Success)
                {
                    throw new HouseImageException(path, ImageFailure.Corrupt, $"the {format} data is damaged ({result})");
                }
                unsafe
                {
                    for (int y = 0; y < size.Height; y++)
                    {
                        resampler.AddRow(new ReadOnlySpan<byte>((byte*)buffer + (long)y * info.RowBytes, info.RowBytes), !opaque);
                    }
                }
            }
            finally
            {
                unsafe
                {
                    NativeMemory.Free((void*)buffer);
                }
            }
        }
        resampler.Finish();
        return Displayed(header.Width, header.Height, orientation);
    }

    private static HouseImageException Truncated(string path, string format) =>
        new(path, ImageFailure.Corrupt, $"the {format} data is truncated (the file ends before the image does)");

    /// <summary>
    /// The smallest size the codec decodes to that still covers the target on both sides (JPEG: a multiple of 1/8 of
    /// the photo, WebP: any; other formats: the photo's size), so that one resize follows with a proper filter.
    /// </summary>
    private static SKSizeI ScaledSize(SKCodec codec, int width, int height)
    {
        SKSizeI full = codec.Info.Size;
        if (codec.EncodedFormat is not (SKEncodedImageFormat.Jpeg or SKEncodedImageFormat.Webp))
        {
            return full;
        }
        float scale = Math.Max((float)width / full.Width, (float)height / full.Height);
        for (; scale < 1f; scale = Math.Min(1f, scale + 1f / 16))
        {
            SKSizeI size = codec.GetScaledDimensions(scale);
            if (size.Width >= Math.Min(width, full.Width) && size.Height >= Math.Min(height, full.Height))
            {
                return size;
            }
        }
        return full;
    }

    /// <summary>What a JPEG reduced by DCT scaling to n/8 spans (its size is rounded up); other decodes fill their size.</summary>
    private static (double, double)? Extent(SKCodec codec, SKSizeI size)
    {
        SKSizeI full = codec.Info.Size;
        if (codec.EncodedFormat != SKEncodedImageFormat.Jpeg || size == full)
        {
            return null;
        }
        for (int n = 1; n < 8; n++)
        {
            if ((full.Width * n + 7) / 8 == size.Width && (full.Height * n + 7) / 8 == size.Height)
            {
                return (full.Width * n / 8.0, full.Height * n / 8.0);
            }
        }
        return null;
    }

    private static (int, int, int) Displayed(int width, int height, int orientation) =>
        orientation is >= 5 and <= 8 ? (height, width, orientation) : (width, height, orientation);

    /// <summary>A progressive (or lossless, arithmetic) JPEG: the frame marker before the first scan is not baseline.</summary>
    internal static bool IsProgressiveJpeg(ReadOnlySpan<byte> bytes)
    {
        int i = 2;
        while (i + 4 <= bytes.Length)
        {
            if (bytes[i] != 0xFF)
            {
                return false;
            }
            byte marker = bytes[i + 1];
            if (marker == 0xFF)
            {
                i++;
                continue;
            }
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
            {
                return marker is not (0xC0 or 0xC1);
            }
            if (marker == 0xDA)
            {
                return false;
            }
            i += 2 + (bytes[i + 2] << 8 | bytes[i + 3]);
        }
        return false;
    }

    /// <summary>The interlace byte of a PNG's header chunk (Adam7 = 1).</summary>
    internal static bool IsInterlacedPng(ReadOnlySpan<byte> bytes) => bytes.Length > 28 && bytes[28] != 0;

    private (int, int, int) DecodeWithImageSharp(string path, ArraySegment<byte> bytes,
        Func<(int Width, int Height), (int Width, int Height)> target, float[] output)
    {
        using var header = new MemoryStream(bytes.Array!, bytes.Offset, bytes.Count, writable: false);
        IImageInfo? info = Image.Identify(_configuration, header, out IImageFormat? format);
        if (info is null || format is null)
        {
            throw new HouseImageException(path, ImageFailure.UnsupportedFormat, $"not an image in a supported format ({Supported})");
        }
        CheckDeclaredSize(path, info.Width, info.Height);
        if (format.Name is "JPEG" or "PNG" or "GIF" or "BMP" or "Webp" or "WEBP")
        {
            // The faster decoder reads these and could not: ImageSharp would fill the damage with grey.
            throw new HouseImageException(path, ImageFailure.Corrupt, $"the {format.Name} data is damaged");
        }
        int orientation = info.Metadata.ExifProfile?.GetValue(ExifTag.Orientation)?.Value is ushort o ? o : 1;
        var (outWidth, outHeight) = target((info.Width, info.Height));
        using var lease = _budget.Acquire((long)info.Width * info.Height);
        using var image = Image.Load<Rgba32>(_configuration, bytes.AsSpan());
        var resampler = new RowResampler(image.Width, image.Height, outWidth, outHeight, output);
        byte[] premultiplied = new byte[4 * image.Width];
        image.ProcessPixelRows(rows =>
        {
            for (int y = 0; y < rows.Height; y++)
            {
                Span<Rgba32> row = rows.GetRowSpan(y);
                for (int x = 0; x < row.Length; x++)
                {
                    Rgba32 p = row[x];
                    premultiplied[4 * x] = (byte)((p.R * p.A + 127) / 255);
                    premultiplied[4 * x + 1] = (byte)((p.G * p.A + 127) / 255);
                    premultiplied[4 * x + 2] = (byte)((p.B * p.A + 127) / 255);
                    premultiplied[4 * x + 3] = p.A;
                }
                resampler.AddRow(premultiplied, hasAlpha: true);
            }
        });
        resampler.Finish();
        return Displayed(info.Width, info.Height, orientation);
    }
}
