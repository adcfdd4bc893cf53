using System.Management.Automation;

namespace HouseSimilarity.Commands;

/// <summary>Compares two photos: L2 and L1 distance, similarity, and whether they are duplicates.</summary>
[Cmdlet(VerbsData.Compare, "HouseImage")]
[OutputType(typeof(HouseComparison))]
public sealed class CompareHouseImageCommand : HouseCmdletBase
{
    private HouseEmbedding? _reference;

    /// <summary>A path, file or HouseEmbedding.</summary>
    [Parameter(Mandatory = true, Position = 0)]
    [HouseImageTransformation]
    public HouseImageArgument Reference { get; set; } = null!;

    /// <summary>A path, file or HouseEmbedding; pipe several to compare each with the reference.</summary>
    [Parameter(Mandatory = true, Position = 1, ValueFromPipeline = true)]
    [HouseImageTransformation]
    public HouseImageArgument Difference { get; set; } = null!;

    /// <summary>L2 distance at or below which the photos are duplicates; default: the model's calibrated threshold.</summary>
    [Parameter]
    [ValidateRange(0.0, 2.0)]
    public double Threshold { get; set; } = double.NaN;

    protected override void ProcessRecord()
    {
        _reference ??= Resolve(Reference);
        if (_reference is null)
        {
            Terminate(new ArgumentException($"The reference photo '{Reference.Path}' cannot be embedded."),
                "ReferenceUnusable", ErrorCategory.InvalidArgument, Reference.Path);
        }
        HouseEmbedding? difference = Resolve(Difference);
        if (difference is null)
        {
            return;
        }
        if (difference.ModelId != _reference!.ModelId)
        {
            WriteError(new ErrorRecord(new ModelMismatchException(difference.Path, difference.ModelId, _reference.ModelId),
                "ModelMismatch", ErrorCategory.InvalidData, difference.Path));
            return;
        }
        double threshold = double.IsNaN(Threshold) ? Embedder.Model.DuplicateThreshold : Threshold;
        double distance = VectorMath.L2(_reference.Vector, difference.Vector);
        WriteObject(new HouseComparison
        {
            ReferencePath = _reference.Path,
            DifferencePath = difference.Path,
            Distance = distance,
            L1Distance = VectorMath.L1(_reference.Vector, difference.Vector),
            Similarity = VectorMath.Similarity(distance),
            IsDuplicate = distance <= threshold,
            DuplicateProbability = Calibration?.Probability(Math.Min(distance, 2)) ?? double.NaN,
            Threshold = threshold,
            IsIdentical = _reference.Sha256.Length > 0 && _reference.Sha256 == difference.Sha256,
        });
    }

    private HouseEmbedding? Resolve(HouseImageArgument argument)
    {
        if (argument.Embedding is not null)
        {
            return argument.Embedding;
        }
        try
        {
            return Embedder.Embed(argument.Path);
        }
        catch (HouseImageException e)
        {
            WriteImageError(e, argument.Path);
            return null;
        }
    }
}
