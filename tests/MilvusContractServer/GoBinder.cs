using System.Text.Json;

namespace HouseSimilarity.MilvusContract;

/// <summary>The Go type of a request struct field (request_v2.go), as far as JSON binding cares.</summary>
internal enum GoKind
{
    String,
    Int32,
    Int64,
    Bool,
    StringList,
    Map,            // map[string]interface{}
    MapList,        // []map[string]interface{}
    Any,            // interface{}
    AnyList,        // []interface{}
    Struct,
    StructList,
}

internal sealed record GoField(string Tag, string GoName, GoKind Kind, bool Required = false, GoStruct? Struct = null);

/// <summary>A Go request struct: its name (for error texts) and its json-tagged fields.</summary>
internal sealed class GoStruct(string goName, params GoField[] fields)
{
    public string GoName { get; } = goName;

    public IReadOnlyList<GoField> Fields { get; } = fields;

    /// <summary>encoding/json: an exact tag match first, else a case-insensitive one.</summary>
    public GoField? Find(string key) =>
        Fields.FirstOrDefault(f => f.Tag == key) ??
        Fields.FirstOrDefault(f => string.Equals(f.Tag, key, StringComparison.OrdinalIgnoreCase));
}

/// <summary>A request object after binding: values by canonical tag; JSON null counts as absent, as in Go.</summary>
internal sealed class Bound(GoStruct spec)
{
    private readonly Dictionary<string, JsonElement> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Bound> _structs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Bound>> _structLists = new(StringComparer.Ordinal);

    public GoStruct Spec { get; } = spec;

    public bool Has(string tag) => _values.ContainsKey(tag);

    public JsonElement? Element(string tag) => _values.TryGetValue(tag, out var e) ? e : null;

    public string Str(string tag, string fallback = "") => _values.TryGetValue(tag, out var e) ? e.GetString() ?? fallback : fallback;

    public int Int(string tag, int fallback) => _values.TryGetValue(tag, out var e) ? e.GetInt32() : fallback;

    public bool Bool(string tag) => _values.TryGetValue(tag, out var e) && e.GetBoolean();

    public List<string>? StrList(string tag) =>
        _values.TryGetValue(tag, out var e)
            ? e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Null ? string.Empty : x.GetString() ?? string.Empty).ToList()
            : null;

    public Bound? Struct(string tag) => _structs.GetValueOrDefault(tag);

    public List<Bound>? StructList(string tag) => _structLists.GetValueOrDefault(tag);

    internal void Set(string tag, JsonElement value) => _values[tag] = value;

    internal void Unset(string tag)
    {
        _values.Remove(tag);
        _structs.Remove(tag);
        _structLists.Remove(tag);
    }

    internal void SetStruct(string tag, Bound value) => _structs[tag] = value;

    internal void SetStructList(string tag, List<Bound> value) => _structLists[tag] = value;
}

