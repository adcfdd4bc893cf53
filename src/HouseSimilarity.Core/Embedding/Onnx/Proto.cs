using System.Buffers.Binary;
using System.Text;

namespace HouseSimilarity.Embedding.Onnx;

/// <summary>One field of a protocol buffers message, kept as raw bytes so untouched fields round-trip exactly.</summary>
internal readonly record struct ProtoField(int Number, int WireType, ulong Value, ReadOnlyMemory<byte> Bytes)
{
    public string Text => Encoding.UTF8.GetString(Bytes.Span);

    public static ProtoField Varint(int number, long value) => new(number, 0, (ulong)value, default);

    public static ProtoField Fixed32(int number, float value) =>
        new(number, 5, BitConverter.SingleToUInt32Bits(value), default);

    public static ProtoField Message(int number, ReadOnlyMemory<byte> bytes) => new(number, 2, 0, bytes);

    public static ProtoField String(int number, string text) => Message(number, Encoding.UTF8.GetBytes(text));

    public static ProtoField Message(int number, IEnumerable<ProtoField> fields) => Message(number, Proto.Write(fields));
}

/// <summary>
/// The small subset of protocol buffers needed to read and compose ONNX models: fields in, fields out.
/// (No ONNX or protobuf code generator is available to the build, and the graph surgery is small.)
/// </summary>
internal static class Proto
{
    public static List<ProtoField> Parse(ReadOnlyMemory<byte> message)
    {
        var fields = new List<ProtoField>();
        int position = 0;
        ReadOnlySpan<byte> span = message.Span;
        while (position < span.Length)
        {
            ulong key = ReadVarint(span, ref position);
            int number = (int)(key >> 3), wire = (int)(key & 7);
            switch (wire)
            {
                case 0:
                    fields.Add(new ProtoField(number, wire, ReadVarint(span, ref position), default));
                    break;
                case 1:
                    fields.Add(new ProtoField(number, wire, BinaryPrimitives.ReadUInt64LittleEndian(span[position..]), default));
                    position += 8;
                    break;
                case 2:
                    int length = (int)ReadVarint(span, ref position);
                    fields.Add(new ProtoField(number, wire, 0, message.Slice(position, length)));
                    position += length;
                    break;
                case 5:
                    fields.Add(new ProtoField(number, wire, BinaryPrimitives.ReadUInt32LittleEndian(span[position..]), default));
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"Unsupported protobuf wire type {wire} in field {number}.");
            }
        }
        return fields;
    }

    public static byte[] Write(IEnumerable<ProtoField> fields)
    {
        using var stream = new MemoryStream();
        Span<byte> scratch = stackalloc byte[8];
        foreach (var field in fields)
        {
            WriteVarint(stream, ((ulong)field.Number << 3) | (uint)field.WireType);
            switch (field.WireType)
            {
                case 0:
                    WriteVarint(stream, field.Value);
                    break;
                case 1:
                    BinaryPrimitives.WriteUInt64LittleEndian(scratch, field.Value);
                    stream.Write(scratch);
                    break;
                case 2:
                    WriteVarint(stream, (ulong)field.Bytes.Length);
                    stream.Write(field.Bytes.Span);
                    break;
                case 5:
                    BinaryPrimitives.WriteUInt32LittleEndian(scratch, (uint)field.Value);
                    stream.Write(scratch[..4]);
                    break;
            }
        }
        return stream.ToArray();
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> span, ref int position)
    {
        ulong result = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = span[position++];
            result |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return result;
            }
        }
    }

    private static void WriteVarint(Stream stream, ulong value)
    {
        while (value >= 0x80)
        {
            stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        stream.WriteByte((byte)value);
    }
}
