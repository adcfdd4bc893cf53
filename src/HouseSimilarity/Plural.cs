using System.Globalization;

namespace HouseSimilarity.Commands;

/// <summary>Counts in messages, with the right plural ("1 photo", "2 photos").</summary>
internal static class Plural
{
    public static string Of(long count, string noun, string? plural = null) =>
        string.Create(CultureInfo.InvariantCulture, $"{count:N0} {(count == 1 ? noun : plural ?? noun + "s")}");
}
