namespace HouseSimilarity.MilvusContract;

/// <summary>One Milvus request the server received, with the answer it gave.</summary>
/// <param name="Path">The request path, e.g. <c>/v2/vectordb/entities/search</c>.</param>
/// <param name="Body">The request body as text (bodies over 64 MiB are cut to their first 4 KiB).</param>
/// <param name="HttpStatus">The HTTP status of the answer; 0 when the connection was dropped on purpose.</param>
/// <param name="Code">The JSON <c>code</c> of the answer; -1 when the answer carried none (404, 405, injected 5xx, dropped).</param>
/// <param name="Message">The JSON <c>message</c> of the answer, or the plain-text body; empty on success.</param>
public sealed record ContractRequest(string Path, string Body, int HttpStatus, int Code, string Message);
