namespace HouseSimilarity.Stores;

/// <summary>What kind of failure a <see cref="HouseStoreException"/> is, so that callers can categorise it.</summary>
public enum StoreFailure
{
    Other,
    /// <summary>The server cannot be reached, or the connection broke.</summary>
    Connection,
    /// <summary>The server refused the user name, password or token.</summary>
    Authentication,
    /// <summary>A server extension (pgvector, alloydb_scann) is missing.</summary>
    NotInstalled,
    /// <summary>The user lacks a privilege the store needs, or the file may not be written.</summary>
    PermissionDenied,
    /// <summary>The store refused the request as invalid (a limit, a setting it does not support).</summary>
    InvalidRequest,
    /// <summary>The disk (or the server's quota) is full.</summary>
    StorageFull,
    /// <summary>Another writer holds the store for longer than the wait allows.</summary>
    Busy,
    /// <summary>The store may be read but not written.</summary>
    ReadOnly,
    /// <summary>The store's file or data is damaged.</summary>
    Corrupt,
    /// <summary>The store does not exist (a store file never created), and the command does not create stores.</summary>
    NotFound,
}

/// <summary>
/// A store failed. Each backend turns its own driver's errors into this, with the kind of failure and where the store
/// is; the message names the server or file and never holds a secret.
/// </summary>
public sealed class HouseStoreException(string message, Exception? inner = null, StoreFailure kind = StoreFailure.Other,
    string? location = null) : Exception(message, inner)
{
    public StoreFailure Kind { get; } = kind;
    /// <summary>The store's location (file, server), without secrets; null when unknown.</summary>
    public string? Location { get; } = location;
}
