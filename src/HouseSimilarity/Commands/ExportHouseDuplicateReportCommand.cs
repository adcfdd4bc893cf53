using System.Management.Automation;
using HouseSimilarity.Imaging;
using HouseSimilarity.Reports;

namespace HouseSimilarity.Commands;

/// <summary>
/// Writes the duplicate groups piped from Find-HouseDuplicate into one self-contained HTML page for review in a browser:
/// thumbnails side by side, the suggested keepers, a threshold slider that regroups live, a histogram of each photo's
/// nearest-neighbour distance, and an export of the chosen removals as a PowerShell script or CSV.
/// </summary>
[Cmdlet(VerbsData.Export, "HouseDuplicateReport", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Low)]
[OutputType(typeof(FileInfo))]
public sealed class ExportHouseDuplicateReportCommand : HouseCmdletBase
{
    private readonly List<HouseDuplicateGroup> _groups = [];

    /// <summary>The HTML file to write (replaced if it exists).</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>Duplicate groups from Find-HouseDuplicate.</summary>
    [Parameter(Mandatory = true, ValueFromPipeline = true)]
    [AllowEmptyCollection]
    public HouseDuplicateGroup[] InputObject { get; set; } = [];

    /// <summary>The page's title.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public string Title { get; set; } = "Duplicate house photos";

    /// <summary>The longest side of the embedded thumbnails, in pixels.</summary>
    [Parameter]
    [ValidateRange(32, 512)]
    public int ThumbnailSize { get; set; } = 140;

    /// <summary>Emit the written file.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord() => _groups.AddRange(InputObject);

    protected override void EndProcessing()
    {
        string file = SessionState.Path.GetUnresolvedProviderPathFromPSPath(Path);
        if (!ShouldProcess(file, $"Write the duplicate report of {Plural.Of(_groups.Count, "group")}"))
        {
            return;
        }
        var report = new DuplicateReport(new HouseImageLoader());
        WriteProgress(new ProgressRecord(1, "Writing the duplicate report", $"{_groups.Sum(g => g.Count)} thumbnails"));
        string html = report.Render(_groups, Title, ThumbnailSize, Cancellation);
        foreach (var (photo, reason) in report.Unreadable)
        {
            WriteWarning($"No thumbnail for '{photo}': {reason}");
        }
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(file)!);
            File.WriteAllText(file, html);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Terminate(new IOException($"Cannot write the report '{file}': {e.Message}", e), "ReportNotWritten", ErrorCategory.WriteError, file);
        }
        WriteProgress(new ProgressRecord(1, "Writing the duplicate report", "Done") { RecordType = ProgressRecordType.Completed });
        WriteVerbose($"Wrote {file}: {Plural.Of(_groups.Count, "group")}, {new FileInfo(file).Length / 1024} KB.");
        if (PassThru)
        {
            WriteObject(new FileInfo(file));
        }
    }
}
