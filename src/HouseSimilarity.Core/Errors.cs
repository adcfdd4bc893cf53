namespace HouseSimilarity;

/// <summary>Why a photo could not be read; cmdlets map it to an ErrorCategory.</summary>
public enum ImageFailure
{
    NotFound,
    Unreadable,
    UnsupportedFormat,
    Corrupt,
    TooLarge,
}

/// <summary>A photo that cannot be embedded, naming the file and the cause.</summary>
public sealed class HouseImageException(string path, ImageFailure failure, string reason, Exception? inner = null)
    : Exception($"Cannot read '{path}': {reason}", inner)
{
    public string Path { get; } = path;
    public ImageFailure Failure { get; } = failure;
}

/// <summary>A collection holds vectors of another model than the one in use.</summary>
public sealed class ModelMismatchException(string collection, string storedModelId, string modelId)
    : Exception($"Collection '{collection}' was built with model '{storedModelId}', but this module embeds with model '{modelId}'. " +
                "Vectors of different models cannot be compared: re-add the photos into a new collection (-Collection), " +
                "or remove the old collection (Remove-HouseCollection) and add them again.")
{
    public string Collection { get; } = collection;
    public string StoredModelId { get; } = storedModelId;
    public string ModelId { get; } = modelId;
}


/// <summary>A record no store accepts (a bad Id or vector), naming it and the cause; the rest of an ingest goes on.</summary>
public sealed class InvalidHouseRecordException(string id, string reason)
    : ArgumentException($"Photo '{HouseRecordCheck.Printable(id)}' cannot be stored: {reason}")
{
    public string Id { get; } = id;
    public string Reason { get; } = reason;
}
