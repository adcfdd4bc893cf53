namespace HouseSimilarity.MilvusContract;

/// <summary>Settings of a <see cref="MilvusContractServer"/>.</summary>
public sealed class ContractServerOptions
{
    /// <summary>
    /// Null: authentication is disabled. Otherwise <c>user:password</c>: every Milvus request needs
    /// <c>Authorization: Bearer user:password</c> or HTTP Basic with the same pair, else HTTP 401
    /// <c>{"code":1800,"message":"user hasn't authenticated"}</c>.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>Newer servers add a top-level <c>topks</c> to search answers; false mimics 2.4 (flat <c>data</c> only).</summary>
    public bool ReturnTopks { get; set; } = true;

    /// <summary>Collections stay <c>LoadStateLoading</c> this long after a load (or a create with index).</summary>
    public TimeSpan LoadDelay { get; set; } = TimeSpan.Zero;

    /// <summary>Writes stay invisible this long to reads whose consistency level is not <c>Strong</c>, and to get_stats.</summary>
    public TimeSpan ConsistencyLag { get; set; } = TimeSpan.Zero;

    /// <summary>0: pick a free loopback port.</summary>
    public int Port { get; set; }
}
