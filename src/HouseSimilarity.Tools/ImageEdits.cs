using System.Globalization;
using SixLabors.ImageSharp;
using SixLabors.ImageSharp.Formats.Jpeg;
using SixLabors.ImageSharp.Formats.Png;
using SixLabors.ImageSharp.PixelFormats;
using SixLabors.ImageSharp.Processing;

namespace HouseSimilarity.Tools;

/// <summary>
/// One realistic listing-photo edit. <see cref="Apply"/> always returns a new image (the input is left untouched);
/// the JPEG quality / PNG choice is part of the edit because recompression is what re-uploads actually do.
/// </summary>
public sealed record ImageEdit(string Name, string Strength, Func<Image<Rgb24>, Image<Rgb24>> Apply, string Extension = ".jpg", int JpegQuality = 90)
{
    public string Label => $"{Name}:{Strength}";

    /// <summary>Encodes an edited image as JPEG at <see cref="JpegQuality"/>, or PNG when <see cref="Extension"/> is ".png".</summary>
    public byte[] Encode(Image<Rgb24> edited)
    {
        using var ms = new MemoryStream();
        if (string.Equals(Extension, ".png", StringComparison.OrdinalIgnoreCase))
            edited.Save(ms, new PngEncoder());
        else
            edited.Save(ms, new JpegEncoder { Quality = JpegQuality });
        return ms.ToArray();
    }

    /// <summary>Decodes original file bytes (honouring EXIF orientation), applies the edit and encodes the result.</summary>
    public byte[] ApplyTo(byte[] originalFileBytes)
    {
        using var original = Image.Load<Rgb24>(originalFileBytes);
        original.Mutate(x => x.AutoOrient());
        using var edited = Apply(original);
        return Encode(edited);
    }
}

/// <summary>The battery of edits used to calibrate duplicate thresholds, build fixtures and benchmark quality.</summary>
public static class ImageEdits
{
    public const string DefaultWatermarkText = "DREAM HOMES REALTY 555-0142";

    static readonly string[] WatermarkTexts =
    [
        DefaultWatermarkText, "SUNSET PROPERTIES", "CALL 555-0199", "WWW.HOMEFINDER.EXAMPLE",
        "OAK & IVY REAL ESTATE", "INFO@LISTINGS.EXAMPLE", "MLS: 4471902", "SOLD",
    ];

    static readonly string[] Corners = ["tl", "tr", "bl", "br"];

    /// <summary>Fixed, deterministic list: every edit kind at 1-3 strengths.</summary>
    public static IReadOnlyList<ImageEdit> Battery() =>
    [
        ResizeEdit(0.5), ResizeEdit(0.25),
        JpegEdit(30), JpegEdit(15),
        CropCenterEdit(0.80), CropCenterEdit(0.50), CropCenterEdit(0.33),
        CropCornerEdit("tl", 0.50), CropCornerEdit("br", 0.33),
        BrightnessEdit(1.25f), BrightnessEdit(0.75f),
        ContrastEdit(1.30f), ContrastEdit(0.70f),
        SaturationEdit(0.5f), SaturationEdit(1.6f),
        HueEdit(15f), HueEdit(-25f),
        GrayscaleEdit(),
        WatermarkEdit("small-br", DefaultWatermarkText, 0.70f, 0.03f, "bottom-right"),
        WatermarkEdit("large-center", "DREAM HOMES REALTY", 0.50f, 0.12f, "center"),
        MirrorEdit(),
        RotateEdit(3f), RotateEdit(-5f),
        FrameEdit(0.05), LetterboxEdit(0.12),
        PngEdit(),
    ];

