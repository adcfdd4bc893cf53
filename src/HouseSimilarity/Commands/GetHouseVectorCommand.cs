using System.Management.Automation;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>Reads stored photos back: by Id, by path, the whole collection, or every record of piped collections.</summary>
[Cmdlet(VerbsCommon.Get, "HouseVector", DefaultParameterSetName = "All")]
[OutputType(typeof(HouseRecord))]
public sealed class GetHouseVectorCommand : HouseCollectionCmdletBase
{
    /// <summary>Paths of stored photos (the default Id); wildcards match existing files, other paths are taken as they are
    /// (the files need not exist any more).</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = "Path")]
    [SupportsWildcards]
    public string[] Path { get; set; } = [];

    /// <summary>Paths of stored photos, exactly as written; files from Get-ChildItem bind here.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "LiteralPath")]
    [Alias("PSPath", "LP")]
    public string[] LiteralPath { get; set; } = [];

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "Id")]
    public string[] Id { get; set; } = [];

    /// <summary>Collections from Get-HouseCollection: every record of each, read where the collection is.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true, ParameterSetName = "InputObject")]
    public HouseCollection[] InputObject { get; set; } = [];

    /// <summary>Where a piped record or match came from (its Store property): the record is read there.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = "Id", DontShow = true)]
    [Alias("Store")]
    public object? SourceStore { get; set; }

    /// <summary>Leaves the vector out (Vector is null): for Export-Csv, ConvertTo-Json and tables that need only the facts.</summary>
    [Parameter]
    public SwitchParameter NoVector { get; set; }

    protected override void ProcessRecord()
    {
        switch (ParameterSetName)
        {
            case "All":
                if (FindCollection() is { } collection)
                {
                    ReadAll(Store, collection);
                }
                return;
            case "InputObject":
                foreach (var piped in InputObject)
                {
                    if (StoreOf(piped) is { } store && FindCollection(store, ReferenceTo(store)) is { } found)
                    {
                        ReadAll(store, found);
                    }
                }
                return;
        }
        IEnumerable<string> ids = ParameterSetName switch
        {
            "Id" => Id,
            "LiteralPath" => LiteralPath.Select(p => SessionState.Path.GetUnresolvedProviderPathFromPSPath(p)),
            _ => StoredPaths(Path),
        };
        foreach (string id in ids)
        {
            if (StoreOf(SourceStore, id) is not { } store)
            {
                continue;
            }
            if (!CollectionExists(store))
            {
                continue;
            }
            HouseRecord? record = Wait(ct => store.GetAsync(id, ct));
            if (record is null)
            {
                WriteError(new ErrorRecord(new ItemNotFoundException($"No photo with Id '{id}' in collection '{store.Collection}'."),
                    "RecordNotFound", ErrorCategory.ObjectNotFound, id));
                continue;
            }
            record.Store = ReferenceTo(store);
            WriteObject(Shown(record));
        }
    }

    private void ReadAll(IHouseStore store, HouseCollection collection)
    {
        var records = store.ReadAllAsync(Cancellation).GetAsyncEnumerator(Cancellation);
        try
        {
            while (Wait(_ => records.MoveNextAsync().AsTask()))
            {
                records.Current.Store = collection.Store;
                WriteObject(Shown(records.Current));
            }
        }
        finally
        {
            records.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private HouseRecord Shown(HouseRecord record)
    {
        if (NoVector)
        {
            record.Vector = null!;
        }
        return record;
    }
}
