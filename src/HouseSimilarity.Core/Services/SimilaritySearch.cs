using HouseSimilarity.Stores;

namespace HouseSimilarity.Services;

/// <summary>A photo to search around: a file just embedded, a piped embedding or a stored record.</summary>
public sealed record HouseQuery(string Id, string Path, float[] Vector, string ModelId)
{
    public static HouseQuery From(HouseEmbedding embedding) => new(embedding.Id, embedding.Path, embedding.Vector, embedding.ModelId);
}

/// <summary>
/// What a similarity search means, the same for the cmdlets and the benchmarks on every backend: the query's own record
/// (same Id) is left out unless asked for, the store's neighbours are ranked by distance then Id, filled in with their
/// records (a record removed meanwhile is skipped), and judged against the duplicate threshold by their L2 distance.
/// </summary>
public sealed class SimilaritySearch(IHouseStore store, HouseCollection collection, HouseStoreReference source, double threshold,
    Func<double, double>? probability = null)
{
    public IHouseStore Store { get; } = store;
    public double Threshold { get; } = threshold;

    /// <summary>The <paramref name="top"/> matches of each query, in query order, in one batched store search.</summary>
    public async Task<IReadOnlyList<IReadOnlyList<HouseMatch>>> FindAsync(IReadOnlyList<HouseQuery> queries, int top,
        SearchOptions options, bool includeSelf = false, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(top, 1);
        foreach (var query in queries)
        {
            if (query.ModelId != collection.ModelId)
            {
                throw new ModelMismatchException(collection.Name, collection.ModelId, query.ModelId);
            }
        }
        if (!Store.Capabilities.Metrics.Contains(options.Metric))
        {
            throw new NotSupportedException(
                $"The {Store.Backend} backend cannot search by {options.Metric} distance (it offers {string.Join(", ", Store.Capabilities.Metrics)})" +
                (Store.Capabilities.MetricNote is { } note ? $": {note}." : "."));
        }
        if (options.Exact && !Store.Capabilities.ExactSearch)
        {
            throw new NotSupportedException(
                $"The {Store.Backend} backend cannot search exactly through an approximate index: create the collection with -IndexType Exact.");
        }
        int k = Math.Min(includeSelf ? top : top + 1, Store.Capabilities.MaxK);
        var neighbours = await Store.SearchManyAsync(queries.Select(q => q.Vector).ToList(), k, options, cancellationToken);

        var kept = new List<Neighbour>[queries.Count];
        for (int q = 0; q < queries.Count; q++)
        {
            kept[q] = neighbours[q]
                .Where(n => includeSelf || n.Id != queries[q].Id)
                .OrderBy(n => n.Distance).ThenBy(n => n.Id, StringComparer.Ordinal)
                .Take(top).ToList();
        }
        var records = (await Store.GetManyAsync(kept.SelectMany(n => n).Select(n => n.Id).Distinct().ToList(), cancellationToken))
            .ToDictionary(r => r.Id, StringComparer.Ordinal);

        var result = new List<HouseMatch>[queries.Count];
        for (int q = 0; q < queries.Count; q++)
        {
            result[q] = [];
            foreach (var neighbour in kept[q])
            {
                if (!records.TryGetValue(neighbour.Id, out var record))
                {
                    continue; // removed since the search
                }
                double l2 = VectorMath.L2(queries[q].Vector, record.Vector);
                result[q].Add(new HouseMatch
                {
                    Rank = result[q].Count + 1, Id = record.Id, Path = record.Path, Distance = neighbour.Distance, L2Distance = l2,
                    Similarity = VectorMath.Similarity(l2), IsDuplicate = l2 <= Threshold, Metric = options.Metric.ToString(),
                    DuplicateProbability = probability?.Invoke(Math.Min(l2, 2)) ?? double.NaN,
                    Sha256 = record.Sha256, Width = record.Width, Height = record.Height, Query = queries[q].Path,
                    Collection = collection.Name, Store = source,
                });
            }
        }
        return result;
    }
}
