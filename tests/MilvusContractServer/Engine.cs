using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace HouseSimilarity.MilvusContract;

using Json = Dictionary<string, object?>;

internal sealed record RequestContext(string Route, bool AllowInt64, string? HeaderDb);

/// <summary>
/// The in-memory Milvus: collections, schema checks, writes, and exact (brute-force) search and query.
/// Every public method is one REST endpoint; all state is guarded by one lock.
/// </summary>
internal sealed partial class Engine(ContractServerOptions options)
{
    private const int MaxTopK = 16384;          // quotaAndLimits.limits.topK / maxQueryResultWindow
    private const int MaxNq = 16384;            // quotaAndLimits.limits.nq
    private const int MaxShards = 16;           // proxy.maxShardNum default

    private readonly object _gate = new();
    private readonly List<Collection> _collections = [];
    private long _nextCollectionId = 455_837_201_458_000_001L;
    private long _seq;

    private static long Now => Stopwatch.GetTimestamp();

    private static long Ticks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    private long LagTicks => Ticks(options.ConsistencyLag);

    public void Reset()
    {
        lock (_gate)
        {
            _collections.Clear();
        }
    }

    private static Json Ok(object? data) => new() { ["code"] = Codes.Success, ["data"] = data };

    private static Json OkCost(object? data) => new() { ["code"] = Codes.Success, ["cost"] = 0, ["data"] = data };

    private Collection? Find(string name) => _collections.FirstOrDefault(c => c.Name == name);

    private Collection Require(string name) => Find(name) ?? throw Err.CollectionNotFound(name);

    private static string CollectionNameOf(Bound req)
    {
        string name = req.Str("collectionName");
        SchemaRules.ValidateName(name, "collection");
        return name;
    }

    private LoadState CurrentLoad(Collection c)
    {
        if (c.Load == LoadState.Loading && Now - c.LoadStartTs >= Ticks(options.LoadDelay))
        {
            c.Load = LoadState.Loaded;
        }
        return c.Load;
    }

    private static string LoadStateName(LoadState s) => s switch
    {
        LoadState.Loaded => "LoadStateLoaded",
        LoadState.Loading => "LoadStateLoading",
        _ => "LoadStateNotLoad",
    };

    /// <summary>Reads see rows written before the cutoff; Strong reads see everything, others lag by ConsistencyLag.</summary>
    private long Cutoff(string level) => level == "Strong" ? long.MaxValue : Now - LagTicks;

    private static bool Visible(Row r, long cutoff) =>
        r.InsertTs <= cutoff && (r.DeleteTs == null || r.DeleteTs > cutoff);

    private static bool Live(Row r) => r.DeleteTs == null;

    private static void RejectPartitions(Bound req)
    {
        foreach (string tag in new[] { "partitionName" })
        {
            string p = req.Str(tag);
            if (p.Length > 0 && p != "_default")
            {
                throw new MilvusException(200, $"partition not found[partition={p}]");
            }
        }
        if (req.StrList("partitionNames") is { } names && names.Any(n => n != "_default"))
        {
            throw new MilvusException(200, $"partition not found[partition={names.First(n => n != "_default")}]");
        }
    }

    private static void RejectNonEmptyMap(Bound req, string tag, string why)
    {
        if (req.Element(tag) is { ValueKind: JsonValueKind.Object } e && e.EnumerateObject().Any())
        {
            throw Err.NotSupported($"{tag} ({why})");
        }
    }

    // ------------------------------------------------------------------ collections