    /// <summary>
    /// A fresh random edit (kind and parameters drawn from realistic ranges), with a 30% chance of two edits
    /// chained, for training / augmentation. Deterministic for a given <paramref name="rng"/> state.
    /// </summary>
    public static ImageEdit RandomEdit(Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var first = RandomSingle(rng, allowPng: true);
        if (first.Extension == ".png" || rng.NextDouble() >= 0.3)
            return first;
        ImageEdit second;
        do second = RandomSingle(rng, allowPng: false); while (second.Name == first.Name);
        // Label reads e.g. "hue+crop-corner:-24deg/bl-43%": names joined by '+', strengths in the same order by '/'.
        return new ImageEdit($"{first.Name}+{second.Name}", $"{first.Strength}/{second.Strength}", img =>
        {
            using var mid = first.Apply(img);
            return second.Apply(mid);
        }, ".jpg", Math.Min(first.JpegQuality, second.JpegQuality)); // the lower quality dominates a double recompression
    }

    static ImageEdit RandomSingle(Random rng, bool allowPng)
    {
        double U(double lo, double hi) => lo + (hi - lo) * rng.NextDouble();
        float Sign() => rng.Next(2) == 0 ? -1f : 1f;
        switch (rng.Next(allowPng ? 15 : 14))
        {
            case 0: return ResizeEdit(U(0.2, 0.8), rng.Next(75, 96));
            case 1: return JpegEdit(rng.Next(10, 51));
            case 2: return CropCenterEdit(U(0.3, 0.9));
            case 3: return CropCornerEdit(Corners[rng.Next(4)], U(0.3, 0.7));
            case 4: return BrightnessEdit((float)U(0.65, 1.35));
            case 5: return ContrastEdit((float)U(0.6, 1.4));
            case 6: return SaturationEdit((float)U(0.3, 1.8));
            case 7: return HueEdit(Sign() * (float)U(5, 30));
            case 8: return GrayscaleEdit();
            case 9:
                bool large = rng.Next(3) == 0;
                string pos = large ? "center" : new[] { "bottom-right", "bottom-left", "top-right", "top-left" }[rng.Next(4)];
                string text = WatermarkTexts[rng.Next(WatermarkTexts.Length)];
                float h = large ? (float)U(0.08, 0.16) : (float)U(0.025, 0.06);
                return WatermarkEdit(large ? "large-" + pos : "small-" + pos, text, (float)U(0.3, 0.85), h, pos);
            case 10: return MirrorEdit();
            case 11: return RotateEdit(Sign() * (float)U(1, 8));
            case 12: return FrameEdit(U(0.02, 0.08));
            case 13: return LetterboxEdit(U(0.05, 0.15));
            default: return PngEdit();
        }
    }

    // ---- Edit factories (shared by Battery and RandomEdit so both produce identical labels) ----

    static string F(double v, string fmt) => v.ToString(fmt, CultureInfo.InvariantCulture);
    static string Pct(double fraction) => F(fraction * 100, "0") + "%";
    static string SignedPct(float factor) => (factor >= 1 ? "+" : "-") + Pct(Math.Abs(factor - 1));

    public static ImageEdit ResizeEdit(double scale, int quality = 85) =>
        new("resize", F(scale, "0.##"), img => Resize(img, scale), JpegQuality: quality);
    public static ImageEdit JpegEdit(int quality) => new("jpeg", "q" + quality, img => img.Clone(), JpegQuality: quality);
    public static ImageEdit CropCenterEdit(double area) => new("crop-center", Pct(area), img => CropCenter(img, area));
    public static ImageEdit CropCornerEdit(string corner, double area) =>
        new("crop-corner", $"{corner}-{Pct(area)}", img => CropCorner(img, corner, area));
    public static ImageEdit BrightnessEdit(float f) => new("brightness", SignedPct(f), img => img.Clone(x => x.Brightness(f)));
    public static ImageEdit ContrastEdit(float f) => new("contrast", SignedPct(f), img => img.Clone(x => x.Contrast(f)));
    public static ImageEdit SaturationEdit(float f) => new("saturation", F(f, "0.##") + "x", img => img.Clone(x => x.Saturate(f)));
    public static ImageEdit HueEdit(float deg) => new("hue", (deg >= 0 ? "+" : "") + F(deg, "0.#") + "deg", img => img.Clone(x => x.Hue(deg)));
    public static ImageEdit GrayscaleEdit() => new("grayscale", "full", img => img.Clone(x => x.Grayscale()));
    public static ImageEdit MirrorEdit() => new("mirror", "h", img => img.Clone(x => x.Flip(FlipMode.Horizontal)));
    public static ImageEdit RotateEdit(float deg) => new("rotate", (deg >= 0 ? "+" : "") + F(deg, "0.#") + "deg", img => RotateAndCrop(img, deg));
    public static ImageEdit FrameEdit(double fraction) => new("border", "white-" + Pct(fraction), img => Frame(img, fraction, Color.White));
    public static ImageEdit LetterboxEdit(double fraction) => new("border", "black-" + Pct(fraction), img => Letterbox(img, fraction));
    public static ImageEdit PngEdit() => new("png", "lossless", img => img.Clone(), ".png");
    public static ImageEdit WatermarkEdit(string strength, string text, float opacity, float heightFraction, string position) =>
        new("watermark", strength, img => Watermark(img, text, opacity, heightFraction, position));

