using System.Diagnostics;
using System.Management.Automation;

namespace HouseSimilarity.Commands;

/// <summary>
/// Progress of a cmdlet over many photos, at most four updates a second: a percentage and the time left when the number
/// of photos is known (all of them on the command line), else the count and the rate (piped input has no end to count to).
/// </summary>
internal sealed class PhotoProgress(Cmdlet cmdlet, string activity, int activityId = 1)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastTick = -1;
    private bool _written;

    /// <summary>How many photos there are, when known before they are read.</summary>
    public long? Total { get; set; }

    /// <summary>"3 of 18 photos embedded" when the total is known, else "3 photos embedded".</summary>
    public string Counted(long done, string verb) =>
        Total is { } total ? $"{done:N0} of {Plural.Of(total, "photo")} {verb}" : $"{Plural.Of(done, "photo")} {verb}";

    public void Report(long done, string status, string? current = null, bool force = false)
    {
        long tick = _clock.ElapsedMilliseconds / 250;
        if (!force && tick == _lastTick)
        {
            return;
        }
        _lastTick = tick;
        double rate = done / Math.Max(_clock.Elapsed.TotalSeconds, 1e-3);
        var record = new ProgressRecord(activityId, activity, $"{status} ({rate:F1} photos/s)");
        if (current is not null)
        {
            record.CurrentOperation = current;
        }
        if (Total is > 0 and var total)
        {
            record.PercentComplete = (int)Math.Clamp(done * 100 / total, 0, 100);
            if (done > 0 && done < total)
            {
                record.SecondsRemaining = (int)Math.Ceiling((total - done) / Math.Max(rate, 1e-3));
            }
        }
        cmdlet.WriteProgress(record);
        _written = true;
    }

    public void Complete()
    {
        if (_written)
        {
            cmdlet.WriteProgress(new ProgressRecord(activityId, activity, "Done") { RecordType = ProgressRecordType.Completed });
        }
    }
}
