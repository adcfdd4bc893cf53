using System.Management.Automation;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>
/// Sets the store (and collection) the other cmdlets use in this session when they are not told otherwise. It connects
/// first, so an unreachable server or a wrong password is reported here and the previous default stays. Explicit
/// parameters of a command still win; the session default wins over HOUSESIM_* environment variables.
/// </summary>
[Cmdlet(VerbsCommunications.Connect, "HouseStore")]
[OutputType(typeof(HouseStoreConnection))]
public sealed class ConnectHouseStoreCommand : HouseStoreCmdletBase
{
    /// <summary>The default collection of the session.</summary>
    [Parameter]
    [SingleCollectionName]
    [ValidateNotNullOrEmpty]
    public string? Collection { get; set; }

    /// <summary>The index new collections get (Hnsw; Exact; ScaNN: AlloyDb; IvfFlat, AutoIndex: Milvus).</summary>
    [Parameter]
    public VectorIndexType IndexType { get; set; }

    /// <summary>Emit the connection (backend, location, collection; never the password).</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override VectorIndexType? RequestedIndexType => IsBound(nameof(IndexType)) ? IndexType : null;

    protected override string? RequestedCollection => Collection;

    protected override bool UsesSessionDefault => false;

    /// <summary>A new store file is created here, as a server's database is there before connecting: the next Add-HouseVector fills it.</summary>
    protected override bool CreatesStore => true;

    protected override void EndProcessing()
    {
        using var store = OpenStore();
        var target = Target;
        HouseStoreSession.Current = target.ToSettings();
        var connection = HouseStoreFactory.Resolve(new HouseStoreSettings(), HouseStoreSession.Current).Describe();
        WriteVerbose($"The {connection.Backend} store {connection.Location} (collection '{connection.Collection}') is now this session's default.");
        if (PassThru)
        {
            WriteObject(connection);
        }
    }
}

/// <summary>Forgets the session default of Connect-HouseStore: commands go back to HOUSESIM_* variables or the embedded store.</summary>
[Cmdlet(VerbsCommunications.Disconnect, "HouseStore")]
[OutputType(typeof(void))]
public sealed class DisconnectHouseStoreCommand : HouseCmdletBase
{
    protected override void EndProcessing()
    {
        bool had = HouseStoreSession.Current is not null;
        HouseStoreSession.Current = null;
        WriteVerbose(had ? "The session default store is cleared." : "There was no session default store.");
    }
}
