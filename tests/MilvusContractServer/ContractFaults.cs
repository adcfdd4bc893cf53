namespace HouseSimilarity.MilvusContract;

/// <summary>Faults injected into the next answers. Thread-safe; may be changed while requests run.</summary>
public sealed class ContractFaults
{
    private int _rateLimitNext;
    private int _serverErrorNext;
    private int _dropConnectionNext;
    private int _serverErrorStatus = 503;
    private long _responseDelayTicks;

    /// <summary>
    /// The next N data requests (entities/insert, upsert, delete, search, query, get) answer HTTP 200
    /// <c>{"code":1807,"message":"request is rejected by limiter, error: rate limit exceeded..."}</c>
    /// (merr.ErrHTTPRateLimit, retriable), as the REST layer does when the proxy's rate limiter refuses a request.
    /// </summary>
    public int RateLimitNext
    {
        get => Volatile.Read(ref _rateLimitNext);
        set => Volatile.Write(ref _rateLimitNext, NonNegative(value));
    }

    /// <summary>The next N Milvus requests answer HTTP <see cref="ServerErrorStatus"/> with a plain-text body.</summary>
    public int ServerErrorNext
    {
        get => Volatile.Read(ref _serverErrorNext);
        set => Volatile.Write(ref _serverErrorNext, NonNegative(value));
    }

    /// <summary>The HTTP status used by <see cref="ServerErrorNext"/>: 500 to 599, default 503.</summary>
    public int ServerErrorStatus
    {
        get => Volatile.Read(ref _serverErrorStatus);
        set
        {
            if (value is < 500 or > 599)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "must be 500..599");
            }
            Volatile.Write(ref _serverErrorStatus, value);
        }
    }

    /// <summary>The next N Milvus requests: the connection is closed without an answer.</summary>
    public int DropConnectionNext
    {
        get => Volatile.Read(ref _dropConnectionNext);
        set => Volatile.Write(ref _dropConnectionNext, NonNegative(value));
    }

    /// <summary>
    /// Every Milvus answer is held back this long. The request itself is carried out at once (as in Milvus, where a
    /// timed-out handler still completes). If the delay reaches the request timeout (header <c>Request-Timeout</c> in
    /// seconds, else 30 s) the server answers HTTP 408 <c>{"code":10001,"message":"request timeout"}</c> at the timeout.
    /// </summary>
    public TimeSpan ResponseDelay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _responseDelayTicks));
        set
        {
            if (value < TimeSpan.Zero)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "must not be negative");
            }
            Interlocked.Exchange(ref _responseDelayTicks, value.Ticks);
        }
    }

    /// <summary>Clears every fault.</summary>
    public void Clear()
    {
        RateLimitNext = 0;
        ServerErrorNext = 0;
        DropConnectionNext = 0;
        ServerErrorStatus = 503;
        ResponseDelay = TimeSpan.Zero;
    }

    internal bool TakeRateLimit() => Take(ref _rateLimitNext);

    internal bool TakeServerError() => Take(ref _serverErrorNext);

    internal bool TakeDropConnection() => Take(ref _dropConnectionNext);

    private static bool Take(ref int counter)
    {
        while (true)
        {
            int current = Volatile.Read(ref counter);
            if (current <= 0)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref counter, current - 1, current) == current)
            {
                return true;
            }
        }
    }

    private static int NonNegative(int value) =>
        value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "must not be negative");
}
