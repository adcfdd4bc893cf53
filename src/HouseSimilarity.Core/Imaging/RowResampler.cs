namespace HouseSimilarity.Imaging;

/// <summary>
/// Reduces an image fed row by row (top to bottom) to a small planar R, G, B image with a triangle filter whose support
/// grows with the reduction (an area-weighted average, as a full-size resize would give). Only one input row is ever
/// needed, so a photo is reduced while it is decoded and never held whole. Alpha is flattened onto white on the way.
/// </summary>
internal sealed class RowResampler
{
    private readonly int _sourceWidth, _sourceHeight, _width, _height;
    private readonly Taps _columns, _rows;
    private readonly float[] _output, _row;
    private int _nextRow, _firstOpen;

    /// <param name="output">At least 3 x width x height values; filled in planar R, G, B order.</param>
    /// <param name="extent">
    /// How much of the photo the source rows and columns span, in source pixels, when the decoder rounded its reduced
    /// size up (JPEG at 3/8 of 683 rows gives 257 rows for 256.1 rows' worth): the filter is laid on the photo, not on
    /// the rounded grid, so a photo and its turned copy give the same pixels.
    /// </param>
    public RowResampler(int sourceWidth, int sourceHeight, int width, int height, float[] output, (double Width, double Height)? extent = null)
    {
        _sourceWidth = sourceWidth;
        _sourceHeight = sourceHeight;
        _width = width;
        _height = height;
        _columns = new Taps(sourceWidth, extent?.Width ?? sourceWidth, width);
        _rows = new Taps(sourceHeight, extent?.Height ?? sourceHeight, height);
        _output = output;
        Array.Clear(_output, 0, 3 * width * height);
        _row = new float[3 * width];
    }

    public int RowsAdded => _nextRow;

    /// <summary>
    /// Adds the next source row: 4 bytes a pixel, R, G, B, A, with colour premultiplied by alpha (or opaque), which is
    /// what a transparent pixel on white needs: colour + (255 - alpha).
    /// </summary>
    public void AddRow(ReadOnlySpan<byte> rgba, bool hasAlpha)
    {
        if (_nextRow >= _sourceHeight)
        {
            throw new InvalidOperationException("More rows than the image has.");
        }
        // Horizontal pass: this row reduced to the output's width.
        for (int x = 0; x < _width; x++)
        {
            int start = _columns.Start[x];
            ReadOnlySpan<float> weights = _columns.Weights(x);
            float r = 0, g = 0, b = 0;
            for (int k = 0; k < weights.Length; k++)
            {
                int i = 4 * (start + k);
                float w = weights[k];
                if (hasAlpha)
                {
                    float white = 255 - rgba[i + 3];
                    r += w * (rgba[i] + white);
                    g += w * (rgba[i + 1] + white);
                    b += w * (rgba[i + 2] + white);
                }
                else
                {
                    r += w * rgba[i];
                    g += w * rgba[i + 1];
                    b += w * rgba[i + 2];
                }
            }
            _row[x] = r;
            _row[_width + x] = g;
            _row[2 * _width + x] = b;
        }
        // Vertical pass: the reduced row goes into every output row whose window covers it (at most a few).
        int y = _nextRow++;
        while (_firstOpen < _height && _rows.Start[_firstOpen] + _rows.Count(_firstOpen) <= y)
        {
            _firstOpen++;
        }
        int plane = _width * _height;
        for (int oy = _firstOpen; oy < _height && _rows.Start[oy] <= y; oy++)
        {
            int k = y - _rows.Start[oy];
            if (k >= _rows.Count(oy))
            {
                continue;
            }
            float w = _rows.Weights(oy)[k];
            int offset = oy * _width;
            for (int x = 0; x < _width; x++)
            {
                _output[offset + x] += w * _row[x];
                _output[plane + offset + x] += w * _row[_width + x];
                _output[2 * plane + offset + x] += w * _row[2 * _width + x];
            }
        }
    }

    /// <summary>After the last row: clamps to 0..255 (the filter is positive, so only rounding can overshoot).</summary>
    public void Finish()
    {
        if (_nextRow != _sourceHeight)
        {
            throw new InvalidOperationException($"Only {_nextRow} of {_sourceHeight} rows were added.");
        }
        var values = _output.AsSpan(0, 3 * _width * _height);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = Math.Clamp(values[i], 0f, 255f);
        }
    }

    /// <summary>Which source samples make each output sample, and their normalised triangle weights.</summary>
    private sealed class Taps
    {
        private readonly int _stride;
        private readonly float[] _weights;
        private readonly int[] _counts;
        public readonly int[] Start;

        public Taps(int source, double extent, int target)
        {
            double scale = Math.Min(extent, source) / target;
            double radius = Math.Max(1.0, scale);
            _stride = (int)Math.Ceiling(2 * radius) + 1;
            Start = new int[target];
            _counts = new int[target];
            _weights = new float[target * _stride];
            for (int o = 0; o < target; o++)
            {
                double center = (o + 0.5) * scale - 0.5;
                int first = Math.Max(0, (int)Math.Floor(center - radius) + 1);
                int last = Math.Min(source - 1, (int)Math.Ceiling(center + radius) - 1);
                if (last < first)
                {
                    // Enlarging near an edge: the nearest sample.
                    first = last = Math.Clamp((int)Math.Round(center), 0, source - 1);
                }
                double sum = 0;
                int count = Math.Min(last - first + 1, _stride);
                for (int k = 0; k < count; k++)
                {
                    double w = Math.Max(0, 1 - Math.Abs(first + k - center) / radius);
                    _weights[o * _stride + k] = (float)w;
                    sum += w;
                }
                if (sum <= 0)
                {
                    _weights[o * _stride] = 1;
                    sum = 1;
                }
                for (int k = 0; k < count; k++)
                {
                    _weights[o * _stride + k] = (float)(_weights[o * _stride + k] / sum);
                }
                Start[o] = first;
                _counts[o] = count;
            }
        }

        public int Count(int o) => _counts[o];
        public ReadOnlySpan<float> Weights(int o) => _weights.AsSpan(o * _stride, _counts[o]);
    }

    /// <summary>
    /// Turns the planar image from stored to displayed orientation (EXIF values 1-8), in place through
    /// <paramref name="scratch"/>. Orientations 5-8 swap width and height.
    /// </summary>
    public static void Orient(float[] pixels, int width, int height, int orientation, float[] scratch)
    {
        if (orientation is < 2 or > 8)
        {
            return;
        }
        int plane = width * height;
        Array.Copy(pixels, scratch, 3 * plane);
        bool swap = orientation >= 5;
        int outWidth = swap ? height : width, outHeight = swap ? width : height;
        for (int y = 0; y < outHeight; y++)
        {
            for (int x = 0; x < outWidth; x++)
            {
                (int sx, int sy) = orientation switch
                {
                    2 => (width - 1 - x, y),
                    3 => (width - 1 - x, height - 1 - y),
                    4 => (x, height - 1 - y),
                    5 => (y, x),
                    6 => (y, height - 1 - x),
                    7 => (width - 1 - y, height - 1 - x),
                    _ => (width - 1 - y, x),
                };
                int to = y * outWidth + x, from = sy * width + sx;
                pixels[to] = scratch[from];
                pixels[plane + to] = scratch[plane + from];
                pixels[2 * plane + to] = scratch[2 * plane + from];
            }
        }
    }
}
