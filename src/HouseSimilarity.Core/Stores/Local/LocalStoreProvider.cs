namespace HouseSimilarity.Stores.Local;

/// <summary>The embedded default store: one SQLite file, searched exactly, through an HNSW index from 20,000 rows.</summary>
public sealed class LocalStoreProvider : HouseStoreProvider
{
    public const string BackendName = "Local";

    public override string Name => BackendName;
    public override string Description => "the embedded store: one SQLite file (-StorePath), exact search; an HNSW index from 20,000 rows";
    public override StoreSetting Accepts => StoreSetting.StorePath;
    public override StoreSetting Implies => StoreSetting.StorePath;
    public override IReadOnlyList<VectorIndexType> IndexTypes { get; } = [VectorIndexType.Exact];

    protected internal override HouseStoreSettings Complete(HouseStoreSettings settings, Func<string, string?> environment)
    {
        var complete = settings.Clone();
        complete.StorePath = Path.GetFullPath(settings.StorePath ?? LocalStore.DefaultFile);
        return complete;
    }

    protected internal override string Locate(HouseStoreSettings settings) => settings.StorePath!;

    protected internal override IHouseStore Open(HouseStoreSettings settings, string collection, StoreOpenOptions options)
    {
        // Commands that only read never create a store (nor its folder): a mistyped -StorePath is an error, not a new file.
        if (!options.CreateIfMissing && !File.Exists(settings.StorePath))
        {
            throw new HouseStoreException(
                $"There is no store file '{settings.StorePath}': check -StorePath (Add-HouseVector creates a store when it adds the first photos).",
                null, StoreFailure.NotFound, settings.StorePath);
        }
        return new LocalStore(settings.StorePath, collection);
    }
}
