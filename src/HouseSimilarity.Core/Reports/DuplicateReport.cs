using System.Collections.Concurrent;
using System.Globalization;
using System.Reflection;
using System.Text;
using System.Text.Json;
using HouseSimilarity.Imaging;

namespace HouseSimilarity.Reports;

/// <summary>
/// Writes one self-contained HTML page for reviewing duplicate groups: thumbnails embedded (no network access, opens from
/// disk), a threshold slider that regroups live, a histogram of each photo's nearest-neighbour distance, paging, and an
/// export of the chosen removals as a PowerShell script or CSV. The page is <c>DuplicateReport.html</c> (an embedded
/// resource) with the data as JSON.
/// </summary>
public sealed class DuplicateReport(HouseImageLoader loader)
{
    /// <summary>Thumbnails of photos that cannot be read (gone, unreadable), by path; the page shows a placeholder.</summary>
    public ConcurrentDictionary<string, string> Unreadable { get; } = new();

    public string Render(IReadOnlyList<HouseDuplicateGroup> groups, string title, int thumbnailSize, CancellationToken cancellationToken = default)
    {
        var members = groups.SelectMany(g => g.Members.Select(m => (Group: g, Member: m))).ToList();
        var index = new Dictionary<(int, string), int>();
        for (int i = 0; i < members.Count; i++)
        {
            index[(members[i].Group.Group, members[i].Member.Id)] = i;
        }
        var thumbs = new string?[members.Count];
        Parallel.For(0, members.Count, new ParallelOptions { CancellationToken = cancellationToken, MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            string path = members[i].Member.Path;
            try
            {
                thumbs[i] = "data:image/jpeg;base64," + Convert.ToBase64String(loader.Thumbnail(path, thumbnailSize));
            }
            catch (HouseImageException e)
            {
                Unreadable[path] = e.Message;
            }
        });
        var scan = groups.FirstOrDefault()?.Scan;
        var data = new
        {
            title,
            generated = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture),
            collection = groups.FirstOrDefault()?.Collection ?? "",
            store = groups.FirstOrDefault()?.Store?.ToString() ?? "",
            threshold = groups.Count == 0 ? 0 : groups.Max(g => g.Threshold),
            photos = scan?.Photos,
            binWidth = HouseDuplicateScanSummary.BinWidth,
            nearest = scan?.NearestDistanceCounts ?? [],
            members = members.Select((x, i) => new
            {
                id = x.Member.Id, path = x.Member.Path, name = Path.GetFileName(x.Member.Path), size = x.Member.FileSize,
                width = x.Member.Width, height = x.Member.Height, added = x.Member.AddedUtc?.ToString("u", CultureInfo.InvariantCulture),
                sha = x.Member.Sha256, group = x.Group.Group, keeper = x.Member.IsKeeper, thumb = thumbs[i],
            }),
            pairs = groups.SelectMany(g => g.Pairs.Where(p => !double.IsNaN(p.Distance)).Select(p => new object[]
            {
                index[(g.Group, p.A)], index[(g.Group, p.B)], Math.Round(p.Distance, 5),
            })),
        };
        string json = JsonSerializer.Serialize(data); // the default encoder escapes <, > and &: safe inside <script>
        return Template.Replace("/*REPORT-DATA*/null", json, StringComparison.Ordinal)
            .Replace("<!--TITLE-->", System.Net.WebUtility.HtmlEncode(title), StringComparison.Ordinal);
    }

    private static readonly string Template = ReadTemplate();

    private static string ReadTemplate()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("HouseSimilarity.Reports.DuplicateReport.html")
            ?? throw new InvalidOperationException("The report template is missing from the assembly.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}
