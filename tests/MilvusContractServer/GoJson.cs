using System.Buffers;
using System.Collections;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace HouseSimilarity.MilvusContract;

/// <summary>
/// Writes answers the way gin's c.JSON (Go encoding/json) does: map keys sorted, float32 values with the shortest
/// float32 text, and Go's choice between plain and exponent notation.
/// </summary>
internal static class GoJson
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    public static byte[] Serialize(object? value)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            Write(writer, value);
        }
        return buffer.WrittenSpan.ToArray();
    }

    private static void Write(Utf8JsonWriter w, object? value)
    {
        switch (value)
        {
            case null:
                w.WriteNullValue();
                break;
            case bool b:
                w.WriteBooleanValue(b);
                break;
            case string s:
                w.WriteStringValue(s);
                break;
            case int i:
                w.WriteNumberValue(i);
                break;
            case long l:
                w.WriteNumberValue(l);
                break;
            case float f:
                w.WriteRawValue(FormatFloat(f, 32), skipInputValidation: true);
                break;
            case double d:
                w.WriteRawValue(FormatFloat(d, 64), skipInputValidation: true);
                break;
            case float[] vector:
                w.WriteStartArray();
                foreach (float f in vector)
                {
                    w.WriteRawValue(FormatFloat(f, 32), skipInputValidation: true);
                }
                w.WriteEndArray();
                break;
            case JsonElement element:
                element.WriteTo(w);
                break;
            case IDictionary<string, object?> map:
                w.WriteStartObject();
                foreach (string key in map.Keys.OrderBy(k => k, StringComparer.Ordinal))
                {
                    w.WritePropertyName(key);
                    Write(w, map[key]);
                }
                w.WriteEndObject();
                break;
            case IEnumerable list:
                w.WriteStartArray();
                foreach (object? item in list)
                {
                    Write(w, item);
                }
                w.WriteEndArray();
                break;
            default:
                throw new InvalidOperationException("cannot write " + value.GetType());
        }
    }

    /// <summary>Go's encoding/json float formatting (strconv 'f', or 'e' below 1e-6 and from 1e21 on).</summary>
    public static string FormatFloat(double value, int bits)
    {
        if (double.IsNaN(value) || double.IsInfinity(value))
        {
            throw new InvalidOperationException("json: unsupported value: " + value.ToString(CultureInfo.InvariantCulture));
        }
        string r = bits == 32
            ? ((float)value).ToString("R", CultureInfo.InvariantCulture)
            : value.ToString("R", CultureInfo.InvariantCulture);
        bool negative = r.StartsWith('-');
        if (negative)
        {
            r = r[1..];
        }
        int exponentPart = 0;
        int e = r.IndexOfAny(['E', 'e']);
        if (e >= 0)
        {
            exponentPart = int.Parse(r[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..e];
        }
        int dot = r.IndexOf('.');
        string intPart = dot >= 0 ? r[..dot] : r;
        string fracPart = dot >= 0 ? r[(dot + 1)..] : string.Empty;
        string all = intPart + fracPart;
        int leadingZeros = 0;
        while (leadingZeros < all.Length && all[leadingZeros] == '0')
        {
            leadingZeros++;
        }
        string digits = all[leadingZeros..].TrimEnd('0');
        if (digits.Length == 0)
        {
            return negative ? "-0" : "0";
        }
        int exp10 = intPart.Length - leadingZeros - 1 + exponentPart; // value = d.ddd x 10^exp10
        double abs = Math.Abs(value);
        bool useExponent = bits == 32
            ? (float)abs < 1e-6f || (float)abs >= 1e21f
            : abs < 1e-6 || abs >= 1e21;
        var sb = new System.Text.StringBuilder();
        if (negative)
        {
            sb.Append('-');
        }
        if (useExponent)
        {
            sb.Append(digits[0]);
            if (digits.Length > 1)
            {
                sb.Append('.').Append(digits, 1, digits.Length - 1);
            }
            sb.Append('e').Append(exp10 < 0 ? '-' : '+');
            int absExp = Math.Abs(exp10);
            // strconv writes at least two exponent digits; encoding/json then shortens "e-07" to "e-7".
            sb.Append(exp10 < 0 ? absExp.ToString(CultureInfo.InvariantCulture) : absExp.ToString("00", CultureInfo.InvariantCulture));
        }
        else if (exp10 >= 0)
        {
            if (digits.Length <= exp10 + 1)
            {
                sb.Append(digits).Append('0', exp10 + 1 - digits.Length);
            }
            else
            {
                sb.Append(digits, 0, exp10 + 1).Append('.').Append(digits, exp10 + 1, digits.Length - exp10 - 1);
            }
        }
        else
        {
            sb.Append("0.").Append('0', -exp10 - 1).Append(digits);
        }
        return sb.ToString();
    }
}