/// <summary>
/// Emulates gin's ShouldBindBodyWith(binding.JSON): encoding/json decoding (type errors give 1801) followed by
/// go-playground/validator's <c>binding:"required"</c> on top-level fields (1802; nested slices are not dived into,
/// as in Milvus). Beyond Milvus: a key that matches no field is rejected with 1801, because Milvus silently ignores it.
/// </summary>
internal static class GoBinder
{
    public static Bound Bind(ReadOnlySpan<byte> body, GoStruct spec, string route)
    {
        if (IsBlank(body))
        {
            throw new MilvusException(Codes.IncorrectParameterFormat,
                "can only accept json format request, the request body should be nil, however {} is valid");
        }
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body.ToArray(), new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 256 });
        }
        catch (JsonException ex)
        {
            throw Err.Format("invalid JSON: " + ex.Message);
        }
        JsonElement root = doc.RootElement.Clone();
        doc.Dispose();
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw Err.Format($"json: cannot unmarshal {JsonKind(root)} into Go value of type httpserver.{spec.GoName}");
        }
        var bound = BindObject(root, spec, spec.GoName, route);
        var missing = new List<string>();
        foreach (var field in spec.Fields.Where(f => f.Required))
        {
            bool present = bound.Element(field.Tag) is { } e && field.Kind switch
            {
                GoKind.String => e.GetString() is { Length: > 0 },
                GoKind.Int32 or GoKind.Int64 => e.GetRawText() != "0",
                _ => true,
            };
            if (!present)
            {
                missing.Add($"Key: '{spec.GoName}.{field.GoName}' Error:Field validation for '{field.GoName}' failed on the 'required' tag");
            }
        }
        if (missing.Count > 0)
        {
            throw new MilvusException(Codes.MissingRequiredParameters,
                "missing required parameters, error: " + string.Join("\n", missing));
        }
        return bound;
    }

    private static bool IsBlank(ReadOnlySpan<byte> body)
    {
        foreach (byte b in body)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'))
            {
                return false;
            }
        }
        return true;
    }

    private static Bound BindObject(JsonElement obj, GoStruct spec, string path, string route)
    {
        var bound = new Bound(spec);
        foreach (var prop in obj.EnumerateObject())
        {
            var field = spec.Find(prop.Name)
                ?? throw Err.Format(
                    $"json: unknown field \"{prop.Name}\" in {path} (known: {string.Join(", ", spec.Fields.Select(f => f.Tag))}); " +
                    $"Milvus would silently ignore it, so the contract server rejects it ({route})");
            string fieldPath = path + "." + field.Tag;
            JsonElement v = prop.Value;
            if (v.ValueKind == JsonValueKind.Null)
            {
                bound.Unset(field.Tag);
                continue;
            }
            switch (field.Kind)
            {
                case GoKind.String:
                    Expect(v, JsonValueKind.String, fieldPath, "string");
                    break;
                case GoKind.Int32:
                    ExpectNumber(v, fieldPath, "int32", v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out _));
                    break;
                case GoKind.Int64:
                    ExpectNumber(v, fieldPath, "int64", v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out _));
                    break;
                case GoKind.Bool:
                    if (v.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                    {
                        throw TypeError(v, fieldPath, "bool");
                    }
                    break;
                case GoKind.StringList:
                    Expect(v, JsonValueKind.Array, fieldPath, "[]string");
                    foreach (var item in v.EnumerateArray())
                    {
                        if (item.ValueKind is not (JsonValueKind.String or JsonValueKind.Null))
                        {
                            throw TypeError(item, fieldPath, "string");
                        }
                    }
                    break;
                case GoKind.Map:
                    Expect(v, JsonValueKind.Object, fieldPath, "map[string]interface {}");
                    break;
                case GoKind.MapList:
                    Expect(v, JsonValueKind.Array, fieldPath, "[]map[string]interface {}");
                    foreach (var item in v.EnumerateArray())
                    {
                        if (item.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
                        {
                            throw TypeError(item, fieldPath, "map[string]interface {}");
                        }
                    }
                    break;
                case GoKind.AnyList:
                    Expect(v, JsonValueKind.Array, fieldPath, "[]interface {}");
                    break;
                case GoKind.Any:
                    break;
                case GoKind.Struct:
                    Expect(v, JsonValueKind.Object, fieldPath, "httpserver." + field.Struct!.GoName);
                    bound.SetStruct(field.Tag, BindObject(v, field.Struct, fieldPath, route));
                    break;
                case GoKind.StructList:
                    Expect(v, JsonValueKind.Array, fieldPath, "[]httpserver." + field.Struct!.GoName);
                    var list = new List<Bound>();
                    foreach (var item in v.EnumerateArray())
                    {
                        if (item.ValueKind == JsonValueKind.Null)
                        {
                            list.Add(new Bound(field.Struct));
                            continue;
                        }
                        Expect(item, JsonValueKind.Object, fieldPath, "httpserver." + field.Struct.GoName);
                        list.Add(BindObject(item, field.Struct, fieldPath, route));
                    }
                    bound.SetStructList(field.Tag, list);
                    break;
            }
            bound.Set(field.Tag, v);
        }
        return bound;
    }

    private static void Expect(JsonElement v, JsonValueKind kind, string path, string goType)
    {
        if (v.ValueKind != kind)
        {
            throw TypeError(v, path, goType);
        }
    }

    private static void ExpectNumber(JsonElement v, string path, string goType, bool ok)
    {
        if (!ok)
        {
            throw TypeError(v, path, goType);
        }
    }

    private static MilvusException TypeError(JsonElement v, string path, string goType)
    {
        string kind = v.ValueKind == JsonValueKind.Number ? "number " + v.GetRawText() : JsonKind(v);
        return Err.Format($"json: cannot unmarshal {kind} into Go struct field {path} of type {goType}");
    }

    public static string JsonKind(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Object => "object",
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "bool",
        _ => "null",
    };
}

/// <summary>The request structs of internal/distributed/proxy/httpserver/request_v2.go used by the routes served here.</summary>
internal static class RequestSpecs
{
    private static GoField F(string tag, GoKind kind, bool required = false, GoStruct? s = null) =>
        new(tag, char.ToUpperInvariant(tag[0]) + tag[1..], kind, required, s);

