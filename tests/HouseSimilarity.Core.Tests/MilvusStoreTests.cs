using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using HouseSimilarity.MilvusContract;
using HouseSimilarity.Services;
using HouseSimilarity.Stores;
using HouseSimilarity.Stores.Milvus;

namespace HouseSimilarity.Tests;

/// <summary>
/// The contract server for a test class: strict about every request, with a token (authentication on). Opt-in live:
/// with HOUSESIM_MILVUS_URI set (and HOUSESIM_MILVUS_TOKEN where the server has authentication on), the contract suite
/// runs against that Milvus instead.
/// </summary>
public sealed class MilvusServerFixture : IDisposable
{
    public const string Token = "root:Milvus-Te5t-Secret";
    public static readonly string? LiveUri = Environment.GetEnvironmentVariable(MilvusStoreProvider.UriVariable);

    public MilvusContractServer? Server { get; } = LiveUri is null ? MilvusContractServer.Start(new ContractServerOptions { Token = Token }) : null;

    public MilvusOptions Options() => new()
    {
        Uri = Server?.Uri ?? new Uri(LiveUri!),
        Token = Server is null ? Environment.GetEnvironmentVariable(MilvusStoreProvider.TokenVariable) : Token,
        RetryDelay = TimeSpan.FromMilliseconds(20), RequestTimeout = TimeSpan.FromSeconds(10),
    };

    public void Dispose() => Server?.Dispose();
}

/// <summary>The shared store contract, against the Milvus contract server.</summary>
public sealed class MilvusStoreContract(MilvusServerFixture fixture) : HouseStoreContract, IClassFixture<MilvusServerFixture>
{
    protected override string BackendName => "Milvus";

    protected override IHouseStore OpenStore(string collection) => new MilvusStore(fixture.Options(), collection);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        // Every request the client sent was one the strict server accepted, except the ones the tests provoke.
        var refused = (fixture.Server?.Requests ?? []).Where(r => r.Code is not (0 or -1) && r.Code != 100).ToList();
        Assert.True(refused.Count == 0, "refused requests: " + string.Join("\n", refused.Select(r => $"{r.Path} {r.Code} {r.Message}")));
    }
}

/// <summary>What only Milvus needs: squared distances, auth, retries, loading, consistency, paging, limits, request bodies.</summary>
public sealed class MilvusStoreTests : IDisposable
{
    private readonly MilvusContractServer _server = MilvusContractServer.Start(new ContractServerOptions { Token = MilvusServerFixture.Token });

    public void Dispose() => _server.Dispose();

    private MilvusStore Open(string collection = "m", string? token = MilvusServerFixture.Token, VectorIndexType index = VectorIndexType.Hnsw,
        TimeSpan? timeout = null, TimeSpan? loadTimeout = null, MilvusContractServer? server = null) =>
        new(new MilvusOptions
        {
            Uri = (server ?? _server).Uri, Token = token, RetryDelay = TimeSpan.FromMilliseconds(20),
            RequestTimeout = timeout ?? TimeSpan.FromSeconds(10), LoadTimeout = loadTimeout ?? TimeSpan.FromSeconds(30),
        }, collection, index);

    private static List<HouseEmbedding> Some(int n, int seed) =>
        Vectors.Records("p", Enumerable.Range(0, n).Select(_ => Vectors.RandomUnit(new Random(seed + _))).ToList());

    [Fact]
    public async Task Creates_the_documented_schema_index_and_description_and_waits_for_the_load()
    {
        using var store = Open("schema");
        await store.UpsertAsync(Some(3, 1));
        var create = JsonNode.Parse(_server.Requests.First(r => r.Path.EndsWith("collections/create")).Body)!;
        Assert.Equal("hs_schema", create["collectionName"]!.GetValue<string>());
        var fields = create["schema"]!["fields"]!.AsArray();
        Assert.Equal(new[] { "id", "embedding", "path", "sha256", "width", "height", "added" }, fields.Select(f => f!["fieldName"]!.GetValue<string>()));
        Assert.Equal("VarChar", fields[0]!["dataType"]!.GetValue<string>());
        Assert.True(fields[0]!["isPrimary"]!.GetValue<bool>());
        Assert.Equal("128", fields[1]!["elementTypeParams"]!["dim"]!.GetValue<string>());
        var index = create["indexParams"]![0]!;
        Assert.Equal(("L2", "HNSW"), (index["metricType"]!.GetValue<string>(), index["params"]!["index_type"]!.GetValue<string>()));
        Assert.Equal("Strong", create["params"]!["consistencyLevel"]!.GetValue<string>());
        Assert.Contains(Vectors.Model, create["description"]!.GetValue<string>());
        Assert.Contains(_server.Requests, r => r.Path.EndsWith("collections/get_load_state"));
        var collection = await store.GetCollectionAsync();
        Assert.Equal((Vectors.Model, 128, 3L), (collection!.ModelId, collection.Dimension, collection.Count));
        Assert.Equal($"http://127.0.0.1:{_server.Uri.Port}/default", store.Location);
    }

