using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using System.Text.Json;

namespace HouseSimilarity.MilvusContract;

using Json = Dictionary<string, object?>;

/// <summary>
/// A strict in-memory fake of the Milvus RESTful API v2 (<c>POST /v2/vectordb/&lt;category&gt;/&lt;action&gt;</c>) on a loopback port.
/// See README.md for the rules it checks and where each comes from.
/// </summary>
public sealed class MilvusContractServer : IDisposable
{
    /// <summary>Request bodies above this are refused (the documented 64 MB per-RPC limit).</summary>
    public const int MaxBodyBytes = 64 * 1024 * 1024;

    private static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(30); // HTTPDefaultTimeout / proxy.http.requestTimeoutMs

    private readonly HttpListener _listener;
    private readonly ContractServerOptions _options;
    private readonly Engine _engine;
    private readonly Dictionary<string, RouteEntry> _routes;
    private readonly List<ContractRequest> _log = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private int _disposed;

    private sealed record RouteEntry(GoStruct Spec, Func<Bound, RequestContext, Json> Handler, bool IsDataRequest);

    private MilvusContractServer(HttpListener listener, int port, ContractServerOptions options)
    {
        _listener = listener;
        _options = options;
        _engine = new Engine(options);
        Uri = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
        const string v2 = "/v2/vectordb/";
        _routes = new Dictionary<string, RouteEntry>(StringComparer.Ordinal)
        {
            [v2 + "collections/create"] = new(RequestSpecs.CollectionCreate, _engine.CreateCollection, false),
            [v2 + "collections/describe"] = new(RequestSpecs.CollectionName, _engine.DescribeCollection, false),
            [v2 + "collections/has"] = new(RequestSpecs.CollectionName, _engine.HasCollection, false),
            [v2 + "collections/list"] = new(RequestSpecs.Database, _engine.ListCollections, false),
            [v2 + "collections/drop"] = new(RequestSpecs.CollectionName, _engine.DropCollection, false),
            [v2 + "collections/load"] = new(RequestSpecs.CollectionName, _engine.LoadCollection, false),
            [v2 + "collections/get_load_state"] = new(RequestSpecs.CollectionName, _engine.GetLoadState, false),
            [v2 + "collections/release"] = new(RequestSpecs.CollectionName, _engine.ReleaseCollection, false),
            [v2 + "collections/get_stats"] = new(RequestSpecs.CollectionName, _engine.GetStats, false),
            [v2 + "indexes/create"] = new(RequestSpecs.IndexCreate, _engine.CreateIndex, false),
            [v2 + "indexes/describe"] = new(RequestSpecs.IndexName, _engine.DescribeIndex, false),
            [v2 + "indexes/list"] = new(RequestSpecs.CollectionName, _engine.ListIndexes, false),
            [v2 + "entities/insert"] = new(RequestSpecs.Data, _engine.Insert, true),
            [v2 + "entities/upsert"] = new(RequestSpecs.Data, _engine.Upsert, true),
            [v2 + "entities/search"] = new(RequestSpecs.Search, _engine.Search, true),
            [v2 + "entities/query"] = new(RequestSpecs.Query, _engine.Query, true),
            [v2 + "entities/get"] = new(RequestSpecs.Get, _engine.Get, true),
            [v2 + "entities/delete"] = new(RequestSpecs.Delete, _engine.Delete, true),
        };
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>The base address, <c>http://127.0.0.1:&lt;port&gt;/</c>.</summary>
    public Uri Uri { get; }

    /// <summary>Faults to inject; thread-safe and mutable at run time.</summary>
    public ContractFaults Faults { get; } = new();

    /// <summary>A snapshot of the requests received so far (Milvus routes only, not the control endpoints).</summary>
    public IReadOnlyList<ContractRequest> Requests
    {
        get
        {
            lock (_log)
            {
                return _log.ToArray();
            }
        }
    }

    /// <summary>Starts a server on <c>http://127.0.0.1:&lt;port&gt;/</c>.</summary>
    public static MilvusContractServer Start(ContractServerOptions? options = null)
    {
        var o = options ?? new ContractServerOptions();
        if (o.Token != null)
        {
            int colon = o.Token.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || colon == o.Token.Length - 1)
            {
                throw new ArgumentException("Token must be \"user:password\" with both parts non-empty", nameof(options));
            }
        }
        if (o.LoadDelay < TimeSpan.Zero || o.ConsistencyLag < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(options), "LoadDelay and ConsistencyLag must not be negative");
        }
        var snapshot = new ContractServerOptions
        {
            Token = o.Token,
            ReturnTopks = o.ReturnTopks,
            LoadDelay = o.LoadDelay,
            ConsistencyLag = o.ConsistencyLag,
            Port = o.Port,
        };
        for (int attempt = 0; ; attempt++)
        {
            int port = snapshot.Port != 0 ? snapshot.Port : FreeLoopbackPort();
            var listener = new HttpListener { IgnoreWriteExceptions = true };
            listener.Prefixes.Add($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
            try
            {
                listener.Start();
                return new MilvusContractServer(listener, port, snapshot);
            }
            catch (HttpListenerException) when (snapshot.Port == 0 && attempt < 20)
            {
                listener.Close();
            }
        }
    }

