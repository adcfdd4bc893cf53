using System.Management.Automation;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>Reads stored photos back: by Id, by path, or the whole collection.</summary>
[Cmdlet(VerbsCommon.Get, "HouseVector", DefaultParameterSetName = "All")]
[OutputType(typeof(HouseRecord))]
public sealed class GetHouseVectorCommand : HouseCollectionCmdletBase
{
    /// <summary>Paths of stored photos (the default Id); the files need not exist any more.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = "Path")]
    public string[] Path { get; set; } = [];

    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = "Id")]
    public string[] Id { get; set; } = [];

    /// <summary>Where a piped record or match came from (its Store property): the record is read there.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true, ParameterSetName = "Id", DontShow = true)]
    [Alias("Store")]
    public object? SourceStore { get; set; }

    protected override void ProcessRecord()
    {
        if (ParameterSetName == "All")
        {
            var collection = RequireCollection();
            var records = Store.ReadAllAsync(Cancellation).GetAsyncEnumerator(Cancellation);
            try
            {
                while (Wait(_ => records.MoveNextAsync().AsTask()))
                {
                    records.Current.Store = collection.Store;
                    WriteObject(records.Current);
                }
            }
            finally
            {
                records.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            return;
        }
        IEnumerable<string> ids = ParameterSetName == "Id" ? Id : Path.Select(p => SessionState.Path.GetUnresolvedProviderPathFromPSPath(p));
        foreach (string id in ids)
        {
            if (StoreOf(SourceStore, id) is not { } store)
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
            WriteObject(record);
        }
    }
}