    [Theory]
    [InlineData(VectorIndexType.IvfFlat, "IVF_FLAT")]
    [InlineData(VectorIndexType.AutoIndex, "AUTOINDEX")]
    [InlineData(VectorIndexType.Exact, "FLAT")]
    public async Task Other_index_types_are_created_and_searched(VectorIndexType type, string milvusName)
    {
        using var store = Open("idx_" + milvusName.ToLowerInvariant(), index: type);
        var records = Some(50, 2);
        await store.UpsertAsync(records);
        var create = JsonNode.Parse(_server.Requests.First(r => r.Path.EndsWith("collections/create")).Body)!;
        Assert.Equal(milvusName, create["indexParams"]![0]!["params"]!["index_type"]!.GetValue<string>());
        var found = await store.SearchAsync(records[7].Vector, 3, SearchOptions.Default);
        Assert.Equal(records[7].Id, found[0].Id);
    }

    [Fact]
    public async Task Distances_are_true_Euclidean_the_root_of_what_Milvus_answers()
    {
        using var store = Open("dist");
        var records = Some(20, 3);
        await store.UpsertAsync(records);
        var query = Vectors.RandomUnit(new Random(99));
        var found = await store.SearchAsync(query, 5, SearchOptions.Default);
        var expected = Vectors.BruteForce(records, query, 5, DistanceMetric.L2);
        Assert.Equal(expected.Select(e => e.Id), found.Select(f => f.Id));
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(expected[i].Distance, found[i].Distance, 1e-4);
        }
        // What the server sent was the square.
        var answer = JsonNode.Parse(_server.Requests.Last(r => r.Path.EndsWith("entities/search")).Body)!;
        Assert.Equal("L2", answer["searchParams"]!["metricType"]!.GetValue<string>());
        Assert.True(answer["searchParams"]!["params"]!["ef"]!.GetValue<int>() >= 5);
        Assert.Equal("Strong", answer["consistencyLevel"]!.GetValue<string>());
    }

    [Fact]
    public async Task L1_is_a_clear_error_naming_the_reason()
    {
        using var store = Open("l1");
        await store.UpsertAsync(Some(3, 4));
        var e = await Assert.ThrowsAsync<NotSupportedException>(() =>
            store.SearchAsync(Vectors.RandomUnit(new Random(1)), 3, new SearchOptions { Metric = DistanceMetric.L1 }));
        Assert.Contains("no L1", e.Message);
        Assert.DoesNotContain(DistanceMetric.L1, store.Capabilities.Metrics);
    }

    [Fact]
    public async Task A_missing_or_wrong_token_is_an_authentication_failure_that_never_shows_the_token()
    {
        using var none = Open(token: null);
        var e = await Assert.ThrowsAsync<HouseStoreException>(() => none.ConnectAsync());
        Assert.Equal(StoreFailure.Authentication, e.Kind);
        Assert.Contains("-Credential", e.Message);
        using var wrong = Open(token: "root:Wr0ng-Pa55word");
        e = await Assert.ThrowsAsync<HouseStoreException>(() => wrong.UpsertAsync(Some(1, 5)));
        Assert.Equal(StoreFailure.Authentication, e.Kind);
        Assert.DoesNotContain("Wr0ng-Pa55word", e.ToString());
        Assert.DoesNotContain("Wr0ng-Pa55word", wrong.Location);
    }

    [Fact]
    public async Task Rate_limits_server_errors_and_dropped_connections_are_retried_for_idempotent_calls()
    {
        using var store = Open("retry");
        var records = Some(10, 6);
        await store.UpsertAsync(records.Take(5).ToList());
        _server.Faults.RateLimitNext = 2;
        await store.UpsertAsync(records.Skip(5).ToList());
        _server.Faults.ServerErrorNext = 1;
        _server.Faults.DropConnectionNext = 1;
        Assert.Equal(records[3].Id, (await store.SearchAsync(records[3].Vector, 1, SearchOptions.Default))[0].Id);
        Assert.Equal(10, (await store.GetCollectionAsync())!.Count);
        Assert.Equal(2, _server.Requests.Count(r => r.Code == 1807));

        // Past the bounded retries it is one clear connection failure naming the server.
        _server.Faults.RateLimitNext = 50;
        var e = await Assert.ThrowsAsync<HouseStoreException>(() => store.UpsertAsync(records.Take(2).ToList()));
        Assert.Equal(StoreFailure.Connection, e.Kind);
        Assert.Contains("1807", e.Message);
        Assert.Contains("not stored", e.Message);
        _server.Faults.Clear();
    }

    [Fact]
    public async Task Collection_creation_is_not_retried_blindly_and_a_slow_server_times_out_clearly()
    {
        using var store = Open("slow", timeout: TimeSpan.FromMilliseconds(300));
        _server.Faults.ResponseDelay = TimeSpan.FromSeconds(2);
        var e = await Assert.ThrowsAsync<HouseStoreException>(() => store.ConnectAsync());
        Assert.Equal(StoreFailure.Connection, e.Kind);
        Assert.Contains("no answer within", e.Message);
        _server.Faults.Clear();
    }

    [Fact]
    public async Task A_collection_that_does_not_load_in_time_is_a_clear_error()
    {
        using var slow = MilvusContractServer.Start(new ContractServerOptions { LoadDelay = TimeSpan.FromSeconds(5) });
        using var store = Open("loading", token: null, loadTimeout: TimeSpan.FromMilliseconds(400), server: slow);
        var e = await Assert.ThrowsAsync<HouseStoreException>(() => store.UpsertAsync(Some(2, 7)));
        Assert.Contains("did not load collection 'hs_loading'", e.Message);
        Assert.Contains("LoadStateLoading", e.Message);

        using var patient = MilvusContractServer.Start(new ContractServerOptions { LoadDelay = TimeSpan.FromMilliseconds(600) });
        using var waits = Open("loading", token: null, server: patient);
        await waits.UpsertAsync(Some(2, 7));
        Assert.Equal(2, (await waits.SearchAsync(Vectors.RandomUnit(new Random(3)), 5, SearchOptions.Default)).Count);
    }

    [Fact]
    public async Task Strong_reads_see_writes_at_once_where_the_default_consistency_would_not()
    {
        using var lagging = MilvusContractServer.Start(new ContractServerOptions { ConsistencyLag = TimeSpan.FromSeconds(30) });
        using var store = Open("fresh", token: null, server: lagging);
        var records = Some(4, 8);
        await store.UpsertAsync(records);
        Assert.Equal(records[2].Id, (await store.SearchAsync(records[2].Vector, 1, SearchOptions.Default))[0].Id);
        Assert.Equal(4, (await store.GetCollectionAsync())!.Count);
        // The lag is real: a Bounded search (Milvus's default) sees nothing yet.
        using var http = new HttpClient();
        var bounded = await http.PostAsync(new Uri(lagging.Uri, "/v2/vectordb/entities/search"), new StringContent(
            new JsonObject
            {
                ["collectionName"] = "hs_fresh", ["data"] = new JsonArray(new JsonArray(records[2].Vector.Select(v => (JsonNode)v).ToArray())),
                ["limit"] = 1, ["annsField"] = "embedding", ["consistencyLevel"] = "Bounded",
                ["searchParams"] = new JsonObject { ["metricType"] = "L2", ["params"] = new JsonObject { ["ef"] = 10 } },
            }.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.Empty(JsonNode.Parse(await bounded.Content.ReadAsStringAsync())!["data"]!.AsArray());
    }

    [Fact]
    public async Task Reading_a_whole_collection_pages_past_the_16384_window_in_id_order()
    {
        using var store = Open("paging");
        var vector = Vectors.RandomUnit(new Random(9));
        var records = Enumerable.Range(0, 17_050).Select(i => Vectors.Record($"r{i:D6}", vector)).ToList();
        foreach (var batch in records.Chunk(5_000))
        {
            await store.UpsertAsync(batch);
        }
        var ids = new List<string>();
        await foreach (var record in store.ReadAllAsync())
        {
            ids.Add(record.Id);
        }
        Assert.Equal(records.Select(r => r.Id), ids);
        Assert.Equal(17_050, (await store.GetCollectionAsync())!.Count);
        Assert.All(_server.Requests.Where(r => r.Path.EndsWith("entities/query")), r =>
        {
            var body = JsonNode.Parse(r.Body)!;
            Assert.True((body["offset"]?.GetValue<int>() ?? 0) + (body["limit"]?.GetValue<int>() ?? 0) <= 16_384);
        });
    }

    [Fact]
    public async Task Servers_without_topks_are_searched_one_query_at_a_time_with_the_same_answers()
    {
        using var old = MilvusContractServer.Start(new ContractServerOptions { ReturnTopks = false });
        using var store = Open("old", token: null, server: old);
        using var current = Open("current");
        var records = Vectors.Records("o", Vectors.Clustered(300, seed: 10, clusters: 10));
        await store.UpsertAsync(records);
        await current.UpsertAsync(records);
        var queries = Vectors.Clustered(5, seed: 11, clusters: 10);
        var a = await ((IHouseStore)store).SearchManyAsync(queries, 7, SearchOptions.Default);
        var b = await ((IHouseStore)current).SearchManyAsync(queries, 7, SearchOptions.Default);
        Assert.Equal(b.Select(l => l.Select(n => n.Id).ToList()), a.Select(l => l.Select(n => n.Id).ToList()));
        Assert.Equal(1, _server.Requests.Count(r => r.Path.EndsWith("entities/search")));
    }

    [Fact]
    public async Task Ids_with_quotes_and_backslashes_are_quoted_in_filters_never_interpreted()
    {
        using var store = Open("quotes");
        var random = new Random(12);
        string hostile = "a\" or id != \"x\\";
        await store.UpsertAsync([Vectors.Record(hostile, Vectors.RandomUnit(random)), Vectors.Record("x", Vectors.RandomUnit(random))]);
        Assert.True(await store.RemoveAsync(hostile));
        Assert.Equal(1, (await store.GetCollectionAsync())!.Count);
        Assert.NotNull(await store.GetAsync("x"));
        Assert.Equal("id in [\"a\\\" or id != \\\"x\\\\\"]", MilvusStore.IdIn([hostile]));
    }

    [Fact]
    public async Task The_server_rejects_a_wrong_body_so_the_contract_tests_can_fail()
    {
        using var http = new HttpClient();
        async Task<int> Code(string path, string json)
        {
            var answer = await http.PostAsync(new Uri(_server.Uri, "/v2/vectordb/" + path),
                new StringContent(json, Encoding.UTF8, "application/json") { Headers = { } });
            return JsonNode.Parse(await answer.Content.ReadAsStringAsync())?["code"]?.GetValue<int>() ?? (int)answer.StatusCode;
        }
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", MilvusServerFixture.Token);
        string schema(string type) => $$$"""
            {"collectionName":"bad","schema":{"fields":[{"fieldName":"id","dataType":"{{{type}}}","isPrimary":true,"elementTypeParams":{"max_length":"64"}},
            {"fieldName":"v","dataType":"FloatVector","elementTypeParams":{"dim":"4"}}]}}
            """;
        Assert.Equal(1100, await Code("collections/create", schema("DataType.VARCHAR")));
        Assert.Equal(1801, await Code("collections/create", schema("VarChar").Replace("\"schema\"", "\"enabledDynamicField\":true,\"schema\"")));
        Assert.Equal(0, await Code("collections/create", schema("VarChar")));
        Assert.Equal(1804, await Code("entities/upsert", """{"collectionName":"bad","data":[{"id":"a","v":[1,2,3]}]}"""));
        Assert.Equal(1100, await Code("indexes/create",
            """{"collectionName":"bad","indexParams":[{"fieldName":"v","indexName":"i","metricType":"L1","params":{"index_type":"HNSW","M":16,"efConstruction":64}}]}"""));
        http.DefaultRequestHeaders.Authorization = null;
        Assert.Equal(1800, await Code("collections/list", "{}"));
    }
}