    public static readonly GoStruct Database = new("DatabaseReq", F("dbName", GoKind.String));

    public static readonly GoStruct CollectionName = new("CollectionNameReq",
        F("dbName", GoKind.String),
        F("collectionName", GoKind.String, required: true),
        F("partitionNames", GoKind.StringList));

    public static readonly GoStruct FieldSchema = new("FieldSchema",
        F("fieldName", GoKind.String),
        F("dataType", GoKind.String),
        F("elementDataType", GoKind.String),
        F("isPrimary", GoKind.Bool),
        F("isPartitionKey", GoKind.Bool),
        F("isClusteringKey", GoKind.Bool),
        F("elementTypeParams", GoKind.Map),
        F("nullable", GoKind.Bool),
        F("defaultValue", GoKind.Any),
        F("multiAnalyzerParam", GoKind.Any));

    public static readonly GoStruct CollectionSchema = new("CollectionSchema",
        F("fields", GoKind.StructList, s: FieldSchema),
        F("functions", GoKind.AnyList),
        F("autoID", GoKind.Bool),
        F("enableDynamicField", GoKind.Bool));

    public static readonly GoStruct IndexParam = new("IndexParam",
        F("fieldName", GoKind.String),
        F("indexName", GoKind.String),
        F("metricType", GoKind.String),
        F("indexType", GoKind.String),
        F("params", GoKind.Map));

    public static readonly GoStruct CollectionCreate = new("CollectionReq",
        F("dbName", GoKind.String),
        F("collectionName", GoKind.String, required: true),
        F("dimension", GoKind.Int32),
        F("idType", GoKind.String),
        F("autoID", GoKind.Bool),
        F("metricType", GoKind.String),
        F("primaryFieldName", GoKind.String),
        F("vectorFieldName", GoKind.String),
        F("schema", GoKind.Struct, s: CollectionSchema),
        F("indexParams", GoKind.StructList, s: IndexParam),
        F("params", GoKind.Map),
        F("description", GoKind.String));

    public static readonly GoStruct IndexCreate = new("IndexParamReq",
        F("dbName", GoKind.String),
        F("collectionName", GoKind.String, required: true),
        F("indexParams", GoKind.StructList, required: true, s: IndexParam));

    public static readonly GoStruct IndexName = new("IndexReq",
        F("dbName", GoKind.String),
        F("collectionName", GoKind.String, required: true),
        F("indexName", GoKind.String, required: true));

    public static readonly GoStruct Data = new("CollectionDataReq",
        F("dbName", GoKind.String),
        F("collectionName", GoKind.String, required: true),
        F("partitionName", GoKind.String),
        F("data", GoKind.MapList, required: true));

    public static readonly GoStruct Search = new("SearchReqV2",
        F("dbName", GoKind.String),
        F("collectionName", GoKind.String, required: true),
        F("data", GoKind.AnyList, required: true),
        F("annsField", GoKind.String),
        F("partitionNames", GoKind.StringList),
        F("filter", GoKind.String),
        F("groupingField", GoKind.String),
        F("groupSize", GoKind.Int32),
        F("strictGroupSize", GoKind.Bool),
        F("limit", GoKind.Int32),
        F("offset", GoKind.Int32),
        F("outputFields", GoKind.StringList),
        F("searchParams", GoKind.Map),
        F("consistencyLevel", GoKind.String),
        F("exprParams", GoKind.Map),
        F("functionScore", GoKind.Any),
        F("params", GoKind.Map));

    public static readonly GoStruct Query = new("QueryReqV2",
        F("dbName", GoKind.String),
        F("collectionName", GoKind.String, required: true),
        F("partitionNames", GoKind.StringList),
        F("outputFields", GoKind.StringList),
        F("filter", GoKind.String),
        F("limit", GoKind.Int32),
        F("offset", GoKind.Int32),
        F("exprParams", GoKind.Map),
        F("consistencyLevel", GoKind.String));

    public static readonly GoStruct Get = new("CollectionIDReq",
        F("dbName", GoKind.String),
        F("collectionName", GoKind.String, required: true),
        F("partitionName", GoKind.String),
        F("partitionNames", GoKind.StringList),
        F("outputFields", GoKind.StringList),
        new GoField("id", "ID", GoKind.Any, Required: true),
        F("consistencyLevel", GoKind.String));

    public static readonly GoStruct Delete = new("CollectionFilterReq",
        F("dbName", GoKind.String),
        F("collectionName", GoKind.String, required: true),
        F("partitionName", GoKind.String),
        F("filter", GoKind.String, required: true),
        F("exprParams", GoKind.Map));
}
