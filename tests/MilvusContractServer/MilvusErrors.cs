namespace HouseSimilarity.MilvusContract;

/// <summary>Error codes of pkg/util/merr/errors.go (Milvus 2.4 to 2.6) that this server answers with.</summary>
internal static class Codes
{
    public const int Success = 0;
    public const int CollectionNotFound = 100;       // ErrCollectionNotFound
    public const int CollectionNotLoaded = 101;      // ErrCollectionNotLoaded
    public const int CollectionNotFullyLoaded = 103; // ErrCollectionNotFullyLoaded (retriable)
    public const int IndexNotFound = 700;            // ErrIndexNotFound
    public const int DatabaseNotFound = 800;         // ErrDatabaseNotFound
    public const int ParameterInvalid = 1100;        // ErrParameterInvalid
    public const int NeedAuthenticate = 1800;        // ErrNeedAuthenticate
    public const int IncorrectParameterFormat = 1801; // ErrIncorrectParameterFormat
    public const int MissingRequiredParameters = 1802; // ErrMissingRequiredParameters
    public const int InvalidInsertData = 1804;       // ErrInvalidInsertData
    public const int CheckPrimaryKey = 1806;         // ErrCheckPrimaryKey
    public const int HttpRateLimit = 1807;           // ErrHTTPRateLimit (retriable)
    public const int Timeout = 10001;                // merr.TimeoutCode (timeout_middleware.go)
    public const int Unexpected = 65535;             // errUnexpected: plain Go errors without a merr code
}

/// <summary>An answer with a non-zero code; HTTP 200 unless stated.</summary>
internal sealed class MilvusException(int code, string message, int httpStatus = 200) : Exception(message)
{
    public int Code { get; } = code;

    public int HttpStatus { get; } = httpStatus;
}

/// <summary>Message shapes of merr (pkg/util/merr/utils.go) and of the REST handlers.</summary>
internal static class Err
{
    public static MilvusException Invalid(string message) =>
        new(Codes.ParameterInvalid, message + ": invalid parameter");

    public static MilvusException InvalidExpected(string expected, string actual, string message) =>
        new(Codes.ParameterInvalid, $"{message}: invalid parameter[expected={expected}][actual={actual}]");

    public static MilvusException Unexpected(string message) => new(Codes.Unexpected, message);

    public static MilvusException Format(string detail) =>
        new(Codes.IncorrectParameterFormat, "can only accept json format request, error: " + detail);

    public static MilvusException InsertData(string detail) =>
        new(Codes.InvalidInsertData, "fail to deal the insert data, error: " + detail);

    public static MilvusException CollectionNotFound(string name) =>
        new(Codes.CollectionNotFound, $"collection not found[database=default][collection={name}]");

    public static MilvusException NotSupported(string what) =>
        new(Codes.ParameterInvalid, what + " is not supported by the contract server: invalid parameter");

    public static MilvusException Expression(string expr, string detail) =>
        new(Codes.ParameterInvalid, $"cannot parse expression: {expr}, error: {detail}: invalid parameter");
}