    // ---- Geometry helpers ----

    public static Image<Rgb24> Resize(Image<Rgb24> image, double scale) =>
        image.Clone(x => x.Resize(Math.Max(1, (int)Math.Round(image.Width * scale)), Math.Max(1, (int)Math.Round(image.Height * scale))));

    /// <summary>Keeps a centred window with ~<paramref name="areaFraction"/> of the area (same aspect ratio).</summary>
    public static Image<Rgb24> CropCenter(Image<Rgb24> image, double areaFraction)
    {
        var (w, h) = CropSize(image, areaFraction);
        return image.Clone(x => x.Crop(new Rectangle((image.Width - w) / 2, (image.Height - h) / 2, w, h)));
    }

    /// <summary>Keeps a window anchored at corner "tl", "tr", "bl" or "br" with ~<paramref name="areaFraction"/> of the area.</summary>
    public static Image<Rgb24> CropCorner(Image<Rgb24> image, string corner, double areaFraction)
    {
        var (w, h) = CropSize(image, areaFraction);
        int x0 = corner is "tr" or "br" ? image.Width - w : corner is "tl" or "bl" ? 0 : throw new ArgumentException($"Unknown corner '{corner}'.", nameof(corner));
        int y0 = corner[0] == 'b' ? image.Height - h : 0;
        return image.Clone(x => x.Crop(new Rectangle(x0, y0, w, h)));
    }

    static (int W, int H) CropSize(Image<Rgb24> image, double areaFraction)
    {
        double side = Math.Sqrt(Math.Clamp(areaFraction, 0.01, 1.0));
        return (Math.Clamp((int)Math.Round(image.Width * side), 1, image.Width), Math.Clamp((int)Math.Round(image.Height * side), 1, image.Height));
    }

    /// <summary>Rotates by <paramref name="degrees"/>, then crops the largest axis-aligned rectangle free of the fill corners.</summary>
    public static Image<Rgb24> RotateAndCrop(Image<Rgb24> image, float degrees)
    {
        var (cw, ch) = LargestRotatedRect(image.Width, image.Height, degrees * Math.PI / 180);
        return image.Clone(x =>
        {
            x.Rotate(degrees);
            var size = x.GetCurrentSize();
            // Shrink by 2 px per side: the resampler blends the black fill into the outermost edge pixels.
            int w = Math.Clamp((int)Math.Floor(cw) - 4, 1, size.Width), h = Math.Clamp((int)Math.Floor(ch) - 4, 1, size.Height);
            x.Crop(new Rectangle((size.Width - w) / 2, (size.Height - h) / 2, w, h));
        });
    }

