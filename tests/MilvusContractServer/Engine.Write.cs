using System.Globalization;
using System.Text.Json;

namespace HouseSimilarity.MilvusContract;

using Json = Dictionary<string, object?>;

/// <summary>entities/insert, upsert, delete: handler_v2.go insert/upsert/delete, utils.go checkAndSetData/anyToColumns.</summary>
internal sealed partial class Engine
{
    public Json Insert(Bound req, RequestContext ctx) => Write(req, ctx, upsert: false);

    public Json Upsert(Bound req, RequestContext ctx) => Write(req, ctx, upsert: true);

    private Json Write(Bound req, RequestContext ctx, bool upsert)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        string name = CollectionNameOf(req);
        Collection c;
        lock (_gate)
        {
            c = Require(name);
        }
        RejectPartitions(req);
        var data = req.Element("data")!.Value;
        int count = data.GetArrayLength();
        if (count == 0)
        {
            throw Err.InsertData("missing required parameters");
        }
        if (upsert && c.Pk.AutoId)
        {
            throw Err.Invalid("cannot upsert an autoID collection (the contract server follows the 2.4 rule; newer servers accept it with a primary key)");
        }
        var parsed = new List<(object?[] Values, Dictionary<string, JsonElement>? Dynamic)>(count);
        int r = 0;
        foreach (var row in data.EnumerateArray())
        {
            parsed.Add(ParseRow(c, row, r++, upsert));
        }
        // Proxy-side checks (internal/proxy/validate_util.go): VarChar byte length.
        for (int i = 0; i < parsed.Count; i++)
        {
            for (int f = 0; f < c.Fields.Count; f++)
            {
                var field = c.Fields[f];
                if (field.Type == FieldType.VarChar && parsed[i].Values[f] is string s)
                {
                    int len = SchemaRules.Utf8Length(s);
                    if (len > field.MaxLength)
                    {
                        throw Err.Invalid($"length of varchar field {field.Name} exceeds max length, row number: {i}, length: {len}, max length: {field.MaxLength}");
                    }
                }
            }
        }
        int pkIndex = c.Fields.IndexOf(c.Pk);
        if (upsert)
        {
            var dup = parsed.GroupBy(p => p.Values[pkIndex]).FirstOrDefault(g => g.Count() > 1);
            if (dup != null)
            {
                throw Err.Invalid($"duplicate primary keys are not allowed in the same batch: {dup.Key}");
            }
        }
        var ids = new List<object?>(count);
        lock (_gate)
        {
            if (!ReferenceEquals(Find(name), c))
            {
                throw Err.CollectionNotFound(name);
            }
            long now = Now;
            if (upsert)
            {
                var keys = new HashSet<object>(parsed.Select(p => p.Values[pkIndex]!));
                foreach (var old in c.Rows)
                {
                    if (Live(old) && keys.Contains(old.Values[pkIndex]!))
                    {
                        old.DeleteTs = now;
                    }
                }
            }
            foreach (var (values, dynamic) in parsed)
            {
                if (c.Pk.AutoId)
                {
                    long next = c.NextAutoId++;
                    values[pkIndex] = c.Pk.Type == FieldType.Int64 ? next : next.ToString(CultureInfo.InvariantCulture);
                }
                c.Rows.Add(new Row { Seq = ++_seq, Values = values, Dynamic = dynamic, InsertTs = now });
                ids.Add(IdOut(values[pkIndex], ctx));
            }
        }
        var answer = OkCost(upsert
            ? new Json { ["upsertCount"] = (long)count, ["upsertIds"] = ids }
            : new Json { ["insertCount"] = (long)count, ["insertIds"] = ids });
        return answer;
    }

    private static object? IdOut(object? pk, RequestContext ctx) =>
        pk is long l && !ctx.AllowInt64 ? l.ToString(CultureInfo.InvariantCulture) : pk;

    private static (object?[] Values, Dictionary<string, JsonElement>? Dynamic) ParseRow(Collection c, JsonElement row, int r, bool upsert)
    {
        if (row.ValueKind != JsonValueKind.Object)
        {
            throw Err.InsertData($"invalid parameter[expected=JSON][actual={GoBinder.JsonKind(row)}]: NULL:0, FALSE:1, NUMBER:2, STRING:3, TRUE:4, JSON:5");
        }
        var values = new object?[c.Fields.Count];
        var props = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var p in row.EnumerateObject())
        {
            props[p.Name] = p.Value; // keys are case-sensitive here (gjson), last one wins
        }
        for (int i = 0; i < c.Fields.Count; i++)
        {
            var f = c.Fields[i];
            bool present = props.TryGetValue(f.Name, out var v);
            props.Remove(f.Name);
            if (f.IsPrimary && f.AutoId)
            {
                if (present && !upsert)
                {
                    throw Err.InsertData($"no need to pass pk field({f.Name}) when autoid==true in insert: invalid parameter");
                }
                continue;
            }
            if (!present)
            {
                throw Err.InsertData($"row {r} does not has field {f.Name}: invalid parameter");
            }
            if (v.ValueKind == JsonValueKind.Null)
            {
                throw Err.InsertData($"field {f.Name} of row {r} is null, but the field is not nullable: invalid parameter");
            }
            values[i] = ParseValue(f, v, r);
        }
        Dictionary<string, JsonElement>? dynamic = null;
        foreach (var (key, v) in props)
        {
            if (!c.EnableDynamic)
            {
                throw Err.InsertData($"has pass more field without dynamic schema, please check it: invalid parameter (row {r} has the key \"{key}\", which is not a field of {c.Name})");
            }
            if (key == "$meta")
            {
                throw Err.InsertData("use the invalid field name($meta) when enable dynamicField: invalid parameter");
            }
            if (v.ValueKind != JsonValueKind.Null)
            {
                dynamic ??= new Dictionary<string, JsonElement>(StringComparer.Ordinal);
                dynamic[key] = v.Clone();
            }
        }
        return (values, dynamic);
    }

    private static object ParseValue(FieldDef f, JsonElement v, int r)
    {
        string raw = v.GetRawText();
        MilvusException Bad(string why) =>
            Err.InsertData($"row {r} field {f.Name}: {why}: invalid parameter[expected={f.Type}][actual={Truncate(raw)}]");
        switch (f.Type)
        {
            case FieldType.Bool:
                return v.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw Bad("a JSON boolean is required"),
                };
            case FieldType.Int8 or FieldType.Int16 or FieldType.Int32 or FieldType.Int64:
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long l))
                {
                    throw Bad(v.ValueKind == JsonValueKind.Number
                        ? "a JSON integer without fraction or exponent is required"
                        : $"a JSON number is required, got a {GoBinder.JsonKind(v)}");
                }
                (long min, long max) = f.Type switch
                {
                    FieldType.Int8 => (sbyte.MinValue, (long)sbyte.MaxValue),
                    FieldType.Int16 => (short.MinValue, short.MaxValue),
                    FieldType.Int32 => (int.MinValue, int.MaxValue),
                    _ => (long.MinValue, long.MaxValue),
                };
                if (l < min || l > max)
                {
                    throw Bad($"value out of the {f.Type} range [{min}, {max}]");
                }
                return l;
            case FieldType.Float or FieldType.Double:
                if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d))
                {
                    throw Bad($"a JSON number is required, got a {GoBinder.JsonKind(v)}");
                }
                if (f.Type == FieldType.Float)
                {
                    float fl = (float)d;
                    if (float.IsInfinity(fl))
                    {
                        throw Bad("value out of the float32 range");
                    }
                    return fl;
                }
                return d;
            case FieldType.VarChar:
                if (v.ValueKind != JsonValueKind.String)
                {
                    throw Bad($"a JSON string is required, got a {GoBinder.JsonKind(v)}");
                }
                return v.GetString()!;
            case FieldType.FloatVector:
                if (v.ValueKind != JsonValueKind.Array)
                {
                    throw Bad($"json: cannot unmarshal {GoBinder.JsonKind(v)} into Go value of type []float32");
                }
                var vec = new float[v.GetArrayLength()];
                int i = 0;
                foreach (var x in v.EnumerateArray())
                {
                    if (x.ValueKind != JsonValueKind.Number || !x.TryGetDouble(out double xd) || float.IsInfinity((float)xd))
                    {
                        throw Bad($"json: cannot unmarshal {(x.ValueKind == JsonValueKind.Number ? "number " + x.GetRawText() : GoBinder.JsonKind(x))} into Go value of type float32");
                    }
                    vec[i++] = (float)xd;
                }
                if (vec.Length != f.Dim)
                {
                    throw Err.InsertData($"[]float32 size {vec.Length} doesn't equal to vector dimension {f.Dim} of FloatVector: invalid parameter (row {r}, field {f.Name})");
                }
                return vec;
            default:
                throw new InvalidOperationException(f.Type.ToString());
        }
    }

    private static string Truncate(string s) => s.Length <= 80 ? s : s[..80] + "...";

    public Json Delete(Bound req, RequestContext ctx)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        string name = CollectionNameOf(req);
        RejectPartitions(req);
        RejectNonEmptyMap(req, "exprParams", "expression templates");
        lock (_gate)
        {
            var c = Require(name);
            string expr = req.Str("filter");
            var filter = Filter.Parse(expr, c) ?? throw Err.Expression(expr, "empty expression");
            int pkIndex = c.Fields.IndexOf(c.Pk);
            HashSet<object> keys;
            long deleteCount;
            if (filter.PrimaryKeyValues is { } pkValues)
            {
                // A pure primary-key expression is turned into delete messages directly (no query, no load needed);
                // the reported count is the number of keys given, whether they exist or not.
                keys = new HashSet<object>(pkValues.Select(v => NormalizePk(c.Pk, v)).Where(v => v != null).Select(v => v!));
                deleteCount = keys.Count;
            }
            else
            {
                var state = CurrentLoad(c);
                if (state != LoadState.Loaded)
                {
                    throw NotLoaded(c, state);
                }
                keys = new HashSet<object>(c.Rows.Where(rw => Live(rw) && filter.Matches(rw)).Select(rw => rw.Values[pkIndex]!));
                deleteCount = keys.Count;
            }
            long now = Now;
            foreach (var row in c.Rows)
            {
                if (Live(row) && keys.Contains(row.Values[pkIndex]!))
                {
                    row.DeleteTs = now;
                }
            }
            return Ok(new Json { ["deleteCount"] = deleteCount });
        }
    }

    private static object? NormalizePk(FieldDef pk, object v) => (pk.Type, v) switch
    {
        (FieldType.Int64, long l) => l,
        (FieldType.VarChar, string s) => s,
        _ => null,
    };

    private static MilvusException NotLoaded(Collection c, LoadState state) => state == LoadState.Loading
        ? new MilvusException(Codes.CollectionNotFullyLoaded, $"collection not fully loaded[collection={c.Name}]")
        : new MilvusException(Codes.CollectionNotLoaded, $"collection not loaded[collection={c.Name}]");
}
