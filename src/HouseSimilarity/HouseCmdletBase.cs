using System.Management.Automation;
using HouseSimilarity.Embedding;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>What every cmdlet of the module shares: the model, cancellation on Ctrl+C, error records.</summary>
public abstract class HouseCmdletBase : PSCmdlet, IDisposable
{
    private static readonly Lazy<HouseEmbedder> SharedEmbedder = new(
        () => new HouseEmbedder(HouseEmbedder.DefaultModelPath, requireHash: true), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly CancellationTokenSource _stopping = new();

    /// <summary>
    /// Loaded once per session (the ONNX sessions stay warm between commands), after checking the file against its build
    /// hash. A missing, damaged or tampered model stops the command with one error that names the file; read it on the
    /// pipeline thread (worker lambdas capture it) so that the error can be raised.
    /// </summary>
    protected HouseEmbedder Embedder
    {
        get
        {
            try
            {
                return SharedEmbedder.Value;
            }
            catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
            {
                ThrowTerminatingError(new ErrorRecord(e, "ModelInvalid", ErrorCategory.InvalidData, HouseEmbedder.DefaultModelPath));
                throw;
            }
        }
    }

    private static readonly Lazy<HouseModelInfo> SharedModel = new(
        () => SharedEmbedder.IsValueCreated ? SharedEmbedder.Value.Model : HouseEmbedder.ReadModelInfo(HouseEmbedder.DefaultModelPath, requireHash: true),
        LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// The model's id and threshold, checked as <see cref="Embedder"/> checks the file, without loading the network: a
    /// search by stored Id starts in milliseconds, not in the second that the ONNX sessions take.
    /// </summary>
    protected HouseModelInfo Model
    {
        get
        {
            try
            {
                return SharedModel.Value;
            }
            catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
            {
                ThrowTerminatingError(new ErrorRecord(e, "ModelInvalid", ErrorCategory.InvalidData, HouseEmbedder.DefaultModelPath));
                throw;
            }
        }
    }

    // A calibration measured for another model (a head refit without ./build.ps1 -Task Model) would mislead: then none.
    private static readonly Lazy<DuplicateCalibration?> SharedCalibration = new(() =>
    {
        string file = Path.Combine(Path.GetDirectoryName(HouseEmbedder.DefaultModelPath)!, DuplicateCalibration.FileName);
        var calibration = File.Exists(file) ? DuplicateCalibration.Load(file) : null;
        return calibration?.ModelId == SharedModel.Value.Id ? calibration : null;
    }, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>
    /// What the model's distances mean: P(duplicate) and false pairs by collection size (models/calibration.json); null
    /// when the module has none for its model (probabilities are then NaN and thresholds the model's own).
    /// </summary>
    protected DuplicateCalibration? Calibration => Model is not null ? SharedCalibration.Value : null;

    protected CancellationToken Cancellation => _stopping.Token;

    protected override void StopProcessing() => _stopping.Cancel();

    /// <summary>
    /// Waits for Core's async work, stopping promptly on Ctrl+C. A store failure (server gone, wrong password) stops
    /// the command with one error record, unless <paramref name="throwStoreErrors"/> asks for the exception.
    /// </summary>
    protected T Wait<T>(Func<CancellationToken, Task<T>> work, bool throwStoreErrors = false)
    {
        try
        {
            return work(Cancellation).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (Cancellation.IsCancellationRequested)
        {
            throw new PipelineStoppedException();
        }
        catch (HouseStoreException e) when (!throwStoreErrors)
        {
            ThrowTerminatingError(StoreErrorRecord(e, ErrorCategory.InvalidOperation, StoreErrorTarget));
            throw;
        }
    }

    protected void Wait(Func<CancellationToken, Task> work, bool throwStoreErrors = false) =>
        Wait(async ct => { await work(ct); return true; }, throwStoreErrors);

    /// <summary>The target object of store error records: something without secrets (the store's location).</summary>
    protected virtual object? StoreErrorTarget => null;

    /// <summary>An error record for a store failure, categorised by its cause; its message holds no secret.</summary>
    protected static ErrorRecord StoreErrorRecord(HouseStoreException error, ErrorCategory fallback, object? target)
    {
        var (id, category) = error.Kind switch
        {
            StoreFailure.Connection => ("StoreConnectionFailed", ErrorCategory.ConnectionError),
            StoreFailure.Authentication => ("StoreAuthenticationFailed", ErrorCategory.AuthenticationError),
            StoreFailure.NotInstalled => ("StoreExtensionMissing", ErrorCategory.NotInstalled),
            StoreFailure.PermissionDenied => ("StorePermissionDenied", ErrorCategory.PermissionDenied),
            StoreFailure.InvalidRequest => ("StoreRequestRefused", ErrorCategory.InvalidArgument),
            StoreFailure.StorageFull => ("StoreFull", ErrorCategory.WriteError),
            StoreFailure.Busy => ("StoreBusy", ErrorCategory.ResourceBusy),
            StoreFailure.ReadOnly => ("StoreReadOnly", ErrorCategory.PermissionDenied),
            StoreFailure.Corrupt => ("StoreCorrupt", ErrorCategory.InvalidData),
            StoreFailure.NotFound => ("StoreNotFound", ErrorCategory.ObjectNotFound),
            _ => ("StoreFailed", fallback),
        };
        return new ErrorRecord(error, id, category, target ?? error.Location);
    }

    /// <summary>
    /// Resolves -Path (wildcards) or -LiteralPath to file system paths, reporting each bad one. A folder gets the same
    /// answer whichever parameter named it (piped from Get-ChildItem, -Path or -LiteralPath): <paramref name="folders"/>.
    /// </summary>
    protected IEnumerable<string> ResolveFiles(string[]? paths, bool literal, FolderPolicy folders = FolderPolicy.Refuse)
    {
        foreach (string path in paths ?? [])
        {
            List<string> resolved = [];
            try
            {
                ProviderInfo provider;
                if (literal)
                {
                    resolved.Add(SessionState.Path.GetUnresolvedProviderPathFromPSPath(path, out provider, out _));
                }
                else
                {
                    resolved.AddRange(GetResolvedProviderPathFromPSPath(path, out provider));
                }
                if (provider.Name != "FileSystem")
                {
                    WriteError(new ErrorRecord(new ArgumentException($"'{path}' is on the {provider.Name} provider; only file system paths hold photos."),
                        "NotFileSystemPath", ErrorCategory.InvalidArgument, path));
                    continue;
                }
                if (resolved.Count == 0)
                {
                    WriteError(new ErrorRecord(new ItemNotFoundException($"No file matches '{path}'."),
                        "PathNotFound", ErrorCategory.ObjectNotFound, path));
                }
            }
            catch (Exception e) when (e is ItemNotFoundException or System.Management.Automation.DriveNotFoundException or ProviderNotFoundException or NotSupportedException)
            {
                WriteError(new ErrorRecord(e, "PathNotFound", ErrorCategory.ObjectNotFound, path));
                continue;
            }
            foreach (string file in resolved)
            {
                if (folders != FolderPolicy.Include && Directory.Exists(file))
                {
                    if (folders == FolderPolicy.Refuse)
                    {
                        WriteError(FolderErrorRecord(file));
                    }
                    else
                    {
                        WriteVerbose($"Skipping folder '{file}': it holds no record.");
                    }
                    continue;
                }
                yield return file;
            }
        }
    }

    /// <summary>A folder where one photo was expected: one clear error, the same for every parameter that named it.</summary>
    protected static ErrorRecord FolderErrorRecord(string folder) => new(new ArgumentException(
            $"'{folder}' is a folder, not a photo: give its photos (Get-ChildItem -LiteralPath '{folder}' -File), or add the " +
            "whole folder with Add-HouseVector."),
        "PathIsFolder", ErrorCategory.InvalidArgument, folder);

    /// <summary>The photos of a folder, streamed (never listed whole), in subfolders too with <paramref name="recurse"/>.</summary>
    protected static IEnumerable<string> PhotosIn(string folder, bool recurse) =>
        Directory.EnumerateFiles(folder, "*", new EnumerationOptions
            {
                RecurseSubdirectories = recurse, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System,
            })
            .Where(f => Imaging.HouseImageLoader.Extensions.Contains(System.IO.Path.GetExtension(f), StringComparer.OrdinalIgnoreCase));

    /// <summary>A piped embedding without a vector (a record read with -NoVector) is an error naming it, not a crash.</summary>
    protected bool HasVector(HouseEmbedding embedding)
    {
        if (embedding.Vector is { Length: > 0 })
        {
            return true;
        }
        WriteError(new ErrorRecord(new ArgumentException(
                $"'{embedding.Path}' carries no vector (Get-HouseVector -NoVector leaves it out): pipe its Id (Select-Object Id), or read it without -NoVector."),
            "NoVector", ErrorCategory.InvalidArgument, embedding.Path));
        return false;
    }

    /// <summary>Whether the inputs are all on the command line (none piped), so that their number is known before they are read.</summary>
    protected bool InputCountKnown => !MyInvocation.ExpectingInput;

    /// <summary>A non-terminating error for one photo that could not be embedded.</summary>
    protected void WriteImageError(Exception error, string path) => WriteError(ImageErrorRecord(error, path));

    /// <summary>The error record of a photo that could not be embedded: its id and category follow the cause.</summary>
    protected static ErrorRecord ImageErrorRecord(Exception error, string path)
    {
        if (error is HouseImageException image)
        {
            var (id, category) = image.Failure switch
            {
                ImageFailure.NotFound => ("ImageNotFound", ErrorCategory.ObjectNotFound),
                ImageFailure.Unreadable => ("ImageUnreadable", ErrorCategory.ReadError),
                ImageFailure.UnsupportedFormat => ("ImageFormatNotSupported", ErrorCategory.InvalidData),
                ImageFailure.TooLarge => ("ImageTooLarge", ErrorCategory.LimitsExceeded),
                _ => ("ImageCorrupt", ErrorCategory.InvalidData),
            };
            return new ErrorRecord(image, id, category, path);
        }
        return new ErrorRecord(new InvalidOperationException($"Cannot embed '{path}': {error.Message}", error),
            "EmbeddingFailed", ErrorCategory.NotSpecified, path);
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>pwsh disposes cmdlets when their pipeline ends, also after a terminating error or Ctrl+C.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stopping.Dispose();
        }
    }

    /// <summary>Stops the whole command: nothing else can continue.</summary>
    protected void Terminate(Exception error, string errorId, ErrorCategory category, object? target = null) =>
        ThrowTerminatingError(new ErrorRecord(error, errorId, category, target));
}

/// <summary>What a cmdlet does with a folder where it expects photos.</summary>
public enum FolderPolicy
{
    /// <summary>One PathIsFolder error: a folder is not a photo.</summary>
    Refuse,
    /// <summary>Returned like a file: the cmdlet reads the folder's photos.</summary>
    Include,
    /// <summary>Left out with a verbose message: folders hold no stored record.</summary>
    Skip,
}
