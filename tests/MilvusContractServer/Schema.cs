using System.Globalization;
using System.Text;
using System.Text.Json;

namespace HouseSimilarity.MilvusContract;

/// <summary>The data types this server stores. Other valid schemapb.DataType names are rejected as unsupported.</summary>
internal enum FieldType
{
    Bool,
    Int8,
    Int16,
    Int32,
    Int64,
    Float,
    Double,
    VarChar,
    FloatVector,
}

internal sealed class FieldDef
{
    public required string Name { get; init; }
    public required long Id { get; init; }
    public required FieldType Type { get; init; }
    public bool IsPrimary { get; init; }
    public bool AutoId { get; init; }
    public int Dim { get; init; }
    public int MaxLength { get; init; }
    public List<KeyValuePair<string, string>> TypeParams { get; init; } = [];

    public bool IsVector => Type == FieldType.FloatVector;

    public bool IsInteger => Type is FieldType.Int8 or FieldType.Int16 or FieldType.Int32 or FieldType.Int64;

    public bool IsFloating => Type is FieldType.Float or FieldType.Double;
}

internal sealed class IndexDef
{
    public required string FieldName { get; init; }
    public required string IndexName { get; init; }
    public required string IndexType { get; init; }   // HNSW, IVF_FLAT, FLAT, AUTOINDEX
    public required string MetricType { get; init; }  // L2, IP, COSINE
    public required SortedDictionary<string, string> Params { get; init; }
    public int Nlist { get; init; }

    public string Signature => IndexName + "|" + IndexType + "|" + MetricType + "|" +
        string.Join(",", Params.Select(p => p.Key + "=" + p.Value));
}

internal enum LoadState
{
    NotLoad,
    Loading,
    Loaded,
}

/// <summary>One stored row version. Deleting (or upserting over) a row stamps DeleteTs; rows are never rewritten.</summary>
internal sealed class Row
{
    public required long Seq { get; init; }
    public required object?[] Values { get; init; }
    public Dictionary<string, JsonElement>? Dynamic { get; init; }
    public required long InsertTs { get; init; }
    public long? DeleteTs { get; set; }
}

internal sealed class Collection
{
    public required string Name { get; init; }
    public required long Id { get; init; }
    public required string Description { get; init; }
    public required List<FieldDef> Fields { get; init; }
    public required FieldDef Pk { get; init; }
    public required bool EnableDynamic { get; init; }
    public required string ConsistencyLevel { get; init; }
    public required int ShardsNum { get; init; }
    public required List<KeyValuePair<string, string>> Properties { get; init; }
    public required string Signature { get; init; }
    public Dictionary<string, IndexDef> Indexes { get; } = new(StringComparer.Ordinal);
    public LoadState Load { get; set; } = LoadState.NotLoad;
    public long LoadStartTs { get; set; }
    public List<Row> Rows { get; } = [];
    public long NextAutoId { get; set; } = 450_000_000_000_000_000L;

    public FieldDef? Field(string name) => Fields.FirstOrDefault(f => f.Name == name);

    public int FieldIndex(string name) => Fields.FindIndex(f => f.Name == name);
}

/// <summary>Name and schema rules of internal/proxy/validate_util.go and util.go (validateCollectionName, validateFieldName, ...).</summary>
internal static class SchemaRules
{
    public const int MaxNameLength = 255;      // proxy.maxNameLength
    public const int MaxDimension = 32768;     // proxy.maxDimension
    public const int MaxVarCharLength = 65535; // proxy.maxVarCharLength
    public const int MaxFields = 64;           // proxy.maxFieldNum

    /// <summary>schemapb.DataType names of milvus-proto 2.5/2.6 (case-sensitive, as DataType_value is).</summary>
    public static readonly HashSet<string> ProtoDataTypes = new(StringComparer.Ordinal)
    {
        "None", "Bool", "Int8", "Int16", "Int32", "Int64", "Float", "Double", "String", "VarChar", "Array", "JSON",
        "Geometry", "Text", "Timestamptz", "BinaryVector", "FloatVector", "Float16Vector", "BFloat16Vector",
        "SparseFloatVector", "Int8Vector", "ArrayOfVector", "ArrayOfStruct",
    };

    public static readonly string[] ConsistencyLevels = ["Strong", "Session", "Bounded", "Eventually", "Customized"];

    public static void ValidateName(string name, string entity)
    {
        string n = name.Trim();
        string title = char.ToUpperInvariant(entity[0]) + entity[1..];
        if (n.Length == 0)
        {
            throw Err.Invalid($"{entity} name should not be empty");
        }
        if (n.Length > MaxNameLength)
        {
            throw Err.Invalid($"Invalid {entity} name: {name}. the length of a {entity} name must be less than {MaxNameLength} characters");
        }
        char first = n[0];
        if (first != '_' && !IsAsciiLetter(first))
        {
            throw Err.Invalid($"Invalid {entity} name: {name}. the first character of a {entity} name must be an underscore or letter");
        }
        foreach (char c in n)
        {
            if (c != '_' && !IsAsciiLetter(c) && c is not (>= '0' and <= '9'))
            {
                throw Err.Invalid($"Invalid {entity} name: {name}. {title} name can only contain numbers, letters and underscores");
            }
        }
        if (n != name)
        {
            throw Err.Invalid($"Invalid {entity} name: \"{name}\". leading or trailing spaces are trimmed by Milvus; the contract server rejects them");
        }
    }

    private static bool IsAsciiLetter(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z');

    public static void ValidateDbName(Bound req, string? headerDb)
    {
        string db = req.Str("dbName");
        if (db.Length == 0)
        {
            db = headerDb ?? string.Empty;
        }
        if (db.Length != 0 && db != "default")
        {
            throw new MilvusException(Codes.DatabaseNotFound, $"database not found[database={db}]");
        }
    }

    public static string ConsistencyOrDefault(string? requested, string collectionLevel)
    {
        if (string.IsNullOrEmpty(requested))
        {
            return collectionLevel;
        }
        if (!ConsistencyLevels.Contains(requested, StringComparer.Ordinal))
        {
            throw new MilvusException(Codes.ParameterInvalid,
                "consistencyLevel can only be [Strong, Session, Bounded, Eventually, Customized], default: Bounded, err:" +
                $"parameter:'{requested}' is incorrect, please check it: invalid parameter");
        }
        return requested;
    }

    /// <summary>A type param value: strings as they are, numbers as their JSON text (getElementTypeParams).</summary>
    public static string ParamText(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => v.GetString() ?? string.Empty,
        JsonValueKind.Number => v.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => v.GetRawText(),
    };

    public static int Utf8Length(string s) => Encoding.UTF8.GetByteCount(s);

    public static bool TryParseInt(string text, out long value) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
}
