using HouseSimilarity.Services;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Tests;

/// <summary>Searches a store as Find-SimilarHouse does (through <see cref="SimilaritySearch"/>), for the store tests.</summary>
internal static class StoreTestExtensions
{
    public static async Task<IReadOnlyList<HouseMatch>> SearchAsync(this IHouseStore store, float[] query, string modelId, int top,
        DistanceMetric metric, bool exact = false, double threshold = 0.8)
    {
        var collection = await store.GetCollectionAsync();
        if (collection is null)
        {
            return [];
        }
        var search = new SimilaritySearch(store, collection, new HouseStoreReference(store.Backend, store.Location, store.Collection), threshold);
        var found = await search.FindAsync([new HouseQuery("\u0001query", "query", query, modelId)], top,
            new SearchOptions { Metric = metric, Exact = exact }, includeSelf: true);
        return found[0];
    }
}
