using System.Management.Automation;

namespace HouseSimilarity.Commands;

/// <summary>Compares a reference photo with one or more others: L2 and L1 distance, similarity, and whether they are duplicates.</summary>
[Cmdlet(VerbsData.Compare, "HouseImage")]
[OutputType(typeof(HouseComparison))]
public sealed class CompareHouseImageCommand : HouseCmdletBase
{
    private HouseEmbedding? _reference;
    private PhotoProgress? _progress;
    private long _compared, _duplicates, _failed;

    /// <summary>One photo: a path, file or HouseEmbedding.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [HouseImageTransformation(Single = true)]
    public HouseImageArgument Reference { get; set; } = null!;

    /// <summary>Paths (wildcards allowed), files or HouseEmbeddings; each is compared with the reference.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true)]
    [SupportsWildcards]
    [HouseImageTransformation]
    public HouseImageArgument[] Difference { get; set; } = [];

    /// <summary>L2 distance at or below which the photos are duplicates; default: the model's calibrated threshold.</summary>
    [Parameter]
    [ValidateRange(0.0, 2.0)]
    public double Threshold { get; set; } = double.NaN;

    private double DuplicateThreshold => double.IsNaN(Threshold) ? Model.DuplicateThreshold : Threshold;

    protected override void ProcessRecord()
    {
        _reference ??= ResolveReference();
        var photos = Difference.Where(d => d.Embedding is null || HasVector(d.Embedding)).SelectMany(d => d.Embedding is { } e
            ? [(Path: e.Path, Embedding: (HouseEmbedding?)e)]
            : ResolveFiles([d.Path], d.Literal).Select(f => (Path: f, Embedding: (HouseEmbedding?)null))).ToList();
        if (InputCountKnown)
        {
            _progress!.Total = photos.Count;
        }
        foreach (var (path, given) in photos)
        {
            _progress!.Report(_compared + _failed, _progress.Counted(_compared + _failed, "compared"), path,
                force: _compared + _failed == 0);
            HouseEmbedding? difference = given ?? Embed(path);
            if (difference is not null)
            {
                Compare(difference);
            }
        }
    }

    protected override void EndProcessing()
    {
        _progress?.Complete();
        if (_reference is not null)
        {
            WriteVerbose($"Compared {Plural.Of(_compared, "photo")} with '{_reference.Path}': {Plural.Of(_duplicates, "duplicate")}; " +
                         $"{_failed} could not be read.");
        }
    }

    /// <summary>The reference, embedded once. A reference that cannot be used is one terminating error that keeps its cause.</summary>
    private HouseEmbedding ResolveReference()
    {
        if (Reference.Embedding is { } given)
        {
            if (given.Vector is not { Length: > 0 })
            {
                Terminate(new ArgumentException($"The reference '{given.Path}' carries no vector (Get-HouseVector -NoVector leaves it out)."),
                    "ReferenceUnusable", ErrorCategory.InvalidArgument, given.Path);
            }
            return Announce(given);
        }
        string path = Reference.Path;
        Exception cause;
        ErrorCategory category;
        try
        {
            var files = Reference.Literal
                ? [SessionState.Path.GetUnresolvedProviderPathFromPSPath(path)]
                : GetResolvedProviderPathFromPSPath(path, out _);
            if (files.Count != 1)
            {
                throw new ArgumentException($"it names {files.Count} photos; give one");
            }
            path = files[0];
            if (Directory.Exists(path))
            {
                var folder = FolderErrorRecord(path);
                throw folder.Exception;
            }
            return Announce(Embedder.Embed(path));
        }
        catch (HouseImageException e)
        {
            (cause, category) = (e, ImageErrorRecord(e, path).CategoryInfo.Category);
        }
        catch (Exception e) when (e is ArgumentException or ItemNotFoundException or System.Management.Automation.DriveNotFoundException
                                      or ProviderNotFoundException or NotSupportedException)
        {
            (cause, category) = (e, e is ArgumentException ? ErrorCategory.InvalidArgument : ErrorCategory.ObjectNotFound);
        }
        Terminate(new ArgumentException($"The reference photo '{Reference.Path}' cannot be used: {cause.Message}", cause),
            "ReferenceUnusable", category, Reference.Path);
        return null!;
    }

    private HouseEmbedding Announce(HouseEmbedding reference)
    {
        WriteVerbose($"Reference '{reference.Path}' ({reference.Width}x{reference.Height}, model {reference.ModelId}); duplicates at " +
                     $"L2 <= {DuplicateThreshold:0.###}{(double.IsNaN(Threshold) ? " (the model's calibrated threshold)" : "")}.");
        _progress = new PhotoProgress(this, $"Comparing photos with '{System.IO.Path.GetFileName(reference.Path)}'");
        return reference;
    }

    private HouseEmbedding? Embed(string path)
    {
        try
        {
            return Embedder.Embed(path);
        }
        catch (HouseImageException e)
        {
            _failed++;
            WriteImageError(e, path);
            return null;
        }
    }

    private void Compare(HouseEmbedding difference)
    {
        var reference = _reference!;
        if (difference.ModelId != reference.ModelId)
        {
            _failed++;
            WriteError(new ErrorRecord(new ModelMismatchException(difference.Path, difference.ModelId, reference.ModelId),
                "ModelMismatch", ErrorCategory.InvalidData, difference.Path));
            return;
        }
        double threshold = DuplicateThreshold;
        double distance = VectorMath.L2(reference.Vector, difference.Vector);
        var comparison = new HouseComparison
        {
            ReferencePath = reference.Path,
            DifferencePath = difference.Path,
            Distance = distance,
            L1Distance = VectorMath.L1(reference.Vector, difference.Vector),
            Similarity = VectorMath.Similarity(distance),
            IsDuplicate = distance <= threshold,
            DuplicateProbability = Calibration?.Probability(Math.Min(distance, 2)) ?? double.NaN,
            Threshold = threshold,
            IsIdentical = reference.Sha256.Length > 0 && reference.Sha256 == difference.Sha256,
        };
        _compared++;
        _duplicates += comparison.IsDuplicate ? 1 : 0;
        WriteVerbose($"'{difference.Path}': L2 {distance:0.0000}, {(comparison.IsDuplicate ? "a duplicate" : "not a duplicate")}.");
        WriteObject(comparison);
    }
}
