using System.Net.Http;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace HouseSimilarity.Stores.Milvus;

/// <summary>
/// Milvus over its RESTful API v2: one Milvus collection <c>hs_&lt;collection&gt;</c> per collection, with a VarChar
/// primary key <c>id</c>, the <c>embedding</c> FloatVector and the record's fields; the model id, dimension and index are
/// kept in the collection's description, where every client sees them. Writes are upserts (by primary key, so a retried
/// request is harmless) in requests kept under Milvus's 64 MB cap; there is no transaction across requests. Reads ask
/// for Strong consistency, so a search sees the photos just added. Milvus's L2 "distance" is the squared Euclidean
/// distance: the root is reported, so distances mean the same on every backend.
/// </summary>
public sealed class MilvusStore : IHouseStore
{
    public const string Prefix = "hs_";
    /// <summary>The companion collection of a collection's "not a duplicate" decisions: never listed as a collection.</summary>
    public const string ExclusionsPrefix = "hsx_";
    /// <summary>Longest Id and path, in UTF-8 bytes (VarChar max_length).</summary>
    public const int MaxIdBytes = 4096;
    /// <summary>Milvus's limits on one search or query: topK, nq, offset + limit.</summary>
    public const int MaxWindow = 16_384;
    /// <summary>Bytes of JSON per upsert request (Milvus refuses more than 64 MB per request).</summary>
    public const int MaxRequestBytes = 16 << 20;

    private static readonly string[] RecordFields = ["id", "path", "sha256", "width", "height", "added", "embedding"];

    private readonly MilvusClient _client;
    private readonly VectorIndexType _indexType;
    private CollectionInfo? _info;

    public string Backend => MilvusStoreProvider.BackendName;
    public string Location { get; }
    public string Collection { get; }
    /// <summary>The Milvus collection that holds this collection.</summary>
    public string Name { get; }
    /// <summary>The Milvus collection that holds its "not a duplicate" decisions.</summary>
    public string ExclusionsName { get; }

    public StoreCapabilities Capabilities { get; } = new()
    {
        Metrics = [DistanceMetric.L2], AtomicBatches = false, ExactSearch = false, MaxK = MaxWindow,
        MetricNote = "Milvus has no L1 (Manhattan) metric for float vectors, only L2, IP and COSINE",
    };

    public MilvusStore(MilvusOptions options, string collection = CollectionName.Default, VectorIndexType indexType = VectorIndexType.Hnsw)
    {
        ArgumentNullException.ThrowIfNull(options);
        Collection = CollectionName.Validate(collection);
        Name = Prefix + Collection;
        ExclusionsName = ExclusionsPrefix + Collection;
        _indexType = indexType;
        _client = new MilvusClient(options);
        Location = LocationOf(options.Uri, options.Database);
    }

    /// <summary>http(s)://host:port/database: where the store is, without credentials.</summary>
    public static string LocationOf(Uri uri, string database) => $"{uri.Scheme}://{uri.Authority}/{database}";

    /// <summary>What the description of a collection made by this store holds.</summary>
    private sealed record CollectionInfo(string ModelId, int Dimension, string IndexType)
    {
        public const string Marker = "housesim";

        public string Write() => JsonSerializer.Serialize(new Dictionary<string, object>
        {
            [Marker] = 1, ["model"] = ModelId, ["dimension"] = Dimension, ["index"] = IndexType,
        });