    private static int FreeLoopbackPort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    /// <summary>Drops all collections, faults and the request log.</summary>
    public void Reset()
    {
        _engine.Reset();
        Faults.Clear();
        lock (_log)
        {
            _log.Clear();
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stop.Cancel();
        try
        {
            _listener.Stop();
            _listener.Close();
        }
        catch (ObjectDisposedException)
        {
        }
        try
        {
            _acceptLoop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                break;
            }
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        string path = request.Url?.AbsolutePath ?? "/";
        try
        {
            if (path.StartsWith("/_contract/", StringComparison.Ordinal))
            {
                await HandleControlAsync(context, path).ConfigureAwait(false);
                return;
            }
            var (body, tooLarge) = await ReadBodyAsync(request).ConfigureAwait(false);
            string bodyText = Encoding.UTF8.GetString(body);
            if (!_routes.TryGetValue(path, out var route))
            {
                Log(path, bodyText, 404, -1, "404 page not found");
                await WriteTextAsync(response, 404, "404 page not found").ConfigureAwait(false);
                return;
            }
            if (request.HttpMethod != "POST")
            {
                Log(path, bodyText, 405, -1, "405 method not allowed");
                await WriteTextAsync(response, 405, "405 method not allowed").ConfigureAwait(false);
                return;
            }
            if (Faults.TakeDropConnection())
            {
                Log(path, bodyText, 0, -1, "connection dropped (injected fault)");
                DropConnection(context);
                return;
            }
            if (Faults.TakeServerError())
            {
                int status = Faults.ServerErrorStatus;
                string text = $"{status} {(status == 503 ? "Service Unavailable" : "Internal Server Error")} (injected fault)";
                Log(path, bodyText, status, -1, text);
                await WriteTextAsync(response, status, text).ConfigureAwait(false);
                return;
            }

            int httpStatus;
            Json answer;
            if (!Authorized(request))
            {
                httpStatus = 401;
                answer = new Json { ["code"] = Codes.NeedAuthenticate, ["message"] = "user hasn't authenticated" };
            }
            else if (tooLarge)
            {
                httpStatus = 200;
                answer = new Json
                {
                    ["code"] = Codes.ParameterInvalid,
                    ["message"] = $"invalid parameter: the request body is larger than {MaxBodyBytes} bytes (64 MiB, the documented per-request limit); split the batch",
                };
            }
            else
            {
                (httpStatus, answer) = Dispatch(path, route, body, request);
            }

            var delay = Faults.ResponseDelay;
            if (delay > TimeSpan.Zero)
            {
                var timeout = DefaultRequestTimeout;
                if (long.TryParse(request.Headers["Request-Timeout"], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long seconds))
                {
                    timeout = TimeSpan.FromSeconds(seconds);
                }
                if (delay >= timeout)
                {
                    await Task.Delay(timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout, _stop.Token).ConfigureAwait(false);
                    httpStatus = 408;
                    answer = new Json { ["code"] = Codes.Timeout, ["message"] = "request timeout" };
                }
                else
                {
                    await Task.Delay(delay, _stop.Token).ConfigureAwait(false);
                }
            }
            // Logged before the answer is sent, so a client that has its answer finds the request in the log.
            Log(path, bodyText.Length > MaxBodyBytes ? bodyText[..4096] : bodyText, httpStatus,
                answer.TryGetValue("code", out var code) && code is int c ? c : -1,
                answer.TryGetValue("message", out var msg) && msg is string m ? m : string.Empty);
            await WriteJsonAsync(response, httpStatus, answer).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            TryAbort(response);
        }
        catch (HttpListenerException)
        {
            TryAbort(response);
        }
        catch (ObjectDisposedException)
        {
        }
        catch (Exception ex)
        {
            // Like gin's recovery after a handler panic: HTTP 500.
            try
            {
                await WriteJsonAsync(response, 500, new Json { ["code"] = 500, ["message"] = "contract server bug: " + ex }).ConfigureAwait(false);
            }
            catch (Exception)
            {
                TryAbort(response);
            }
            Log(path, string.Empty, 500, 500, ex.ToString());
        }
    }

    private (int Status, Json Answer) Dispatch(string path, RouteEntry route, byte[] body, HttpListenerRequest request)
    {
        string routeName = path["/v2/vectordb/".Length..];
        string? allow = request.Headers["Accept-Type-Allow-Int64"];
        // Absent header: proxy.http.acceptTypeAllowInt64 (default true). Present: strconv.ParseBool, failure = false.
        bool allowInt64 = allow == null || allow is "1" or "t" or "T" or "true" or "TRUE" or "True";
        var ctx = new RequestContext(routeName, allowInt64, request.Headers["DB-Name"]);
        try
        {
            var bound = GoBinder.Bind(body, route.Spec, routeName);
            if (route.IsDataRequest && Faults.TakeRateLimit())
            {
                throw new MilvusException(Codes.HttpRateLimit,
                    "request is rejected by limiter, error: rate limit exceeded[rate=0] (injected fault)");
            }
            return (200, route.Handler(bound, ctx));
        }
        catch (MilvusException ex)
        {
            return (ex.HttpStatus, new Json { ["code"] = ex.Code, ["message"] = ex.Message });
        }
    }

    /// <summary>ParseUsernamePassword (httpserver/utils.go): HTTP Basic first, else the header minus "Bearer ", split at the first ':'.</summary>
    private bool Authorized(HttpListenerRequest request)
    {
        if (_options.Token == null)
        {
            return true;
        }
        string? header = request.Headers["Authorization"];
        if (string.IsNullOrEmpty(header))
        {
            return false;
        }
        string pair;
        if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                pair = Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim()));
            }
            catch (FormatException)
            {
                return false;
            }
        }
        else
        {
            pair = header.StartsWith("Bearer ", StringComparison.Ordinal) ? header[7..] : header;
        }
        int colon = pair.IndexOf(':', StringComparison.Ordinal);
        if (colon <= 0 || colon == pair.Length - 1)
        {
            return false;
        }
        return string.Equals(pair, _options.Token, StringComparison.Ordinal);
    }

    private static async Task<(byte[] Body, bool TooLarge)> ReadBodyAsync(HttpListenerRequest request)
    {
        if (!request.HasEntityBody)
        {
            return ([], false);
        }
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        var input = request.InputStream;
        bool tooLarge = false;
        while (true)
        {
            int n = await input.ReadAsync(chunk).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }
            if (!tooLarge && buffer.Length + n > MaxBodyBytes)
            {
                tooLarge = true;
            }
            if (!tooLarge)
            {
                buffer.Write(chunk, 0, n);
            }
            else if (buffer.Length < 4096)
            {
                buffer.Write(chunk, 0, (int)Math.Min(n, 4096 - buffer.Length));
            }
        }
        return (buffer.ToArray(), tooLarge);
    }

    private static async Task WriteJsonAsync(HttpListenerResponse response, int status, object answer)
    {
        byte[] bytes = GoJson.Serialize(answer);
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
        response.Close();
    }

    private static async Task WriteTextAsync(HttpListenerResponse response, int status, string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes).ConfigureAwait(false);
        response.Close();
    }

    /// <summary>
    /// Closes the connection without sending anything (TCP reset). The managed HttpListener (Linux, macOS) writes an
    /// empty 200 on Abort(), so its socket is reset directly; http.sys (Windows) resets on Abort() itself.
    /// </summary>
    private static void DropConnection(HttpListenerContext context)
    {
        try
        {
            object? connection = typeof(HttpListenerContext)
                .GetField("_connection", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(context);
            var socketField = connection?.GetType()
                .GetFields(BindingFlags.NonPublic | BindingFlags.Instance)
                .FirstOrDefault(f => typeof(Socket).IsAssignableFrom(f.FieldType));
            if (socketField?.GetValue(connection) is Socket socket)
            {
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();
                return;
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or FieldAccessException or TargetException)
        {
        }
        TryAbort(context.Response);
    }

    private static void TryAbort(HttpListenerResponse response)
    {
        try
        {
            response.Abort();
        }
        catch (Exception)
        {
            // the connection is already gone
        }
    }

    private void Log(string path, string body, int status, int code, string message)
    {
        lock (_log)
        {
            _log.Add(new ContractRequest(path, body, status, code, message));
        }
    }

    // ------------------------------------------------------------------ control endpoints (not Milvus; no auth)

    private async Task HandleControlAsync(HttpListenerContext context, string path)
    {
        var request = context.Request;
        var response = context.Response;
        string method = request.HttpMethod;
        switch (path)
        {
            case "/_contract/faults" when method == "GET":
                await WriteJsonAsync(response, 200, FaultsJson()).ConfigureAwait(false);
                return;
            case "/_contract/faults" when method == "POST":
                var (body, _) = await ReadBodyAsync(request).ConfigureAwait(false);
                string? error = ApplyFaults(body);
                if (error != null)
                {
                    await WriteJsonAsync(response, 400, new Json { ["error"] = error }).ConfigureAwait(false);
                    return;
                }
                await WriteJsonAsync(response, 200, FaultsJson()).ConfigureAwait(false);
                return;
            case "/_contract/reset" when method == "POST":
                Reset();
                await WriteJsonAsync(response, 200, new Json()).ConfigureAwait(false);
                return;
            case "/_contract/requests" when method == "GET":
                var list = Requests.Select(r => (object?)new Json
                {
                    ["path"] = r.Path,
                    ["body"] = r.Body,
                    ["httpStatus"] = r.HttpStatus,
                    ["code"] = r.Code,
                    ["message"] = r.Message,
                }).ToList();
                await WriteJsonAsync(response, 200, list).ConfigureAwait(false);
                return;
            case "/_contract/faults" or "/_contract/reset" or "/_contract/requests":
                await WriteTextAsync(response, 405, "405 method not allowed").ConfigureAwait(false);
                return;
            default:
                await WriteTextAsync(response, 404, "404 page not found").ConfigureAwait(false);
                return;
        }
    }

    private Json FaultsJson() => new()
    {
        ["rateLimitNext"] = Faults.RateLimitNext,
        ["serverErrorNext"] = Faults.ServerErrorNext,
        ["serverErrorStatus"] = Faults.ServerErrorStatus,
        ["dropConnectionNext"] = Faults.DropConnectionNext,
        ["responseDelayMs"] = (long)Faults.ResponseDelay.TotalMilliseconds,
    };

    private string? ApplyFaults(byte[] body)
    {
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(body.Length == 0 ? "{}"u8.ToArray() : body);
            root = doc.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            return "body is not JSON: " + ex.Message;
        }
        if (root.ValueKind != JsonValueKind.Object)
        {
            return "body must be a JSON object";
        }
        var values = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        string[] known = ["rateLimitNext", "serverErrorNext", "serverErrorStatus", "dropConnectionNext", "responseDelayMs"];
        foreach (var p in root.EnumerateObject())
        {
            string? key = known.FirstOrDefault(k => k.Equals(p.Name, StringComparison.OrdinalIgnoreCase));
            if (key == null)
            {
                return $"unknown key \"{p.Name}\" (known: {string.Join(", ", known)})";
            }
            if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetInt64(out long v) || v < 0)
            {
                return $"{key} must be a non-negative integer";
            }
            if (key == "serverErrorStatus" && v is < 500 or > 599)
            {
                return "serverErrorStatus must be 500..599";
            }
            values[key] = v;
        }
        foreach (var (key, v) in values)
        {
            switch (key)
            {
                case "rateLimitNext": Faults.RateLimitNext = (int)Math.Min(v, int.MaxValue); break;
                case "serverErrorNext": Faults.ServerErrorNext = (int)Math.Min(v, int.MaxValue); break;
                case "serverErrorStatus": Faults.ServerErrorStatus = (int)v; break;
                case "dropConnectionNext": Faults.DropConnectionNext = (int)Math.Min(v, int.MaxValue); break;
                case "responseDelayMs": Faults.ResponseDelay = TimeSpan.FromMilliseconds(v); break;
            }
        }
        return null;
    }
}
