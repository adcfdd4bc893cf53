using System.Globalization;
using System.Text;
using System.Text.Json;

namespace HouseSimilarity.MilvusContract;

using Json = Dictionary<string, object?>;

/// <summary>collections/create: createCollection in handler_v2.go, then createCollectionTask (internal/proxy/task.go).</summary>
internal sealed partial class Engine
{
    private sealed record CreateParams(string Consistency, int Shards, List<KeyValuePair<string, string>> Properties, bool? QuickDynamic, string? QuickMaxLength);

    public Json CreateCollection(Bound req, RequestContext ctx)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        string name = req.Str("collectionName");
        var schema = req.Struct("schema");
        var fieldsReq = schema?.StructList("fields");
        bool quick = fieldsReq == null || fieldsReq.Count == 0;

        if (schema?.Element("functions") is { ValueKind: JsonValueKind.Array } fn && fn.GetArrayLength() > 0)
        {
            if (quick)
            {
                throw Err.InvalidExpected("schema", "functions", "functions are not supported for quickly create collection");
            }
            throw Err.NotSupported("schema.functions");
        }

        var p = ParseCreateParams(req.Element("params"), quick);
        List<FieldDef> fields;
        bool enableDynamic;
        if (quick)
        {
            foreach (string tag in new[] { "autoID", "enableDynamicField" })
            {
                if (schema != null && schema.Has(tag))
                {
                    throw Err.Invalid($"schema.{tag} is ignored by Milvus when schema.fields is empty (quick create); the contract server rejects it");
                }
            }
            if (req.StructList("indexParams") is { Count: > 0 })
            {
                throw Err.Invalid("indexParams are ignored by Milvus in a quick create (no schema.fields); the contract server rejects them");
            }
            fields = QuickFields(req, p);
            enableDynamic = p.QuickDynamic ?? true;
        }
        else
        {
            foreach (string tag in new[] { "dimension", "idType", "autoID", "metricType", "primaryFieldName", "vectorFieldName" })
            {
                if (req.Has(tag))
                {
                    throw Err.Invalid($"{tag} belongs to a quick create and is ignored by Milvus when schema.fields is given; the contract server rejects it");
                }
            }
            fields = CustomFields(schema!, fieldsReq!);
            enableDynamic = schema!.Bool("enableDynamicField");
        }

        SchemaRules.ValidateName(name, "collection");
        ValidateSchema(name, fields);
        var pk = fields.Single(f => f.IsPrimary);
        string description = req.Str("description");
        string signature = Signature(description, fields, enableDynamic, p);

