using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace HouseSimilarity.Stores.Milvus;

/// <summary>How to reach a Milvus server.</summary>
public sealed class MilvusOptions
{
    /// <summary>The server: http(s)://host:19530 (REST and gRPC share the port).</summary>
    public required Uri Uri { get; init; }
    /// <summary>"user:password" (or an API key); null when the server has authentication off.</summary>
    public string? Token { get; init; }
    /// <summary>The database on the server.</summary>
    public string Database { get; init; } = "default";
    /// <summary>How long one request may take.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>How long a new collection may take to load before the store gives up.</summary>
    public TimeSpan LoadTimeout { get; init; } = TimeSpan.FromSeconds(120);
    /// <summary>Tries of an idempotent request after a retriable failure (rate limit, timeout, 5xx, refused connection).</summary>
    public int Retries { get; init; } = 4;
    /// <summary>The first pause before a retry; it doubles each time, up to 4 s.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMilliseconds(250);
}

/// <summary>A Milvus answer that is not a success: its <c>code</c> (HTTP 200 with a non-zero code, or an HTTP status) and message.</summary>
public sealed class MilvusException(int code, string message, int httpStatus = 200, Exception? inner = null)
    : Exception(message, inner)
{
    public int Code { get; } = code;
    public int HttpStatus { get; } = httpStatus;

    /// <summary>merr codes the server marks as retriable: service unavailable, too many requests, rate limits.</summary>
    public bool Retriable => Code is 2 or 4 or 8 or 1807 || HttpStatus is 408 or 429 or >= 500;

    public const int CollectionNotFound = 100, CollectionNotLoaded = 101, NotAuthenticated = 1800;
}

/// <summary>
/// A focused client for the Milvus RESTful API v2 (<c>POST /v2/vectordb/&lt;category&gt;/&lt;action&gt;</c>): JSON in,
/// the <c>{"code":0,"data":...}</c> envelope out, every non-zero code an exception carrying Milvus's message. Idempotent
/// requests are retried with bounded backoff on rate limits, timeouts, 5xx and refused connections.
/// </summary>
internal sealed class MilvusClient(MilvusOptions options)
{
    // One connection pool per server for the process.
    private static readonly ConcurrentDictionary<string, HttpClient> Clients = new();

    private readonly HttpClient _http = Clients.GetOrAdd(options.Uri.GetLeftPart(UriPartial.Authority), _ =>
        new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), ConnectTimeout = TimeSpan.FromSeconds(10) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        });

    public MilvusOptions Options { get; } = options;

    /// <summary>Sends one request; the body gets <c>dbName</c>. Returns the envelope's <c>data</c> (and the whole answer).</summary>
    public async Task<JsonNode> PostAsync(string path, JsonObject body, bool idempotent, CancellationToken cancellationToken)
    {
        body["dbName"] = Options.Database;
        string json = body.ToJsonString();
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await SendAsync(path, json, cancellationToken);
            }
            catch (Exception e) when (idempotent && attempt < Options.Retries && !cancellationToken.IsCancellationRequested &&
                                      (e is MilvusException { Retriable: true } or HttpRequestException or TimeoutException))
            {
                var delay = TimeSpan.FromTicks(Math.Min(Options.RetryDelay.Ticks << attempt, TimeSpan.FromSeconds(4).Ticks));
                await Task.Delay(delay, cancellationToken);
            }
        }
    }

    private async Task<JsonNode> SendAsync(string path, string json, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Options.Uri, "/v2/vectordb/" + path))
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        if (Options.Token is { Length: > 0 } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        request.Headers.Add("Accept-Type-Allow-Int64", "true");
        request.Headers.Add("Request-Timeout", ((int)Math.Ceiling(Options.RequestTimeout.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Options.RequestTimeout);
        HttpResponseMessage response;
        string text;
        try
        {
            response = await _http.SendAsync(request, timeout.Token);
            text = await response.Content.ReadAsStringAsync(timeout.Token);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer within {Options.RequestTimeout.TotalSeconds:0.#} s", e);
        }
        using (response)
        {
            int status = (int)response.StatusCode;
            JsonNode? answer = null;
            try
            {
                answer = text.Length > 0 ? JsonNode.Parse(text) : null;
            }
            catch (JsonException)
            {
                // Proxies and panics answer in plain text; the status says what happened.
            }
            int? code = answer?["code"]?.GetValueKind() == JsonValueKind.Number ? answer["code"]!.GetValue<int>() : null;
            string message = answer?["message"]?.GetValueKind() == JsonValueKind.String ? answer["message"]!.GetValue<string>() : "";
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new MilvusException(code ?? status,
                    message.Length > 0 ? message : $"HTTP {status} {response.ReasonPhrase} {Shorten(text)}".TrimEnd(), status);
            }
            if (answer is null || code is null)
            {
                throw new MilvusException(65535, $"not a Milvus answer: {Shorten(text)}", status);
            }
            // Success is 0; some older builds answered 200.
            if (code is not (0 or 200))
            {
                throw new MilvusException(code.Value, message.Length > 0 ? message : $"error code {code}");
            }
            return answer;
        }
    }

    private static string Shorten(string text) => text.Length <= 200 ? text : text[..200] + "...";
}