    /// <summary>Largest axis-aligned rectangle inside a w x h rectangle rotated by <paramref name="radians"/> (standard closed form).</summary>
    public static (double Width, double Height) LargestRotatedRect(double w, double h, double radians)
    {
        double sin = Math.Abs(Math.Sin(radians)), cos = Math.Abs(Math.Cos(radians));
        if (sin < 1e-12) return (w, h);
        bool wide = w >= h;
        double longSide = wide ? w : h, shortSide = wide ? h : w;
        if (shortSide <= 2 * sin * cos * longSide || Math.Abs(sin - cos) < 1e-10)
        {
            // Half-constrained: two crop corners touch the longer side.
            double x = 0.5 * shortSide;
            return wide ? (x / sin, x / cos) : (x / cos, x / sin);
        }
        double cos2 = cos * cos - sin * sin;
        return ((w * cos - h * sin) / cos2, (h * cos - w * sin) / cos2);
    }

    /// <summary>Uniform frame of thickness <paramref name="fraction"/> x the shorter side.</summary>
    public static Image<Rgb24> Frame(Image<Rgb24> image, double fraction, Color color)
    {
        int t = Math.Max(1, (int)Math.Round(fraction * Math.Min(image.Width, image.Height)));
        return Pad(image, t, t, color);
    }

    /// <summary>Black bars above and below, each <paramref name="fraction"/> of the image height.</summary>
    public static Image<Rgb24> Letterbox(Image<Rgb24> image, double fraction) =>
        Pad(image, 0, Math.Max(1, (int)Math.Round(fraction * image.Height)), Color.Black);

    static Image<Rgb24> Pad(Image<Rgb24> image, int padX, int padY, Color color)
    {
        var canvas = new Image<Rgb24>(image.Width + 2 * padX, image.Height + 2 * padY, color.ToPixel<Rgb24>());
        canvas.Mutate(x => x.DrawImage(image, new Point(padX, padY), 1f)); // plain copy, no resampling
        return canvas;
    }

    // ---- Watermark with a built-in 5x7 bitmap font (ImageSharp.Drawing is not available) ----

    // Each glyph: 7 rows top to bottom as hex bytes, bit 4 = leftmost column. Lower case is drawn as upper case.
    static readonly Dictionary<char, string> Glyphs = new()
    {
        ['A'] = "0E11111F111111", ['B'] = "1E11111E11111E", ['C'] = "0E11101010110E", ['D'] = "1C12111111121C",
        ['E'] = "1F10101E10101F", ['F'] = "1F10101E101010", ['G'] = "0E11101711110F", ['H'] = "1111111F111111",
        ['I'] = "0E04040404040E", ['J'] = "0702020202120C", ['K'] = "11121418141211", ['L'] = "1010101010101F",
        ['M'] = "111B1515111111", ['N'] = "11111915131111", ['O'] = "0E11111111110E", ['P'] = "1E11111E101010",
        ['Q'] = "0E11111115120D", ['R'] = "1E11111E141211", ['S'] = "0F10100E01011E", ['T'] = "1F040404040404",
        ['U'] = "1111111111110E", ['V'] = "11111111110A04", ['W'] = "1111111515150A",
        ['X'] = "11110A040A1111", ['Y'] = "1111110A040404", ['Z'] = "1F01020408101F",
        ['0'] = "0E11131519110E", ['1'] = "040C040404040E", ['2'] = "0E11010204081F", ['3'] = "1F02040201110E",
        ['4'] = "02060A121F0202", ['5'] = "1F101E0101110E", ['6'] = "0608101E11110E", ['7'] = "1F010204080808",
        ['8'] = "0E11110E11110E", ['9'] = "0E11110F01020C",
        [' '] = "00000000000000", ['-'] = "0000001F000000", ['.'] = "00000000000C0C", ['&'] = "0C12140815120D",
        ['@'] = "0E11010D15150E", [':'] = "000C0C000C0C00",
    };

    const int GlyphW = 5, GlyphH = 7, Advance = GlyphW + 1;

    static bool GlyphPixel(char c, int col, int row)
    {
        if (col >= GlyphW || !Glyphs.TryGetValue(char.ToUpperInvariant(c), out var hex)) return false; // unknown chars render blank
        int bits = Convert.ToInt32(hex.Substring(row * 2, 2), 16);
        return (bits >> (GlyphW - 1 - col) & 1) != 0;
    }

