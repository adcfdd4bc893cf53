using HouseSimilarity.Stores.PgVector;

namespace HouseSimilarity.Stores.AlloyDb;

/// <summary>AlloyDB / AlloyDB Omni: the PostgreSQL provider with the ScaNN index (HOUSESIM_ALLOYDB_CONNECTION).</summary>
public sealed class AlloyDbStoreProvider : PgVectorStoreProvider
{
    public new const string BackendName = "AlloyDb";
    public new const string ConnectionVariable = "HOUSESIM_ALLOYDB_CONNECTION";

    internal static new readonly IReadOnlyList<VectorIndexType> Indexes =
        [VectorIndexType.Hnsw, VectorIndexType.Exact, VectorIndexType.ScaNN];

    public override string Name => BackendName;
    public override string Description => "AlloyDB Omni (-ConnectionString, -Credential): pgvector plus the ScaNN index";
    public override StoreSetting Implies => StoreSetting.None;
    public override IReadOnlyList<VectorIndexType> IndexTypes => Indexes;
    public override string? LocationVariable => ConnectionVariable;

    protected internal override IHouseStore Open(HouseStoreSettings settings, string collection, StoreOpenOptions options) =>
        new AlloyDbStore(Options(settings, options), collection);
}
