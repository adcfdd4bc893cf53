using System.Globalization;
using System.Text.Json;

namespace HouseSimilarity.MilvusContract;

using Json = Dictionary<string, object?>;

/// <summary>entities/search, query, get: exact nearest neighbours and filtered scans over the visible row versions.</summary>
internal sealed partial class Engine
{
    private static readonly string[] SearchParamKeys = ["metricType", "params", "ignoreGrowing", "hints"];

    /// <summary>What every read checks first: the database, the consistency level, the collection, no partitions.</summary>
    private (Collection Collection, string RequestedLevel) BeginRead(Bound req, RequestContext ctx)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        string requestedLevel = req.Str("consistencyLevel");
        SchemaRules.ConsistencyOrDefault(requestedLevel, "Bounded");
        string name = CollectionNameOf(req);
        Collection c;
        lock (_gate)
        {
            c = Require(name);
        }
        RejectPartitions(req);
        return (c, requestedLevel);
    }

    public Json Search(Bound req, RequestContext ctx)
    {
        var (c, requestedLevel) = BeginRead(req, ctx);
        if (req.Str("groupingField").Length > 0 || req.Int("groupSize", 0) != 0 || req.Bool("strictGroupSize"))
        {
            throw Err.NotSupported("grouping search (groupingField/groupSize/strictGroupSize)");
        }
        RejectNonEmptyMap(req, "exprParams", "expression templates");
        if (req.Element("functionScore") is { } fs && !(fs.ValueKind == JsonValueKind.Object && !fs.EnumerateObject().Any()))
        {
            throw Err.NotSupported("functionScore");
        }
        if (req.Element("params") is { ValueKind: JsonValueKind.Object } legacy && legacy.EnumerateObject().Any())
        {
            throw Err.Invalid("the top-level \"params\" of a search is ignored by Milvus (\"not use Params any more, just for compatibility\"); put search parameters in searchParams.params");
        }

        // searchParams: 2.4 binds a struct {metricType, params, ignoreGrowing, hints}; 2.5.2+ merges other top-level
        // keys into params. The contract server accepts only the form every version understands.
        string metric = string.Empty;
        var sp = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (req.Element("searchParams") is { } searchParams)
        {
            foreach (var kv in searchParams.EnumerateObject())
            {
                if (!SearchParamKeys.Contains(kv.Name, StringComparer.Ordinal))
                {
                    throw Err.Invalid($"searchParams.{kv.Name} is not accepted by the contract server: 2.4 servers ignore unknown searchParams keys; put index search parameters (ef, nprobe, radius, range_filter) in searchParams.params and the metric in searchParams.metricType");
                }
                switch (kv.Name)
                {
                    case "metricType" when kv.Value.ValueKind != JsonValueKind.String:
                        throw Err.Format($"json: cannot unmarshal {GoBinder.JsonKind(kv.Value)} into Go struct field searchParams.metricType of type string");
                    case "params" when kv.Value.ValueKind != JsonValueKind.Object:
                        throw Err.Format($"json: cannot unmarshal {GoBinder.JsonKind(kv.Value)} into Go struct field searchParams.params of type map[string]interface {{}}");
                    case "ignoreGrowing" when kv.Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False):
                        throw Err.Format($"json: cannot unmarshal {GoBinder.JsonKind(kv.Value)} into Go struct field searchParams.ignoreGrowing of type bool");
                    case "hints" when kv.Value.ValueKind != JsonValueKind.String:
                        throw Err.Format($"json: cannot unmarshal {GoBinder.JsonKind(kv.Value)} into Go struct field searchParams.hints of type string");
                    case "metricType":
                        metric = kv.Value.GetString()!;
                        break;
                    case "params":
                        foreach (var p in kv.Value.EnumerateObject())
                        {
                            sp[p.Name] = p.Value;
                        }
                        break;
                }
            }
        }

        // The vector field and the query vectors (generatePlaceholderGroup / serializeFloatVectors: errors are 1801).
        string annsField = req.Str("annsField");
        FieldDef vectorField;
        if (annsField.Length == 0)
        {
            var vectors = c.Fields.Where(f => f.IsVector).ToList();
            if (vectors.Count > 1)
            {
                throw Err.Format($"search without annsField, but already found multiple vector fields: [{vectors[0].Name}, {vectors[1].Name},,,]");
            }
            vectorField = vectors[0];
        }
        else
        {
            vectorField = c.Fields.FirstOrDefault(f => f.Name == annsField && f.IsVector)
                ?? throw Err.Format($"cannot find a vector field named: {annsField}");
        }
        var queries = ParseQueryVectors(req.Element("data")!.Value, vectorField.Dim);

        var state = CurrentLoadLocked(c);
        if (state == LoadState.NotLoad)
        {
            throw NotLoaded(c, state);
        }
        var output = TranslateOutputFields(c, req.StrList("outputFields") ?? [], allowCount: false);

        int nq = queries.Count;
        if (nq < 1 || nq > MaxNq)
        {
            throw Err.Unexpected($"nq (number of search vector per search request) should be in range [1, {MaxNq}], but got {nq}");
        }
        int limit = req.Int("limit", 100);
        int offset = req.Int("offset", 0);
        if (limit < 1 || limit > MaxTopK)
        {
            throw Err.Unexpected($"topk [{limit}] is invalid, it should be in range [1, {MaxTopK}], but got {limit}");
        }
        if (offset < 0 || offset > MaxTopK)
        {
            throw Err.Unexpected($"offset [{offset}] is invalid, it should be in range [0, {MaxTopK}], but got {offset}");
        }
        if ((long)limit + offset > MaxTopK)
        {
            throw Err.Unexpected($"topk + offset [{limit + offset}] is invalid, it should be in range [1, {MaxTopK}], but got {limit + offset}");
        }
        var filter = Filter.Parse(req.Str("filter"), c);
        if (state == LoadState.Loading)
        {
            throw NotLoaded(c, state);
        }
        IndexDef index;
        lock (_gate)
        {
            index = c.Indexes[vectorField.Name];
        }
        if (metric.Length > 0 && metric != index.MetricType)
        {
            throw Err.Unexpected($"metric type not match: invalid parameter[expected={index.MetricType}][actual={metric}]");
        }
        var range = CheckSearchParams(index, sp, limit + offset);
        string level = SchemaRules.ConsistencyOrDefault(requestedLevel, c.ConsistencyLevel);

        var data = new List<object?>();
        var topks = new List<object?>();
        lock (_gate)
        {
            long cutoff = Cutoff(level);
            int vIndex = c.Fields.IndexOf(vectorField);
            int pkIndex = c.Fields.IndexOf(c.Pk);
            var candidates = c.Rows.Where(r => Visible(r, cutoff) && (filter == null || filter.Matches(r))).ToList();
            bool higherIsCloser = index.MetricType != "L2";
            foreach (var q in queries)
            {
                var best = new Dictionary<object, (Row Row, float Distance)>();
                foreach (var row in candidates)
                {
                    float d = Distance(index.MetricType, q, (float[])row.Values[vIndex]!);
                    if (range is { } rg && !rg.Accepts(d))
                    {
                        continue;
                    }
                    object pk = row.Values[pkIndex]!;
                    if (!best.TryGetValue(pk, out var cur) || (higherIsCloser ? d > cur.Distance : d < cur.Distance) ||
                        (d == cur.Distance && row.Seq > cur.Row.Seq))
                    {
                        best[pk] = (row, d);
                    }
                }
                var hits = best.Values
                    .OrderBy(h => higherIsCloser ? -h.Distance : h.Distance)
                    .ThenBy(h => h.Row.Values[pkIndex], PkComparer.Instance)
                    .Skip(offset)
                    .Take(limit)
                    .ToList();
                topks.Add((long)hits.Count);
                foreach (var (row, d) in hits)
                {
                    var j = Project(c, row, output, ctx);
                    j["id"] = IdOut(row.Values[pkIndex], ctx);
                    j["distance"] = d;
                    data.Add(j);
                }
            }
        }
        if (data.Count == 0)
        {
            return OkCost(new List<object?>());
        }
        var answer = OkCost(data);
        if (options.ReturnTopks)
        {
            answer["topks"] = topks;
        }
        return answer;
    }

    private LoadState CurrentLoadLocked(Collection c)
    {
        lock (_gate)
        {
            return CurrentLoad(c);
        }
    }

    private static List<float[]> ParseQueryVectors(JsonElement data, int dim)
    {
        var list = new List<float[]>();
        foreach (var v in data.EnumerateArray())
        {
            string Actual() => Truncate(data.GetRawText());
            if (v.ValueKind != JsonValueKind.Array)
            {
                throw Err.Format($"json: cannot unmarshal {GoBinder.JsonKind(v)} into Go value of type []float32: invalid parameter[expected=FloatVector][actual={Actual()}]");
            }
            var vec = new float[v.GetArrayLength()];
            int i = 0;
            foreach (var x in v.EnumerateArray())
            {
                if (x.ValueKind != JsonValueKind.Number || !x.TryGetDouble(out double d) || float.IsInfinity((float)d))
                {
                    throw Err.Format($"json: cannot unmarshal {(x.ValueKind == JsonValueKind.Number ? "number " + x.GetRawText() : GoBinder.JsonKind(x))} into Go value of type float32: invalid parameter[expected=FloatVector][actual={Actual()}]");
                }
                vec[i++] = (float)d;
            }
            if (vec.Length != dim)
            {
                throw Err.Format($"dimension: {dim}, but length of []float: {vec.Length}: invalid parameter[expected=FloatVector][actual={Actual()}]");
            }
            list.Add(vec);
        }
        return list;
    }

    private sealed record RangeFilter(string Metric, double Radius, double? Inner)
    {
        /// <summary>L2: range_filter &lt;= d &lt; radius. IP/COSINE: radius &lt; d &lt;= range_filter (docs: range-search.md).</summary>
        public bool Accepts(float d) => Metric == "L2"
            ? d < Radius && (Inner == null || d >= Inner)
            : d > Radius && (Inner == null || d <= Inner);
    }

    /// <summary>Search parameters of the index type (knowhere config checks run on the query node: code 65535).</summary>
    private static RangeFilter? CheckSearchParams(IndexDef index, Dictionary<string, JsonElement> sp, int k)
    {
        string[] allowed = index.IndexType switch
        {
            "HNSW" => ["ef", "radius", "range_filter"],
            "IVF_FLAT" => ["nprobe", "radius", "range_filter"],
            "AUTOINDEX" => ["ef", "level", "radius", "range_filter"],
            _ => ["radius", "range_filter"],
        };
        foreach (string key in sp.Keys)
        {
            if (!allowed.Contains(key, StringComparer.Ordinal))
            {
                throw Err.Invalid($"searchParams.params.{key} is not a search parameter of {index.IndexType} (allowed: {string.Join(", ", allowed)}); knowhere would ignore it, the contract server rejects it");
            }
        }
        long SearchInt(string key, long min, long max)
        {
            var v = sp[key];
            if (!TryInt(v, out long n))
            {
                throw Err.Unexpected($"wrong data type in json: param '{key}' ({v.GetRawText()}) should be integer");
            }
            if (n < min || n > max)
            {
                throw Err.Unexpected($"Out of range in json: param '{key}' ({n}) should be in range [{min}, {max}]");
            }
            return n;
        }
        double? SearchNumber(string key)
        {
            if (!sp.TryGetValue(key, out var v))
            {
                return null;
            }
            if (!TryNumber(v, out double d))
            {
                throw Err.Unexpected($"wrong data type in json: param '{key}' ({v.GetRawText()}) should be a number");
            }
            return d;
        }
        double? radius = SearchNumber("radius");
        double? inner = SearchNumber("range_filter");
        if (inner != null && radius == null)
        {
            throw Err.Invalid("searchParams.params.range_filter needs radius (without radius Milvus runs a plain top-k search and ignores range_filter)");
        }
        if (sp.ContainsKey("ef"))
        {
            long ef = SearchInt("ef", 1, int.MaxValue);
            if (radius == null && ef < k)
            {
                throw Err.Unexpected($"ef({ef}) should be larger than k({k})");
            }
        }
        if (sp.ContainsKey("nprobe"))
        {
            long nprobe = SearchInt("nprobe", 1, 65536);
            if (nprobe > index.Nlist)
            {
                throw Err.Invalid($"nprobe ({nprobe}) should not be greater than nlist ({index.Nlist}) of the IVF_FLAT index (knowhere clamps it; the contract server rejects it)");
            }
        }
        if (sp.ContainsKey("level"))
        {
            SearchInt("level", 1, 10);
        }
        if (radius == null)
        {
            return null;
        }
        if (inner != null)
        {
            if (index.MetricType == "L2" && !(inner < radius))
            {
                throw Err.Unexpected("range_filter must be less than radius for L2/HAMMING/JACCARD");
            }
            if (index.MetricType != "L2" && !(inner > radius))
            {
                throw Err.Unexpected("range_filter must be greater than radius for IP/COSINE");
            }
        }
        return new RangeFilter(index.MetricType, radius.Value, inner);
    }

    /// <summary>L2 is the squared Euclidean distance (docs metric.md: "before applying the square root"); IP and COSINE are similarities.</summary>
    private static float Distance(string metric, float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0, l2 = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double x = a[i], y = b[i];
            switch (metric)
            {
                case "L2":
                    l2 += (x - y) * (x - y);
                    break;
                default:
                    dot += x * y;
                    na += x * x;
                    nb += y * y;
                    break;
            }
        }
        return metric switch
        {
            "L2" => (float)l2,
            "IP" => (float)dot,
            _ => na == 0 || nb == 0 ? 0f : (float)(dot / (Math.Sqrt(na) * Math.Sqrt(nb))),
        };
    }

    /// <summary>Output field names, as translateOutputFields does: "*" is every field; unknown names are an error.</summary>
    private static List<string> TranslateOutputFields(Collection c, List<string> requested, bool allowCount)
    {
        var result = new List<string>();
        foreach (string raw in requested)
        {
            string f = raw.Trim();
            if (f == "*")
            {
                foreach (var field in c.Fields)
                {
                    if (!result.Contains(field.Name))
                    {
                        result.Add(field.Name);
                    }
                }
                if (c.EnableDynamic && !result.Contains("*"))
                {
                    result.Add("*");
                }
                continue;
            }
            if (c.Field(f) == null && !c.EnableDynamic)
            {
                throw Err.Invalid(allowCount && f.Contains('(')
                    ? $"field {f} not exist (count(*) must be the only output field)"
                    : $"field {f} not exist");
            }
            if (!result.Contains(f))
            {
                result.Add(f);
            }
        }
        return result;
    }

    /// <summary>One result row: the requested fields (vectors as float arrays, int64 as text without Accept-Type-Allow-Int64).</summary>
    private static Json Project(Collection c, Row row, List<string> output, RequestContext ctx)
    {
        var j = new Json();
        foreach (string name in output)
        {
            if (name == "*")
            {
                if (row.Dynamic != null)
                {
                    foreach (var (dk, dval) in row.Dynamic)
                    {
                        j.TryAdd(dk, dval);
                    }
                }
                continue;
            }
            int i = c.FieldIndex(name);
            if (i < 0)
            {
                if (row.Dynamic != null && row.Dynamic.TryGetValue(name, out var dv))
                {
                    j[name] = dv;
                }
                continue;
            }
            var f = c.Fields[i];
            object? v = row.Values[i];
            j[name] = f.Type switch
            {
                FieldType.Int8 or FieldType.Int16 or FieldType.Int32 => (int)(long)v!,
                FieldType.Int64 => ctx.AllowInt64 ? v : ((long)v!).ToString(CultureInfo.InvariantCulture),
                _ => v,
            };
        }
        return j;
    }

    public Json Query(Bound req, RequestContext ctx)
    {
        var (c, requestedLevel) = BeginRead(req, ctx);
        RejectNonEmptyMap(req, "exprParams", "expression templates");
        var requested = req.Has("outputFields") ? req.StrList("outputFields")! : ["*"];
        bool isCount = requested.Count == 1 && requested[0].Trim().Equals("count(*)", StringComparison.OrdinalIgnoreCase);
        if (!isCount && requested.Any(f => f.Trim().Equals("count(*)", StringComparison.OrdinalIgnoreCase)))
        {
            throw Err.Invalid("count(*) must be the only output field");
        }
        int limit = req.Int("limit", 100);
        int offset = req.Int("offset", 0);
        if (limit < 0 || offset < 0)
        {
            throw Err.Invalid($"limit ({limit}) and offset ({offset}) must not be negative (Milvus silently ignores negative values)");
        }
        string expr = req.Str("filter");
        if (!isCount && limit > 0 && (long)limit + offset > MaxTopK)
        {
            throw Err.Unexpected($"invalid max query result window, (offset+limit) should be in range [1, {MaxTopK}], but got {(long)limit + offset}");
        }
        if (!isCount && limit == 0 && string.IsNullOrWhiteSpace(expr))
        {
            throw Err.Unexpected("empty expression should be used with limit");
        }
        var state = CurrentLoadLocked(c);
        if (state == LoadState.NotLoad)
        {
            throw NotLoaded(c, state);
        }
        var output = isCount ? [] : TranslateOutputFields(c, requested, allowCount: true);
        var filter = Filter.Parse(expr, c);
        if (state == LoadState.Loading)
        {
            throw NotLoaded(c, state);
        }
        string level = SchemaRules.ConsistencyOrDefault(requestedLevel, c.ConsistencyLevel);
        lock (_gate)
        {
            long cutoff = Cutoff(level);
            var matched = c.Rows.Where(r => Visible(r, cutoff) && (filter == null || filter.Matches(r)));
            if (isCount)
            {
                long n = matched.LongCount();
                return OkCost(new List<object?> { new Json { ["count(*)"] = ctx.AllowInt64 ? n : n.ToString(CultureInfo.InvariantCulture) } });
            }
            var rows = Dedup(c, matched).Skip(offset);
            if (limit > 0)
            {
                rows = rows.Take(limit);
            }
            return OkCost(rows.Select(r => (object?)ProjectWithPk(c, r, output, ctx)).ToList());
        }
    }

    public Json Get(Bound req, RequestContext ctx)
    {
        var (c, requestedLevel) = BeginRead(req, ctx);
        var idElement = req.Element("id")!.Value;
        var ids = new HashSet<object>();
        IEnumerable<JsonElement> items = idElement.ValueKind == JsonValueKind.Array ? idElement.EnumerateArray() : [idElement];
        foreach (var item in items)
        {
            if (c.Pk.Type == FieldType.Int64)
            {
                if (!TryInt(item, out long l))
                {
                    throw new MilvusException(Codes.CheckPrimaryKey,
                        $"please check the primary key and its' type can only in [int, string], error: {item.GetRawText()} is not an Int64 primary key");
                }
                ids.Add(l);
            }
            else
            {
                if (item.ValueKind != JsonValueKind.String)
                {
                    throw new MilvusException(Codes.CheckPrimaryKey,
                        $"please check the primary key and its' type can only in [int, string], error: {item.GetRawText()} is not a string; the primary key {c.Pk.Name} is VarChar (Milvus would look up \"\" instead)");
                }
                ids.Add(item.GetString()!);
            }
        }
        var requested = req.Has("outputFields") ? req.StrList("outputFields")! : ["*"];
        var state = CurrentLoadLocked(c);
        if (state != LoadState.Loaded)
        {
            throw NotLoaded(c, state);
        }
        var output = TranslateOutputFields(c, requested, allowCount: false);
        string level = SchemaRules.ConsistencyOrDefault(requestedLevel, c.ConsistencyLevel);
        lock (_gate)
        {
            long cutoff = Cutoff(level);
            int pkIndex = c.Fields.IndexOf(c.Pk);
            var matched = c.Rows.Where(r => Visible(r, cutoff) && ids.Contains(r.Values[pkIndex]!));
            return OkCost(Dedup(c, matched).Select(r => (object?)ProjectWithPk(c, r, output, ctx)).ToList());
        }
    }

    /// <summary>Query results are merged by primary key (ascending; one row per key, the newest version).</summary>
    private static IEnumerable<Row> Dedup(Collection c, IEnumerable<Row> rows)
    {
        int pkIndex = c.Fields.IndexOf(c.Pk);
        return rows
            .GroupBy(r => r.Values[pkIndex]!)
            .Select(g => g.MaxBy(r => r.Seq)!)
            .OrderBy(r => r.Values[pkIndex], PkComparer.Instance);
    }

    private static Json ProjectWithPk(Collection c, Row row, List<string> output, RequestContext ctx)
    {
        var fields = output.Contains(c.Pk.Name) ? output : [c.Pk.Name, .. output];
        return Project(c, row, fields, ctx);
    }

    private sealed class PkComparer : IComparer<object?>
    {
        public static readonly PkComparer Instance = new();

        public int Compare(object? x, object? y) => (x, y) switch
        {
            (long a, long b) => a.CompareTo(b),
            (string a, string b) => Utf8Order.Compare(a, b),
            _ => 0,
        };
    }
}