    /// <summary>
    /// Alpha-blends <paramref name="text"/> as semi-transparent white letters with a dark outline, like an agency stamp.
    /// <paramref name="heightFraction"/> is the letter height relative to the image height (shrunk to fit the width);
    /// <paramref name="position"/>: "bottom-right", "bottom-left", "top-right", "top-left" or "center".
    /// </summary>
    public static Image<Rgb24> Watermark(Image<Rgb24> image, string text, float opacity, float heightFraction, string position)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = image.Clone();
        if (text.Length == 0) return result;
        int W = image.Width, H = image.Height, margin = Math.Max(2, (int)(0.03 * Math.Min(W, H)));
        // Size in font cells; scale is pixels per cell (float, nearest-neighbour sampled).
        int cellsW = text.Length * Advance - 1;
        float scale = Math.Min(heightFraction * H / GlyphH, (W - 2f * margin) / cellsW);
        scale = Math.Max(scale, 1f); // below 1 px per cell text is unreadable anyway
        int outline = Math.Max(1, (int)Math.Round(scale * 0.3));
        int tw = (int)Math.Ceiling(cellsW * scale), th = (int)Math.Ceiling(GlyphH * scale);
        int x0 = position switch
        {
            "bottom-right" or "top-right" => W - margin - tw,
            "bottom-left" or "top-left" => margin,
            "center" => (W - tw) / 2,
            _ => throw new ArgumentException($"Unknown position '{position}'.", nameof(position)),
        };
        int y0 = position.StartsWith("bottom", StringComparison.Ordinal) ? H - margin - th : position == "center" ? (H - th) / 2 : margin;

        // Fill mask over the text box plus outline padding, then outline = separable square dilation minus fill.
        int bw = tw + 2 * outline, bh = th + 2 * outline;
        var fill = new bool[bw, bh];
        for (int y = 0; y < th; y++)
            for (int x = 0; x < tw; x++)
            {
                int cx = (int)(x / scale), cy = Math.Min(GlyphH - 1, (int)(y / scale));
                int ci = cx / Advance;
                fill[x + outline, y + outline] = ci < text.Length && GlyphPixel(text[ci], cx % Advance, cy);
            }
        var rowMax = new bool[bw, bh];
        var dilated = new bool[bw, bh];
        for (int y = 0; y < bh; y++)
            for (int x = 0; x < bw; x++)
                for (int d = -outline; d <= outline && !rowMax[x, y]; d++)
                    rowMax[x, y] = x + d >= 0 && x + d < bw && fill[x + d, y];
        for (int y = 0; y < bh; y++)
            for (int x = 0; x < bw; x++)
                for (int d = -outline; d <= outline && !dilated[x, y]; d++)
                    dilated[x, y] = y + d >= 0 && y + d < bh && rowMax[x, y + d];

        float a = Math.Clamp(opacity, 0f, 1f);
        var white = new Rgb24(255, 255, 255);
        var dark = new Rgb24(25, 25, 25);
        result.ProcessPixelRows(acc =>
        {
            for (int by = 0; by < bh; by++)
            {
                int py = y0 - outline + by;
                if (py < 0 || py >= H) continue;
                var row = acc.GetRowSpan(py);
                for (int bx = 0; bx < bw; bx++)
                {
                    int px = x0 - outline + bx;
                    if (px < 0 || px >= W || !dilated[bx, by]) continue;
                    row[px] = Blend(row[px], fill[bx, by] ? white : dark, a);
                }
            }
        });
        return result;
    }

    static Rgb24 Blend(Rgb24 under, Rgb24 over, float a) => new(
        (byte)Math.Round(under.R + (over.R - under.R) * a),
        (byte)Math.Round(under.G + (over.G - under.G) * a),
        (byte)Math.Round(under.B + (over.B - under.B) * a));
}