    public Json ListCollections(Bound req, RequestContext ctx)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        lock (_gate)
        {
            return Ok(_collections.Select(c => (object?)c.Name).ToList());
        }
    }

    public Json HasCollection(Bound req, RequestContext ctx)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        string name = CollectionNameOf(req);
        lock (_gate)
        {
            return Ok(new Json { ["has"] = Find(name) != null });
        }
    }

    public Json DropCollection(Bound req, RequestContext ctx)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        string name = CollectionNameOf(req);
        lock (_gate)
        {
            // rootcoord dropCollectionTask: dropping a missing collection is idempotent (success).
            _collections.RemoveAll(c => c.Name == name);
            return Ok(new Json());
        }
    }

    public Json DescribeCollection(Bound req, RequestContext ctx)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        string name = CollectionNameOf(req);
        lock (_gate)
        {
            var c = Require(name);
            var fields = c.Fields.Select(f =>
            {
                var j = new Json
                {
                    ["name"] = f.Name,
                    ["id"] = f.Id,
                    ["type"] = f.Type.ToString(),
                    ["primaryKey"] = f.IsPrimary,
                    ["partitionKey"] = false,
                    ["clusteringKey"] = false,
                    ["autoId"] = f.AutoId,
                    ["nullable"] = false,
                    ["description"] = string.Empty,
                };
                if (f.TypeParams.Count > 0)
                {
                    j["params"] = f.TypeParams.Select(p => (object?)new Json { ["key"] = p.Key, ["value"] = p.Value }).ToList();
                }
                return (object?)j;
            }).ToList();
            var indexes = c.Fields.Where(f => c.Indexes.ContainsKey(f.Name)).Select(f => c.Indexes[f.Name]).Select(ix => (object?)new Json
            {
                ["fieldName"] = ix.FieldName,
                ["indexName"] = ix.IndexName,
                ["metricType"] = ix.MetricType,
            }).ToList();
            var data = new Json
            {
                ["collectionName"] = c.Name,
                ["collectionID"] = c.Id,
                ["description"] = c.Description,
                ["autoId"] = c.Pk.AutoId,
                ["fields"] = fields,
                ["functions"] = new List<object?>(),
                ["aliases"] = new List<object?>(),
                ["indexes"] = indexes,
                ["load"] = LoadStateName(CurrentLoad(c)),
                ["shardsNum"] = c.ShardsNum,
                ["partitionsNum"] = 1,
                ["consistencyLevel"] = c.ConsistencyLevel,
                ["enableDynamicField"] = c.EnableDynamic,
                ["properties"] = c.Properties.Select(p => (object?)new Json { ["key"] = p.Key, ["value"] = p.Value }).ToList(),
            };
            var answer = Ok(data);
            answer["message"] = string.Empty;
            return answer;
        }
    }

    public Json GetStats(Bound req, RequestContext ctx)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        string name = CollectionNameOf(req);
        lock (_gate)
        {
            var c = Require(name);
            // row_count comes from flushed segments: always behind by ConsistencyLag, whatever the read level.
            long cutoff = Now - LagTicks;
            long count = c.Rows.LongCount(r => Visible(r, cutoff));
            return Ok(new Json { ["rowCount"] = count });
        }
    }

    public Json GetLoadState(Bound req, RequestContext ctx)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        string name = CollectionNameOf(req);
        RejectPartitions(req);
        lock (_gate)
        {
            var c = Require(name);
            var state = CurrentLoad(c);
            if (state == LoadState.NotLoad)
            {
                return Ok(new Json { ["loadState"] = LoadStateName(state) });
            }
            long delay = Ticks(options.LoadDelay);
            long progress = state == LoadState.Loaded || delay == 0
                ? 100
                : Math.Min(99, (Now - c.LoadStartTs) * 100 / delay);
            var answer = Ok(new Json { ["loadState"] = LoadStateName(state), ["loadProgress"] = progress });
            answer["message"] = string.Empty;
            return answer;
        }
    }

    public Json LoadCollection(Bound req, RequestContext ctx)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        string name = CollectionNameOf(req);
        lock (_gate)
        {
            StartLoad(Require(name));
            return Ok(new Json());
        }
    }

    public Json ReleaseCollection(Bound req, RequestContext ctx)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        string name = CollectionNameOf(req);
        lock (_gate)
        {
            Require(name).Load = LoadState.NotLoad;
            return Ok(new Json());
        }
    }

    private void StartLoad(Collection c)
    {
        var missing = c.Fields.Where(f => f.IsVector && !c.Indexes.ContainsKey(f.Name)).Select(f => f.Name).ToList();
        if (missing.Count > 0)
        {
            throw new MilvusException(Codes.IndexNotFound,
                $"there is no vector index on field: [{string.Join(", ", missing)}], please create index firstly: collection={c.Name}: index not found");
        }
        if (CurrentLoad(c) != LoadState.NotLoad)
        {
            return; // loading an already loaded (or loading) collection succeeds
        }
        c.LoadStartTs = Now;
        c.Load = options.LoadDelay <= TimeSpan.Zero ? LoadState.Loaded : LoadState.Loading;
    }

    // ------------------------------------------------------------------ indexes

    public Json CreateIndex(Bound req, RequestContext ctx)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        string name = CollectionNameOf(req);
        var indexParams = req.StructList("indexParams") ?? [];
        lock (_gate)
        {
            var c = Require(name);
            foreach (var ip in indexParams)
            {
                AddIndex(c, ip);
            }
            return Ok(new Json());
        }
    }

    public Json ListIndexes(Bound req, RequestContext ctx)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        string name = CollectionNameOf(req);
        lock (_gate)
        {
            var c = Require(name);
            return Ok(c.Indexes.Values.Select(i => (object?)i.IndexName).ToList());
        }
    }

    public Json DescribeIndex(Bound req, RequestContext ctx)
    {
        SchemaRules.ValidateDbName(req, ctx.HeaderDb);
        string name = CollectionNameOf(req);
        string indexName = req.Str("indexName");
        lock (_gate)
        {
            var c = Require(name);
            var ix = c.Indexes.Values.FirstOrDefault(i => i.IndexName == indexName)
                ?? throw new MilvusException(Codes.IndexNotFound, $"index not found[indexName={indexName}]");
            long rows = c.Rows.LongCount(Live);
            return Ok(new List<object?>
            {
                new Json
                {
                    ["indexName"] = ix.IndexName,
                    ["fieldName"] = ix.FieldName,
                    ["indexType"] = ix.IndexType,
                    ["metricType"] = ix.MetricType,
                    ["totalRows"] = rows,
                    ["pendingRows"] = 0L,
                    ["indexedRows"] = rows,
                    ["indexState"] = "Finished",
                    ["failReason"] = string.Empty,
                },
            });
        }
    }

    private static readonly string[] FloatVectorMetrics = ["L2", "IP", "COSINE"];

    /// <summary>createIndexTask.parseIndexParams (internal/proxy/task_index.go) plus knowhere's parameter ranges.</summary>
    private static void AddIndex(Collection c, Bound ip)
    {
        string fieldName = ip.Str("fieldName");
        var field = c.Field(fieldName) ?? throw Err.Unexpected($"cannot create index on non-exist field: {fieldName}");
        if (!field.IsVector)
        {
            throw Err.NotSupported($"an index on the scalar field {fieldName} (only vector indexes are modelled)");
        }
        string indexName = ip.Str("indexName");
        if (indexName.Length == 0)
        {
            indexName = field.Name;
        }
        SchemaRules.ValidateName(indexName, "index");
        var raw = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (ip.Element("params") is { } p)
        {
            foreach (var kv in p.EnumerateObject())
            {
                raw[kv.Name] = kv.Value;
            }
        }
        string indexType = ip.Str("indexType");
        if (indexType.Length == 0 && raw.TryGetValue("index_type", out var it))
        {
            indexType = SchemaRules.ParamText(it);
        }
        raw.Remove("index_type");
        if (indexType.Length == 0)
        {
            indexType = "AUTOINDEX"; // Milvus: no index type means AUTOINDEX (task_index.go, handle(0, ...))
        }
        if (raw.ContainsKey("metric_type"))
        {
            throw Err.Invalid("params.metric_type is not accepted by the contract server; set indexParams[].metricType");
        }
        string metric = ip.Str("metricType");
        if (metric.Length == 0)
        {
            if (indexType == "AUTOINDEX")
            {
                throw Err.Invalid($"metricType is required for the index on {fieldName} (Milvus would silently default AUTOINDEX to COSINE; the contract server rejects this)");
            }
            throw Err.InvalidExpected("valid index params", "invalid index params", "metric type not set for vector index");
        }
        if (!FloatVectorMetrics.Contains(metric, StringComparer.Ordinal))
        {
            throw Err.InvalidExpected("valid index params", "invalid index params", "float vector index does not support metric type: " + metric);
        }
        var kept = new SortedDictionary<string, string>(StringComparer.Ordinal);
        int nlist = 0;
        switch (indexType)
        {
            case "HNSW":
                AllowOnly(raw, indexType, "M", "efConstruction");
                if (raw.TryGetValue("M", out var m))
                {
                    kept["M"] = IndexInt(m, "M", 2, 2048).ToString(CultureInfo.InvariantCulture);
                }
                if (raw.TryGetValue("efConstruction", out var efc))
                {
                    kept["efConstruction"] = IndexInt(efc, "efConstruction", 1, int.MaxValue).ToString(CultureInfo.InvariantCulture);
                }
                break;
            case "IVF_FLAT":
                AllowOnly(raw, indexType, "nlist");
                nlist = raw.TryGetValue("nlist", out var nl) ? (int)IndexInt(nl, "nlist", 1, 65536) : 128;
                kept["nlist"] = nlist.ToString(CultureInfo.InvariantCulture);
                break;
            case "FLAT":
                AllowOnly(raw, indexType);
                break;
            case "AUTOINDEX":
                if (raw.Count > 0)
                {
                    throw Err.Unexpected("only metric type can be passed when use AutoIndex");
                }
                break;
            default:
                throw Err.InvalidExpected("valid index params", "invalid index params",
                    $"invalid index type: {indexType} (the contract server models HNSW, IVF_FLAT, FLAT and AUTOINDEX)");
        }
        var def = new IndexDef
        {
            FieldName = field.Name,
            IndexName = indexName,
            IndexType = indexType,
            MetricType = metric,
            Params = kept,
            Nlist = nlist,
        };
        if (c.Indexes.TryGetValue(field.Name, out var existing))
        {
            if (existing.Signature == def.Signature)
            {
                return; // same index again: idempotent
            }
            throw Err.Unexpected("CreateIndex failed: at most one distinct index is allowed per field");
        }
        if (c.Indexes.Values.Any(i => i.IndexName == indexName))
        {
            throw Err.Unexpected("CreateIndex failed: at most one distinct index is allowed per field");
        }
        c.Indexes[field.Name] = def;
    }

    private static void AllowOnly(Dictionary<string, JsonElement> raw, string indexType, params string[] keys)
    {
        foreach (string k in raw.Keys)
        {
            if (!keys.Contains(k, StringComparer.Ordinal))
            {
                throw Err.Invalid($"index parameter '{k}' is not a parameter of {indexType} (allowed: {(keys.Length == 0 ? "none" : string.Join(", ", keys))}); knowhere would ignore it, the contract server rejects it");
            }
        }
    }

    private static long IndexInt(JsonElement v, string key, long min, long max)
    {
        if (!TryInt(v, out long n))
        {
            throw Err.InvalidExpected("valid index params", "invalid index params", $"wrong data type in json: param '{key}' ({v.GetRawText()}) should be integer");
        }
        if (n < min || n > max)
        {
            throw Err.InvalidExpected("valid index params", "invalid index params", $"Out of range in json: param '{key}' ({n}) should be in range [{min}, {max}]");
        }
        return n;
    }

    /// <summary>An integer given as a JSON integer or a numeric string (Milvus flattens params to strings).</summary>
    private static bool TryInt(JsonElement v, out long n)
    {
        n = 0;
        return v.ValueKind switch
        {
            JsonValueKind.Number => v.TryGetInt64(out n),
            JsonValueKind.String => SchemaRules.TryParseInt(v.GetString() ?? string.Empty, out n),
            _ => false,
        };
    }

    private static bool TryNumber(JsonElement v, out double d)
    {
        d = 0;
        return v.ValueKind switch
        {
            JsonValueKind.Number => v.TryGetDouble(out d),
            JsonValueKind.String => double.TryParse(v.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out d),
            _ => false,
        };
    }
}