        lock (_gate)
        {
            var c = Find(name);
            if (c == null)
            {
                c = new Collection
                {
                    Name = name,
                    Id = _nextCollectionId++,
                    Description = description,
                    Fields = fields,
                    Pk = pk,
                    EnableDynamic = enableDynamic,
                    ConsistencyLevel = p.Consistency,
                    ShardsNum = p.Shards,
                    Properties = p.Properties,
                    Signature = signature,
                };
                _collections.Add(c);
            }
            else if (c.Signature != signature)
            {
                throw Err.Unexpected($"create duplicate collection with different parameters, collection: {name}");
            }
            // else: rootcoord makes an identical create idempotent.

            // Milvus has created the collection at this point; a failing index below leaves it without index, not loaded.
            if (quick)
            {
                var vector = fields.First(f => f.IsVector);
                string metric = req.Str("metricType");
                var ip = GoBinder.Bind(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["fieldName"] = vector.Name,
                    ["indexName"] = vector.Name,
                    ["metricType"] = metric.Length == 0 ? "COSINE" : metric, // constant.go DefaultMetricType = COSINE
                    ["indexType"] = "AUTOINDEX",
                })), RequestSpecs.IndexParam, ctx.Route);
                AddIndex(c, ip);
            }
            else
            {
                var indexParams = req.StructList("indexParams");
                if (indexParams == null || indexParams.Count == 0)
                {
                    return Ok(new Json());
                }
                foreach (var ip in indexParams)
                {
                    string fieldName = ip.Str("fieldName");
                    if (!fields.Any(f => f.Name == fieldName))
                    {
                        throw new MilvusException(Codes.MissingRequiredParameters,
                            $"missing required parameters, error: `{fieldName}` hasn't defined in schema");
                    }
                    AddIndex(c, ip);
                }
            }
            StartLoad(c);
            return Ok(new Json());
        }
    }

    private static CreateParams ParseCreateParams(JsonElement? element, bool quick)
    {
        string consistency = "Bounded";
        int shards = 1;
        var properties = new List<KeyValuePair<string, string>>();
        bool? quickDynamic = null;
        string? quickMaxLength = null;
        if (element is not { } e)
        {
            return new CreateParams(consistency, shards, properties, quickDynamic, quickMaxLength);
        }
        foreach (var kv in e.EnumerateObject())
        {
            switch (kv.Name)
            {
                case "consistencyLevel":
                    string level = kv.Value.ValueKind == JsonValueKind.String ? kv.Value.GetString()! : kv.Value.GetRawText();
                    if (!SchemaRules.ConsistencyLevels.Contains(level, StringComparer.Ordinal))
                    {
                        throw Err.InvalidExpected("Strong, Session, Bounded, Eventually, Customized", level,
                            "consistencyLevel can only be [Strong, Session, Bounded, Eventually, Customized], default: Bounded");
                    }
                    consistency = level;
                    break;
                case "shardsNum":
                    if (!TryInt(kv.Value, out long s))
                    {
                        throw Err.Invalid($"params.shardsNum must be an integer, got {kv.Value.GetRawText()} (Milvus would silently use 1)");
                    }
                    if (s < 1 || s > MaxShards)
                    {
                        throw Err.Invalid($"maximum shards's number should be limited to {MaxShards}");
                    }
                    shards = (int)s;
                    break;
                case "ttlSeconds":
                    if (!TryInt(kv.Value, out long ttl) || ttl < 0)
                    {
                        throw Err.Invalid($"params.ttlSeconds must be a non-negative integer, got {kv.Value.GetRawText()}");
                    }
                    properties.Add(new("collection.ttl.seconds", ttl.ToString(CultureInfo.InvariantCulture)));
                    break;
                case "enableDynamicField" when quick:
                    quickDynamic = kv.Value.ValueKind switch
                    {
                        JsonValueKind.True => true,
                        JsonValueKind.False => false,
                        JsonValueKind.String when bool.TryParse(kv.Value.GetString(), out bool b) => b,
                        _ => throw Err.Invalid("parse enableDynamicField fail, err:strconv.ParseBool: parsing " + kv.Value.GetRawText() + ": invalid syntax"),
                    };
                    break;
                case "max_length" when quick:
                    quickMaxLength = SchemaRules.ParamText(kv.Value);
                    break;
                case "enableDynamicField":
                    throw Err.Invalid("params.enableDynamicField is ignored by Milvus when schema.fields is given; set schema.enableDynamicField");
                default:
                    throw Err.Invalid($"params.{kv.Name} is not a collection parameter the contract server knows (known: consistencyLevel, shardsNum, ttlSeconds" +
                        (quick ? ", enableDynamicField, max_length" : string.Empty) + "); Milvus would silently ignore it");
            }
        }
        return new CreateParams(consistency, shards, properties, quickDynamic, quickMaxLength);
    }

    private static List<FieldDef> QuickFields(Bound req, CreateParams p)
    {
        int dim = req.Int("dimension", 0);
        if (dim == 0)
        {
            throw Err.InvalidExpected("collectionName & dimension", "collectionName",
                "dimension is required for quickly create collection(default metric type: COSINE)");
        }
        string idType = req.Str("idType");
        FieldType pkType;
        var pkParams = new List<KeyValuePair<string, string>>();
        int maxLength = 0;
        switch (idType)
        {
            case "VarChar" or "Varchar":
                pkType = FieldType.VarChar;
                string ml = p.QuickMaxLength ?? "<nil>";
                pkParams.Add(new("max_length", ml));
                maxLength = ParseMaxLength(ml, req.Str("primaryFieldName", "id"), req.Str("collectionName"));
                break;
            case "" or "Int64" or "int64":
                pkType = FieldType.Int64;
                break;
            default:
                throw Err.InvalidExpected("Int64, Varchar", idType, "idType can only be [Int64, VarChar], default: Int64");
        }
        string pkName = req.Str("primaryFieldName");
        string vecName = req.Str("vectorFieldName");
        return
        [
            new FieldDef
            {
                Name = pkName.Length == 0 ? "id" : pkName,
                Id = 100,
                Type = pkType,
                IsPrimary = true,
                AutoId = req.Bool("autoID"),
                MaxLength = maxLength,
                TypeParams = pkParams,
            },
            new FieldDef
            {
                Name = vecName.Length == 0 ? "vector" : vecName,
                Id = 101,
                Type = FieldType.FloatVector,
                Dim = CheckDim(dim.ToString(CultureInfo.InvariantCulture), vecName.Length == 0 ? "vector" : vecName),
                TypeParams = [new("dim", dim.ToString(CultureInfo.InvariantCulture))],
            },
        ];
    }

    private static List<FieldDef> CustomFields(Bound schema, List<Bound> fieldsReq)
    {
        bool autoId = schema.Bool("autoID");
        var fields = new List<FieldDef>();
        long id = 100; // common.StartOfUserFieldID
        foreach (var f in fieldsReq)
        {
            string name = f.Str("fieldName");
            string dataType = f.Str("dataType");
            if (!SchemaRules.ProtoDataTypes.Contains(dataType))
            {
                throw new MilvusException(Codes.ParameterInvalid, $"invalid parameter, data type {dataType} is invalid(case sensitive).");
            }
            if (!Enum.TryParse(dataType, ignoreCase: false, out FieldType type) || dataType == "None")
            {
                throw Err.NotSupported($"data type {dataType} (field {name})");
            }
            if (f.Str("elementDataType").Length > 0)
            {
                throw Err.Invalid($"elementDataType is only used by Array fields and is ignored for {dataType} field {name}; the contract server rejects it");
            }
            if (f.Bool("nullable") || f.Has("defaultValue"))
            {
                throw Err.NotSupported($"nullable fields and default values (field {name})");
            }
            if (f.Bool("isPartitionKey") || f.Bool("isClusteringKey"))
            {
                throw Err.NotSupported($"partition and clustering keys (field {name})");
            }
            if (f.Has("multiAnalyzerParam"))
            {
                throw Err.NotSupported($"multiAnalyzerParam (field {name})");
            }
            var typeParams = new List<KeyValuePair<string, string>>();
            if (f.Element("elementTypeParams") is { } etp)
            {
                foreach (var kv in etp.EnumerateObject())
                {
                    if (kv.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Array or JsonValueKind.Null)
                    {
                        throw Err.Invalid($"elementTypeParams.{kv.Name} of field {name} must be a string or a number");
                    }
                    typeParams.Add(new(kv.Name, SchemaRules.ParamText(kv.Value)));
                }
            }
            string? dimText = null;
            string? maxLengthText = null;
            foreach (var (key, value) in typeParams)
            {
                if (key == "dim" && type == FieldType.FloatVector)
                {
                    dimText = value;
                }
                else if (key == "max_length" && type == FieldType.VarChar)
                {
                    maxLengthText = value;
                }
                else
                {
                    throw Err.Invalid($"elementTypeParams key '{key}' does not apply to the {dataType} field {name} (keys are case-sensitive: dim for vectors, max_length for VarChar); Milvus would ignore it");
                }
            }
            bool isPrimary = f.Bool("isPrimary");
            fields.Add(new FieldDef
            {
                Name = name,
                Id = id++,
                Type = type,
                IsPrimary = isPrimary,
                AutoId = isPrimary && autoId,
                Dim = type == FieldType.FloatVector ? CheckDim(dimText, name) : 0,
                MaxLength = type == FieldType.VarChar ? ParseMaxLength(maxLengthText, name, null) : 0,
                TypeParams = typeParams,
            });
        }
        return fields;
    }

    private static int CheckDim(string? text, string field)
    {
        if (text == null)
        {
            throw Err.Invalid($"dimension is not defined in field type params of field {field}, check type param `dim` for vector field");
        }
        if (!SchemaRules.TryParseInt(text, out long dim))
        {
            throw Err.Invalid($"invalid dimension: {text} of field {field}. dimension must be an integer");
        }
        if (dim < 1 || dim > SchemaRules.MaxDimension)
        {
            throw Err.Invalid($"invalid dimension: {dim} of field {field}. should be in range 1 ~ {SchemaRules.MaxDimension}");
        }
        return (int)dim;
    }

    private static int ParseMaxLength(string? text, string field, string? collection)
    {
        if (text == null)
        {
            throw Err.Invalid($"type param(max_length) should be specified for the field({field})" + (collection != null ? $" of collection {collection}" : string.Empty));
        }
        if (!SchemaRules.TryParseInt(text, out long n))
        {
            throw Err.Invalid($"the value for max_length of field {field} must be an integer");
        }
        if (n <= 0 || n > SchemaRules.MaxVarCharLength)
        {
            throw Err.Invalid($"the maximum length specified for the field({field}) should be in (0, {SchemaRules.MaxVarCharLength}], but got {n} instead");
        }
        return (int)n;
    }

    private static void ValidateSchema(string collection, List<FieldDef> fields)
    {
        if (fields.Count > SchemaRules.MaxFields)
        {
            throw Err.Invalid($"maximum field's number should be limited to {SchemaRules.MaxFields}");
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var f in fields)
        {
            if (!seen.Add(f.Name))
            {
                throw Err.Invalid($"duplicated field name {f.Name} found");
            }
        }
        foreach (var f in fields)
        {
            SchemaRules.ValidateName(f.Name, "field");
        }
        var pks = fields.Where(f => f.IsPrimary).ToList();
        if (pks.Count == 0)
        {
            throw Err.Invalid("primary key is not specified");
        }
        if (pks.Count > 1)
        {
            throw Err.Invalid($"there are more than one primary key, field name = {string.Join(", ", pks.Select(p => p.Name))}");
        }
        if (pks[0].Type is not (FieldType.Int64 or FieldType.VarChar))
        {
            throw Err.Invalid($"the data type of primary key should be Int64 or VarChar, field {pks[0].Name} is {pks[0].Type}");
        }
        if (!fields.Any(f => f.IsVector))
        {
            throw Err.Invalid($"schema does not contain vector field, collection {collection}");
        }
    }

    private static string Signature(string description, List<FieldDef> fields, bool dynamic, CreateParams p)
    {
        var sb = new StringBuilder();
        sb.Append(description).Append('|').Append(dynamic).Append('|').Append(p.Consistency).Append('|').Append(p.Shards);
        foreach (var (k, v) in p.Properties)
        {
            sb.Append('|').Append(k).Append('=').Append(v);
        }
        foreach (var f in fields)
        {
            sb.Append("|F:").Append(f.Name).Append(',').Append(f.Type).Append(',').Append(f.IsPrimary).Append(',')
              .Append(f.AutoId).Append(',').Append(f.Dim).Append(',').Append(f.MaxLength);
        }
        return sb.ToString();
    }
}
