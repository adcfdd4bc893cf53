using System.Management.Automation;
using System.Security.Cryptography;

namespace HouseSimilarity.Commands;

/// <summary>
/// Deletes the copies in duplicate groups: every member but the keeper, its photo file and its stored vector. Checks
/// before each deletion that the keeper file is still there with the content the scan saw, and that the copy was not
/// changed since, so that a stale scan never deletes the last copy of a photo.
/// </summary>
[Cmdlet(VerbsCommon.Remove, "HouseDuplicate", SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.High)]
[OutputType(typeof(HouseDuplicateMember))]
public sealed class RemoveHouseDuplicateCommand : HouseCollectionCmdletBase
{
    /// <summary>Groups from Find-HouseDuplicate; their Duplicates are deleted, their Keeper is kept.</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true)]
    public HouseDuplicateGroup[] InputObject { get; set; } = [];

    /// <summary>Keep the photo files: only remove the copies' vectors from the collection.</summary>
    [Parameter]
    public SwitchParameter KeepFiles { get; set; }

    /// <summary>Emit each member removed.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        foreach (var group in InputObject)
        {
            var keeper = group.Keeper;
            if (!KeepFiles && ContentOf(keeper.Path) != keeper.Sha256)
            {
                WriteError(new ErrorRecord(new InvalidOperationException(
                        $"Group {group.Group}: its keeper '{keeper.Path}' is missing or changed since the scan, so its copies are " +
                        "kept. Run Find-HouseDuplicate again."),
                    "KeeperChanged", ErrorCategory.InvalidData, keeper));
                continue;
            }
            foreach (var copy in group.Duplicates)
            {
                Remove(copy, keeper);
            }
        }
    }

    private void Remove(HouseDuplicateMember copy, HouseDuplicateMember keeper)
    {
        // Two Ids of one file: the file is the keeper's.
        bool deleteFile = !KeepFiles && !string.Equals(Path.GetFullPath(copy.Path), Path.GetFullPath(keeper.Path), StringComparison.Ordinal);
        string? content = deleteFile ? ContentOf(copy.Path) : null;
        if (deleteFile && content is not null && content != copy.Sha256)
        {
            WriteError(new ErrorRecord(new InvalidOperationException(
                    $"'{copy.Path}' changed since the scan (its content is no longer the copy of '{keeper.Path}' that was found), so it is kept."),
                "CopyChanged", ErrorCategory.InvalidData, copy));
            return;
        }
        bool fileThere = deleteFile && content is not null;
        if (!fileThere && !copy.IsStored)
        {
            WriteVerbose($"'{copy.Path}' is not there any more and was not stored: nothing to remove.");
            return;
        }
        string action = fileThere ? copy.IsStored ? "Delete the file and its vector" : "Delete the file" : "Remove the vector";
        if (!ShouldProcess($"{copy.Path} (a copy of {keeper.Path}, distance {copy.DistanceToKeeper:F4})", $"{action} of a duplicate photo"))
        {
            return;
        }
        if (fileThere)
        {
            try
            {
                File.Delete(copy.Path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                WriteError(new ErrorRecord(new IOException($"Could not delete '{copy.Path}': {e.Message}", e),
                    "DeleteFailed", ErrorCategory.WriteError, copy));
                return;
            }
        }
        if (copy.IsStored && StoreOf(copy.Store, copy.Id) is { } store)
        {
            Wait(ct => store.RemoveAsync(copy.Id, ct));
        }
        if (PassThru)
        {
            WriteObject(copy);
        }
    }

    /// <summary>The file's SHA-256 now, or null when it is not there.</summary>
    private static string? ContentOf(string path)
    {
        try
        {
            using var file = File.OpenRead(path);
            return Convert.ToHexStringLower(SHA256.HashData(file));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