        public static CollectionInfo? Read(string? description)
        {
            try
            {
                var node = description is null ? null : JsonNode.Parse(description);
                if (node?[Marker] is null || node["model"]?.GetValue<string>() is not { } model || node["dimension"] is not { } dimension)
                {
                    return null;
                }
                return new CollectionInfo(model, dimension.GetValue<int>(), node["index"]?.GetValue<string>() ?? "");
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
            {
                return null;
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Collections

    public Task ConnectAsync(CancellationToken cancellationToken = default) =>
        RunAsync("connect to", ct => _client.PostAsync("collections/list", [], idempotent: true, ct), cancellationToken);

    public async Task<HouseCollection?> GetCollectionAsync(CancellationToken cancellationToken = default)
    {
        var info = await DescribeAsync(cancellationToken);
        return info is null ? null : await ToCollectionAsync(Collection, Name, info, cancellationToken);
    }

    public async Task<IReadOnlyList<HouseCollection>> ListCollectionsAsync(CancellationToken cancellationToken = default)
    {
        var answer = await RunAsync("list the collections of", ct =>
            _client.PostAsync("collections/list", [], idempotent: true, ct), cancellationToken);
        var result = new List<HouseCollection>();
        foreach (string name in (answer["data"]?.AsArray() ?? []).Select(n => n!.GetValue<string>()).Order(StringComparer.Ordinal))
        {
            if (!name.StartsWith(Prefix, StringComparison.Ordinal) || !IsValidName(name[Prefix.Length..]))
            {
                continue;
            }
            var info = await DescribeAsync(name, cancellationToken);
            if (info is not null)
            {
                result.Add(await ToCollectionAsync(name[Prefix.Length..], name, info, cancellationToken));
            }
        }
        return result;
    }

    private static bool IsValidName(string name)
    {
        try
        {
            CollectionName.Validate(name);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private async Task<HouseCollection> ToCollectionAsync(string collection, string name, CollectionInfo info, CancellationToken ct) => new()
    {
        Name = collection, ModelId = info.ModelId, Dimension = info.Dimension, Backend = Backend, Location = Location,
        IndexType = info.IndexType, Metric = nameof(DistanceMetric.L2), Count = await CountAsync(name, ct),
    };

    /// <summary>The exact count (count(*) with Strong consistency; get_stats lags until a flush).</summary>
    private async Task<long> CountAsync(string name, CancellationToken cancellationToken)
    {
        var answer = await RunAsync("count", ct => _client.PostAsync("entities/query", new JsonObject
        {
            ["collectionName"] = name, ["filter"] = "", ["outputFields"] = new JsonArray("count(*)"), ["consistencyLevel"] = "Strong",
        }, idempotent: true, ct), cancellationToken);
        return answer["data"]?.AsArray().FirstOrDefault()?["count(*)"]?.GetValue<long>() ?? 0;
    }

    private async Task<CollectionInfo?> DescribeAsync(CancellationToken cancellationToken) =>
        _info ??= await DescribeAsync(Name, cancellationToken);

    /// <summary>The collection's description, or null when it does not exist (or was not made by this store).</summary>
    private async Task<CollectionInfo?> DescribeAsync(string name, CancellationToken cancellationToken)
    {
        try
        {
            var answer = await RunAsync("read", ct => _client.PostAsync("collections/describe",
                new JsonObject { ["collectionName"] = name }, idempotent: true, ct), cancellationToken, rethrow: true);
            return CollectionInfo.Read(answer["data"]?["description"]?.GetValue<string>());
        }
        catch (MilvusException e) when (e.Code == MilvusException.CollectionNotFound || e.Message.Contains("not found", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        catch (MilvusException e)
        {
            throw Translate(e, "read");
        }
    }

    /// <summary>Creates the collection with its index, loads it and waits until it is loaded.</summary>
    private async Task<CollectionInfo> CreateAsync(string modelId, int dimension, CancellationToken cancellationToken)
    {
        var info = new CollectionInfo(modelId, dimension, _indexType.ToString());
        var body = new JsonObject
        {
            ["collectionName"] = Name,
            ["description"] = info.Write(),
            ["schema"] = new JsonObject
            {
                ["autoID"] = false,
                ["enableDynamicField"] = false,
                ["fields"] = new JsonArray(
                    Field("id", "VarChar", primary: true, ("max_length", MaxIdBytes.ToString())),
                    Field("embedding", "FloatVector", primary: false, ("dim", dimension.ToString())),
                    Field("path", "VarChar", primary: false, ("max_length", MaxIdBytes.ToString())),
                    Field("sha256", "VarChar", primary: false, ("max_length", "64")),
                    Field("width", "Int32", primary: false),
                    Field("height", "Int32", primary: false),
                    Field("added", "Int64", primary: false)),
            },
            ["indexParams"] = new JsonArray(new JsonObject
            {
                ["fieldName"] = "embedding", ["indexName"] = "embedding_idx", ["metricType"] = "L2", ["params"] = IndexParams(_indexType),
            }),
            ["params"] = new JsonObject { ["consistencyLevel"] = "Strong" },
        };
        await RunAsync("create", ct => _client.PostAsync("collections/create", body, idempotent: false, ct), cancellationToken);
        await WaitForLoadAsync(Name, cancellationToken);
        return info;
    }

    private static JsonObject Field(string name, string type, bool primary, params (string Key, string Value)[] parameters)
    {
        var field = new JsonObject { ["fieldName"] = name, ["dataType"] = type };
        if (primary)
        {
            field["isPrimary"] = true;
        }
        var typeParams = new JsonObject();
        foreach (var (key, value) in parameters)
        {
            typeParams[key] = value; // strings: the 2.4 servers bind map[string]string
        }
        field["elementTypeParams"] = typeParams;
        return field;
    }

    /// <summary>The index of a new collection: HNSW (M 16, efConstruction 200), IVF_FLAT (nlist 1024), AUTOINDEX or FLAT.</summary>
    public static JsonObject IndexParams(VectorIndexType index) => index switch
    {
        VectorIndexType.Hnsw => new JsonObject { ["index_type"] = "HNSW", ["M"] = 16, ["efConstruction"] = 200 },
        VectorIndexType.IvfFlat => new JsonObject { ["index_type"] = "IVF_FLAT", ["nlist"] = 1024 },
        VectorIndexType.AutoIndex => new JsonObject { ["index_type"] = "AUTOINDEX" },
        VectorIndexType.Exact => new JsonObject { ["index_type"] = "FLAT" },
        _ => throw new ArgumentException($"Milvus has no {index} index: use Hnsw, IvfFlat, AutoIndex or Exact."),
    };

    private async Task WaitForLoadAsync(string name, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + _client.Options.LoadTimeout;
        bool asked = false;
        for (int poll = 0; ; poll++)
        {
            var answer = await RunAsync("load", ct => _client.PostAsync("collections/get_load_state",
                new JsonObject { ["collectionName"] = name }, idempotent: true, ct), cancellationToken);
            string state = answer["data"]?["loadState"]?.GetValue<string>() ?? "";
            if (state == "LoadStateLoaded")
            {
                return;
            }
            if (state == "LoadStateNotLoad" && !asked)
            {
                asked = true;
                await RunAsync("load", ct => _client.PostAsync("collections/load",
                    new JsonObject { ["collectionName"] = name }, idempotent: true, ct), cancellationToken);
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new HouseStoreException(
                    $"Milvus at {Location} did not load collection '{name}' within {_client.Options.LoadTimeout.TotalSeconds:0} s " +
                    $"(state {state}, {answer["data"]?["loadProgress"]?.ToString() ?? "?"} %). The collection exists; searches work once it is loaded.",
                    null, StoreFailure.Other, Location);
            }
            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 50 << Math.Min(poll, 5))), cancellationToken);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Writes

    public async Task UpsertAsync(IReadOnlyList<HouseEmbedding> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0)
        {
            return;
        }
        var (modelId, dimension) = HouseStoreExtensions.CheckBatch(records);
        foreach (var record in records)
        {
            if (Encoding.UTF8.GetByteCount(record.Id) > MaxIdBytes || Encoding.UTF8.GetByteCount(record.Path) > MaxIdBytes)
            {
                throw new ArgumentException($"'{record.Path}': Ids and paths are limited to {MaxIdBytes} bytes in Milvus.", nameof(records));
            }
        }
        var info = await DescribeAsync(cancellationToken);
        if (info is null)
        {
            info = _info = await CreateAsync(modelId, dimension, cancellationToken);
        }
        if (info.ModelId != modelId)
        {
            throw new ModelMismatchException(Collection, info.ModelId, modelId);
        }
        if (info.Dimension != dimension)
        {
            throw new ArgumentException($"The records have {dimension} dimensions; the collection has {info.Dimension}.");
        }
        // A batch naming one Id twice keeps its last record, as the other stores do.
        var last = new Dictionary<string, HouseEmbedding>(StringComparer.Ordinal);
        foreach (var record in records)
        {
            last[record.Id] = record;
        }
        long added = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var rows = new JsonArray();
        int bytes = 0;
        foreach (var record in last.Values)
        {
            var row = new JsonObject
            {
                ["id"] = record.Id, ["path"] = record.Path, ["sha256"] = record.Sha256, ["width"] = record.Width,
                ["height"] = record.Height, ["added"] = added, ["embedding"] = new JsonArray(record.Vector.Select(v => (JsonNode)v).ToArray()),
            };
            int size = 256 + 2 * (record.Id.Length + record.Path.Length) + 16 * dimension;
            if (rows.Count > 0 && bytes + size > MaxRequestBytes)
            {
                await SendRowsAsync(rows, cancellationToken);
                rows = [];
                bytes = 0;
            }
            rows.Add(row);
            bytes += size;
        }
        await SendRowsAsync(rows, cancellationToken);
    }

    private Task SendRowsAsync(JsonArray rows, CancellationToken cancellationToken) =>
        RunAsync("store records in", ct => _client.PostAsync("entities/upsert",
            new JsonObject { ["collectionName"] = Name, ["data"] = rows.DeepClone() }, idempotent: true, ct), cancellationToken, batch: rows.Count);

    public async Task<bool> RemoveAsync(string id, CancellationToken cancellationToken = default)
    {
        if (await this.GetAsync(id, cancellationToken) is null)
        {
            return false;
        }
        await RunAsync("remove a record from", ct => _client.PostAsync("entities/delete",
            new JsonObject { ["collectionName"] = Name, ["filter"] = IdIn([id]) }, idempotent: true, ct), cancellationToken);
        return true;
    }

    public async Task<bool> DropCollectionAsync(CancellationToken cancellationToken = default)
    {
        _info = null;
        if (await DescribeAsync(Name, cancellationToken) is null)
        {
            return false;
        }
        // The decisions first: a drop cut short leaves a collection, never decisions without one.
        if (await ExclusionsExistAsync(cancellationToken))
        {
            await RunAsync("drop", ct => _client.PostAsync("collections/drop",
                new JsonObject { ["collectionName"] = ExclusionsName }, idempotent: true, ct), cancellationToken);
        }
        await RunAsync("drop", ct => _client.PostAsync("collections/drop",
            new JsonObject { ["collectionName"] = Name }, idempotent: true, ct), cancellationToken);
        return true;
    }

    // ---------------------------------------------------------------------------------------------------------
    // "Not a duplicate" decisions: a small companion collection (Milvus needs a vector field: a constant 2-d one).

    private static readonly string[] ExclusionFields = ["id", "sha_a", "sha_b", "path_a", "path_b", "added"];

    private async Task<bool> ExclusionsExistAsync(CancellationToken cancellationToken)
    {
        var answer = await RunAsync("read", ct => _client.PostAsync("collections/has",
            new JsonObject { ["collectionName"] = ExclusionsName }, idempotent: true, ct), cancellationToken);
        return answer["data"]?["has"]?.GetValue<bool>() ?? false;
    }

    private async Task CreateExclusionsAsync(CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["collectionName"] = ExclusionsName,
            ["description"] = JsonSerializer.Serialize(new Dictionary<string, object> { [CollectionInfo.Marker] = 1, ["exclusionsOf"] = Name }),
            ["schema"] = new JsonObject
            {
                ["autoID"] = false,
                ["enableDynamicField"] = false,
                ["fields"] = new JsonArray(
                    Field("id", "VarChar", primary: true, ("max_length", "129")),
                    Field("marker", "FloatVector", primary: false, ("dim", "2")),
                    Field("sha_a", "VarChar", primary: false, ("max_length", "64")),
                    Field("sha_b", "VarChar", primary: false, ("max_length", "64")),
                    Field("path_a", "VarChar", primary: false, ("max_length", MaxIdBytes.ToString())),
                    Field("path_b", "VarChar", primary: false, ("max_length", MaxIdBytes.ToString())),
                    Field("added", "Int64", primary: false)),
            },
            ["indexParams"] = new JsonArray(new JsonObject
            {
                ["fieldName"] = "marker", ["indexName"] = "marker_idx", ["metricType"] = "L2", ["params"] = IndexParams(VectorIndexType.Exact),
            }),
            ["params"] = new JsonObject { ["consistencyLevel"] = "Strong" },
        };
        await RunAsync("create", ct => _client.PostAsync("collections/create", body, idempotent: false, ct), cancellationToken);
        await WaitForLoadAsync(ExclusionsName, cancellationToken);
    }

    private static string ExclusionId(string a, string b) => a + ":" + b;

    public async Task<IReadOnlyList<HouseDuplicateExclusion>> ReadExclusionsAsync(CancellationToken cancellationToken = default)
    {
        var result = new List<HouseDuplicateExclusion>();
        if (!await ExclusionsExistAsync(cancellationToken))
        {
            return result;
        }
        await WaitForLoadAsync(ExclusionsName, cancellationToken);
        await foreach (var row in QueryAllAsync(ExclusionsName, ExclusionFields, cancellationToken))
        {
            result.Add(new HouseDuplicateExclusion(row["sha_a"]!.GetValue<string>(), row["sha_b"]!.GetValue<string>())
            {
                PathA = row["path_a"]?.GetValue<string>() ?? "", PathB = row["path_b"]?.GetValue<string>() ?? "", Collection = Collection,
                AddedUtc = DateTimeOffset.FromUnixTimeMilliseconds(row["added"]?.GetValue<long>() ?? 0).UtcDateTime,
            });
        }
        return result;
    }

    public async Task AddExclusionsAsync(IReadOnlyList<HouseDuplicateExclusion> exclusions, CancellationToken cancellationToken = default)
    {
        if (exclusions.Count == 0)
        {
            return;
        }
        if (!await ExclusionsExistAsync(cancellationToken))
        {
            await CreateExclusionsAsync(cancellationToken);
        }
        var last = exclusions.GroupBy(e => (e.Sha256A, e.Sha256B)).Select(g => g.Last());
        foreach (var chunk in last.Chunk(1000))
        {
            var rows = new JsonArray(chunk.Select(e => (JsonNode)new JsonObject
            {
                ["id"] = ExclusionId(e.Sha256A, e.Sha256B), ["marker"] = new JsonArray(1f, 0f), ["sha_a"] = e.Sha256A, ["sha_b"] = e.Sha256B,
                ["path_a"] = e.PathA, ["path_b"] = e.PathB, ["added"] = new DateTimeOffset(e.AddedUtc.ToUniversalTime()).ToUnixTimeMilliseconds(),
            }).ToArray());
            await RunAsync("store decisions in", ct => _client.PostAsync("entities/upsert",
                new JsonObject { ["collectionName"] = ExclusionsName, ["data"] = rows.DeepClone() }, idempotent: true, ct),
                cancellationToken, batch: rows.Count);
        }
    }

    public async Task<int> RemoveExclusionsAsync(IReadOnlyList<(string Sha256A, string Sha256B)> pairs, CancellationToken cancellationToken = default)
    {
        if (pairs.Count == 0 || !await ExclusionsExistAsync(cancellationToken))
        {
            return 0;
        }
        int removed = 0;
        foreach (var chunk in pairs.Select(p => ExclusionId(p.Sha256A, p.Sha256B)).Distinct(StringComparer.Ordinal).Chunk(1000))
        {
            // Milvus's delete does not say how many rows matched: count them first.
            var answer = await RunAsync("read", ct => _client.PostAsync("entities/get", new JsonObject
            {
                ["collectionName"] = ExclusionsName, ["id"] = new JsonArray(chunk.Select(id => (JsonNode)id).ToArray()),
                ["outputFields"] = new JsonArray("id"), ["consistencyLevel"] = "Strong",
            }, idempotent: true, ct), cancellationToken);
            int found = answer["data"]?.AsArray().Count ?? 0;
            if (found > 0)
            {
                await RunAsync("remove decisions from", ct => _client.PostAsync("entities/delete",
                    new JsonObject { ["collectionName"] = ExclusionsName, ["filter"] = IdIn(chunk) }, idempotent: true, ct), cancellationToken);
            }
            removed += found;
        }
        return removed;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Reads

    public async Task<IReadOnlyList<Neighbour>> SearchAsync(float[] query, int k, SearchOptions options,
        CancellationToken cancellationToken = default) =>
        (await SearchManyAsync([query], k, options, cancellationToken))[0];

    /// <summary>Many query vectors per request (nq); the answer's <c>topks</c> splits the hits per query.</summary>
    public async Task<IReadOnlyList<IReadOnlyList<Neighbour>>> SearchManyAsync(IReadOnlyList<float[]> queries, int k,
        SearchOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(k, MaxWindow);
        if (options.Metric != DistanceMetric.L2)
        {
            throw new NotSupportedException(Capabilities.MetricNote + ".");
        }
        var result = new List<IReadOnlyList<Neighbour>>(queries.Count);
        var info = await DescribeAsync(cancellationToken);
        if (info is null)
        {
            return queries.Select(_ => (IReadOnlyList<Neighbour>)[]).ToList();
        }
        foreach (var query in queries)
        {
            if (query.Length != info.Dimension)
            {
                throw new ArgumentException($"The query has {query.Length} dimensions; the collection has {info.Dimension}.");
            }
        }
        // Requests of up to 256 queries (and far below the 64 MB cap).
        foreach (var chunk in queries.Chunk(256))
        {
            result.AddRange(await SearchChunkAsync(chunk, k, options, info, cancellationToken));
        }
        return result;
    }

    private async Task<List<IReadOnlyList<Neighbour>>> SearchChunkAsync(float[][] queries, int k, SearchOptions options,
        CollectionInfo info, CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["collectionName"] = Name,
            ["data"] = new JsonArray(queries.Select(q => (JsonNode)new JsonArray(q.Select(v => (JsonNode)v).ToArray())).ToArray()),
            ["annsField"] = "embedding",
            ["limit"] = k,
            ["outputFields"] = new JsonArray(),
            ["searchParams"] = new JsonObject { ["metricType"] = "L2", ["params"] = SearchParams(info.IndexType, k, options.MaxDistance) },
            ["consistencyLevel"] = "Strong",
        };
        var answer = await RunAsync("search", ct => _client.PostAsync("entities/search", body, idempotent: true, ct), cancellationToken);
        var hits = (answer["data"]?.AsArray() ?? [])
            .Select(h => new Neighbour(h!["id"]!.GetValue<string>(), Math.Sqrt(Math.Max(0, h["distance"]!.GetValue<double>()))))
            .ToList();
        var counts = answer["topks"]?.AsArray().Select(n => n!.GetValue<int>()).ToList();
        if (counts is null && queries.Length > 1)
        {
            // Servers before topks answer all queries in one flat list: ask one query at a time instead.
            var single = new List<IReadOnlyList<Neighbour>>(queries.Length);
            foreach (var query in queries)
            {
                single.AddRange(await SearchChunkAsync([query], k, options, info, cancellationToken));
            }
            return single;
        }
        counts ??= [hits.Count];
        var result = new List<IReadOnlyList<Neighbour>>(queries.Length);
        int start = 0;
        foreach (int count in counts)
        {
            var list = hits.Skip(start).Take(count)
                .Where(n => options.MaxDistance is not double max || n.Distance <= max)
                .OrderBy(n => n.Distance).ThenBy(n => n.Id, StringComparer.Ordinal).ToList();
            result.Add(list);
            start += count;
        }
        if (result.Count != queries.Length)
        {
            throw new HouseStoreException($"Milvus at {Location} answered {result.Count} result lists for {queries.Length} queries.",
                null, StoreFailure.Other, Location);
        }
        return result;
    }

    /// <summary>
    /// Search parameters: HNSW <c>ef</c> at least k (Milvus refuses less) and 64; IVF <c>nprobe</c> 32. A distance bound
    /// becomes a range search: L2 hits satisfy range_filter &lt;= d² &lt; radius, on squared distances.
    /// </summary>
    public static JsonObject SearchParams(string indexType, int k, double? maxDistance)
    {
        var parameters = indexType switch
        {
            nameof(VectorIndexType.Hnsw) => new JsonObject { ["ef"] = Math.Max(64, k) },
            nameof(VectorIndexType.IvfFlat) => new JsonObject { ["nprobe"] = 32 },
            _ => [],
        };
        if (maxDistance is double max)
        {
            // Slightly above the bound: the radius is exclusive and Milvus computes in float32.
            parameters["radius"] = max * max * (1 + 1e-5) + 1e-6;
        }
        return parameters;
    }

    public async Task<IReadOnlyList<HouseRecord>> GetManyAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken = default)
    {
        var records = new List<HouseRecord>(ids.Count);
        var info = await DescribeAsync(cancellationToken);
        if (info is null)
        {
            return records;
        }
        foreach (var chunk in ids.Distinct(StringComparer.Ordinal).Chunk(1000))
        {
            var answer = await RunAsync("read", ct => _client.PostAsync("entities/get", new JsonObject
            {
                ["collectionName"] = Name, ["id"] = new JsonArray(chunk.Select(id => (JsonNode)id).ToArray()),
                ["outputFields"] = new JsonArray(RecordFields.Select(f => (JsonNode)f).ToArray()), ["consistencyLevel"] = "Strong",
            }, idempotent: true, ct), cancellationToken);
            records.AddRange((answer["data"]?.AsArray() ?? []).Select(row => ReadRecord(row!, info)));
        }
        return records;
    }

    /// <summary>Every record in ordinal Id order.</summary>
    public async IAsyncEnumerable<HouseRecord> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var info = await DescribeAsync(cancellationToken);
        if (info is null)
        {
            yield break;
        }
        await foreach (var row in QueryAllAsync(Name, RecordFields, cancellationToken))
        {
            yield return ReadRecord(row, info);
        }
    }

    /// <summary>
    /// Every row of a Milvus collection in ordinal Id order, page by page past Milvus's 16,384 offset + limit window:
    /// each page asks for the Ids after the last one seen (Milvus answers a query with a limit in primary-key order).
    /// </summary>
    private async IAsyncEnumerable<JsonNode> QueryAllAsync(string name, string[] fields,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        const int page = 1000;
        string? after = null;
        while (true)
        {
            var answer = await RunAsync("read", ct => _client.PostAsync("entities/query", new JsonObject
            {
                ["collectionName"] = name, ["filter"] = after is null ? "" : $"id > {Literal(after)}", ["limit"] = page,
                ["outputFields"] = new JsonArray(fields.Select(f => (JsonNode)f).ToArray()), ["consistencyLevel"] = "Strong",
            }, idempotent: true, ct), cancellationToken);
            var rows = (answer["data"]?.AsArray() ?? []).Select(row => row!)
                .OrderBy(r => r["id"]!.GetValue<string>(), StringComparer.Ordinal).ToList();
            foreach (var row in rows)
            {
                yield return row;
            }
            if (rows.Count < page)
            {
                yield break;
            }
            after = rows[^1]["id"]!.GetValue<string>();
        }
    }

    private HouseRecord ReadRecord(JsonNode row, CollectionInfo info) => new()
    {
        Id = row["id"]!.GetValue<string>(), Path = row["path"]?.GetValue<string>() ?? "", Sha256 = row["sha256"]?.GetValue<string>() ?? "",
        Width = row["width"]?.GetValue<int>() ?? 0, Height = row["height"]?.GetValue<int>() ?? 0,
        AddedUtc = DateTimeOffset.FromUnixTimeMilliseconds(row["added"]?.GetValue<long>() ?? 0).UtcDateTime,
        Vector = row["embedding"]?.AsArray().Select(v => v!.GetValue<float>()).ToArray() ?? [],
        ModelId = info.ModelId, Collection = Collection,
    };

    // ---------------------------------------------------------------------------------------------------------
    // Filters and errors

    /// <summary>A Milvus string literal: double quotes, with backslash and quote escaped. Ids never hold control characters.</summary>
    public static string Literal(string value) => "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    public static string IdIn(IEnumerable<string> ids) => $"id in [{string.Join(", ", ids.Select(Literal))}]";

    private async Task<JsonNode> RunAsync(string action, Func<CancellationToken, Task<JsonNode>> call, CancellationToken cancellationToken,
        int? batch = null, bool rethrow = false)
    {
        try
        {
            return await call(cancellationToken);
        }
        catch (MilvusException e) when (!rethrow)
        {
            if (e.Code == MilvusException.CollectionNotFound)
            {
                _info = null;
            }
            throw Translate(e, action, batch);
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutException)
        {
            string lost = batch is int n ? $" {Records(n)} not stored; adding them again is safe (upsert by Id)." : "";
            throw new HouseStoreException($"Cannot reach Milvus at {Location}: {Cause(e)}. Is the server running and reachable?{lost}",
                e, StoreFailure.Connection, Location);
        }
    }

    private HouseStoreException Translate(MilvusException e, string action, int? batch = null)
    {
        var kind = (e.HttpStatus, e.Code) switch
        {
            (401, _) or (_, MilvusException.NotAuthenticated) => StoreFailure.Authentication,
            (403, _) => StoreFailure.PermissionDenied,
            (408, _) or (>= 500, _) or (_, 2 or 4 or 8 or 1807) => StoreFailure.Connection,
            (_, 1100 or 1101 or 1801 or 1802 or 1804 or 1806) => StoreFailure.InvalidRequest,
            _ => StoreFailure.Other,
        };
        string hint = kind switch
        {
            StoreFailure.Authentication => " Check the user name and password (-Credential or HOUSESIM_MILVUS_TOKEN).",
            _ when e.Code == MilvusException.CollectionNotLoaded => " The collection is not loaded: load it (collections/load) and try again.",
            _ => "",
        };
        string what = batch is int n ? $" ({Records(n)}, not stored; adding them again is safe)" : "";
        return new HouseStoreException(
            $"Milvus at {Location} could not {action} collection '{Collection}'{what}: {e.Message} (code {e.Code}).{hint}",
            e, kind, Location);
    }

    private static string Records(int n) => n == 1 ? "1 record" : $"{n} records";

    private static string Cause(Exception e) => e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal)
        ? $"{e.Message.TrimEnd('.')}: {inner.Message.TrimEnd('.')}"
        : e.Message.TrimEnd('.');

    public void Dispose()
    {
    }
}
