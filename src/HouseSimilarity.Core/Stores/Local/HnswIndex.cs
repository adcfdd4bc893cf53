using System.Reflection;
using Cloud.Unum.USearch;

namespace HouseSimilarity.Stores.Local;

/// <summary>
/// The approximate index of one collection of the embedded store: an HNSW graph (USearch) of the rows' keys and
/// vectors, in a file beside the store named by a random token (<c>houses.db.&lt;collection&gt;.&lt;token&gt;.hnsw</c>).
/// A file is written whole under a temporary name, flushed and renamed before the store records it, and never
/// rewritten in place: a killed writer leaves at most an unused file, never a file that disagrees with the store's
/// record of it. Searches map the file (<see cref="OpenView"/>), so a new process does not read every vector.
/// </summary>
internal sealed class HnswIndex : IDisposable
{
    /// <summary>Links per node: 16 is HNSW's usual default for vectors of about 100 dimensions.</summary>
    private const ulong Connectivity = 16;
    /// <summary>Candidates kept while linking a new node: 64 builds in half the time of 128 and meets the recall floor.</summary>
    private const ulong ExpansionAdd = 64;
    private const ulong ExpansionSearch = 64;

    private static readonly MethodInfo Reserve = typeof(USearchIndex).GetMethod("IncreaseCapacity",
        BindingFlags.NonPublic | BindingFlags.Instance) ?? throw new MissingMethodException("USearchIndex.IncreaseCapacity");

    private readonly USearchIndex _index;
    // USearch keeps one search context per core and fails, rather than waits, when more threads than that enter it.
    private readonly SemaphoreSlim _contexts = new(Environment.ProcessorCount);

    public string File { get; }
    public long Count => (long)_index.Size();

    private HnswIndex(USearchIndex index, string file)
    {
        _index = index;
        File = file;
    }

    /// <summary>
    /// Whether USearch's native library loads on this platform (its package ships Linux x64, Windows x64 and macOS
    /// arm64): where it does not, the embedded store searches every collection exactly, as below the switch point.
    /// </summary>
    public static bool Available => LoadsHere.Value;

    private static readonly Lazy<bool> LoadsHere = new(() =>
    {
        try
        {
            using var probe = new USearchIndex(MetricKind.L2sq, ScalarKind.Float32, 1, Connectivity, ExpansionAdd, ExpansionSearch);
            return true;
        }
        catch (Exception e) when (e is TypeLoadException or BadImageFormatException or TypeInitializationException or USearchException)
        {
            return false;
        }
    });

    public static string PathFor(string storeFile, string collection, string token) => $"{storeFile}.{collection}.{token}.hnsw";

    /// <summary>Every index file of a collection, the temporary ones included.</summary>
    public static IEnumerable<string> FilesOf(string storeFile, string collection)
    {
        string folder = Path.GetDirectoryName(storeFile)!;
        return Directory.Exists(folder)
            ? Directory.EnumerateFiles(folder, $"{Path.GetFileName(storeFile)}.{collection}.*.hnsw*")
            : [];
    }

    public static HnswIndex New(int dimension) =>
        new(new USearchIndex(MetricKind.L2sq, ScalarKind.Float32, (ulong)dimension, Connectivity, ExpansionAdd, ExpansionSearch), "");

    /// <summary>Reads a file whole, to add to it and save it under a new name.</summary>
    public static HnswIndex Load(string file, IndexRecord expected, int dimension) => Open(file, expected, dimension, view: false);

    /// <summary>Maps a file for searching; throws <see cref="InvalidDataException"/> when it is not the file the store recorded.</summary>
    public static HnswIndex OpenView(string file, IndexRecord expected, int dimension) => Open(file, expected, dimension, view: true);

    private static HnswIndex Open(string file, IndexRecord expected, int dimension, bool view)
    {
        Check(file, expected);
        HnswIndex index;
        try
        {
            index = new HnswIndex(new USearchIndex(file, view), file);
        }
        catch (USearchException e)
        {
            throw new InvalidDataException($"the index file '{file}' cannot be read: {e.Message}", e);
        }
        index.Check(expected, dimension);
        return index;
    }

    private static void Check(string file, IndexRecord expected)
    {
        var info = new FileInfo(file);
        if (!info.Exists)
        {
            throw new InvalidDataException($"the index file '{file}' is missing");
        }
        if (info.Length != expected.Bytes)
        {
            throw new InvalidDataException($"the index file '{file}' has {info.Length} bytes; {expected.Bytes} were written");
        }
    }

    private void Check(IndexRecord expected, int dimension)
    {
        if ((int)_index.Dimensions() != dimension || Count != expected.Count)
        {
            Dispose();
            throw new InvalidDataException($"the index file '{File}' holds {Count} vectors of {_index.Dimensions()} dimensions; " +
                $"{expected.Count} of {dimension} were written");
        }
    }

    /// <summary>The stored vector of a key (the index keeps them at full precision), or null.</summary>
    public float[]? Vector(ulong key) => _index.Get(key, out float[] vector) > 0 ? vector : null;

    /// <summary>The keys of about the <paramref name="count"/> nearest vectors (squared L2, nearest first).</summary>
    public ulong[] Search(float[] query, int count)
    {
        _contexts.Wait();
        try
        {
            _index.Search(query, count, out ulong[] keys, out _);
            return keys;
        }
        finally
        {
            _contexts.Release();
        }
    }

    /// <summary>Adds rows on every core (each core has its own context, reserved here).</summary>
    public void Add(IReadOnlyList<(ulong Key, float[] Vector)> rows, CancellationToken ct)
    {
        if (rows.Count == 0)
        {
            return;
        }
        if (_index.Capacity() < _index.Size() + (ulong)rows.Count)
        {
            // Reserved ahead, in steps, so that no add grows the index while another is linking.
            Reserve.Invoke(_index, [Math.Max((ulong)rows.Count, _index.Size() / 4)]);
        }
        Parallel.For(0, rows.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = ct },
            i => _index.Add(rows[i].Key, rows[i].Vector));
    }

    public void Remove(ulong key) => _index.Remove(key);

    /// <summary>
    /// Writes the index to a new file beside the store (temporary name, flushed to disk, then renamed): the file the
    /// store records is complete or absent.
    /// </summary>
    public IndexRecord Save(string storeFile, string collection)
    {
        string token = Guid.NewGuid().ToString("N")[..12];
        string file = PathFor(storeFile, collection, token), temporary = file + ".tmp";
        try
        {
            _index.Save(temporary);
            using (var stream = new FileStream(temporary, FileMode.Open, FileAccess.ReadWrite, FileShare.Read))
            {
                stream.Flush(flushToDisk: true);
            }
            System.IO.File.Move(temporary, file);
        }
        catch (Exception e) when (e is USearchException or IOException or UnauthorizedAccessException)
        {
            TryDelete(temporary);
            throw e is USearchException ? new IOException($"the index file '{temporary}' could not be written: {e.Message}", e) : e;
        }
        return new IndexRecord(token, 0, Count, new FileInfo(file).Length);
    }

    public static void TryDelete(string file)
    {
        try
        {
            System.IO.File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Mapped by another process on Windows, or already gone: removed by the next save.
        }
    }

    public void Dispose() => _index.Dispose();
}

/// <summary>
/// What the store recorded of a collection's index file: its token (the file name), the highest row key it holds
/// (rows with higher keys were added after it and are searched exactly), how many vectors and bytes it has.
/// </summary>
internal sealed record IndexRecord(string Token, long CoveredKey, long Count, long Bytes);
