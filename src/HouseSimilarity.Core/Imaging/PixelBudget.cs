using System.Globalization;

namespace HouseSimilarity.Imaging;

/// <summary>
/// One budget of decoded pixels for the whole process: a decode that must hold a whole image in memory (PNG, a
/// progressive JPEG, WebP, GIF, TIFF...) first takes its pixel count from it, so that many large photos decoded
/// at once cannot exhaust memory however many workers run. Photos are admitted in arrival order (a large one is not
/// starved by a stream of small ones); a photo larger than the whole budget waits until it is alone and then takes all
/// of it, so it is decoded by itself rather than refused or deadlocked.
/// </summary>
public sealed class PixelBudget
{
    /// <summary>The environment variable that sets the process-wide budget, in megapixels.</summary>
    public const string EnvironmentVariable = "HOUSESIM_DECODE_BUDGET_MP";

    /// <summary>64 megapixels: about 256 MiB of RGBA at once; a 12 MP JPEG reduced at decode holds 0.2 MP.</summary>
    public const long DefaultPixels = 64_000_000;

    private readonly object _sync = new();
    private long _used;
    private long _nextTicket, _serving;

    public PixelBudget(long capacityPixels)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacityPixels, 1);
        Capacity = capacityPixels;
    }

    /// <summary>The budget every <see cref="HouseImageLoader"/> shares unless it is given its own.</summary>
    public static PixelBudget Shared { get; } = new(FromEnvironment(Environment.GetEnvironmentVariable(EnvironmentVariable)));

    public long Capacity { get; }

    /// <summary>Pixels held now by decodes in progress.</summary>
    public long InUse
    {
        get { lock (_sync) return _used; }
    }

    /// <summary>The budget a setting asks for; unset, empty or not a positive number of megapixels: the default.</summary>
    public static long FromEnvironment(string? megapixels) =>
        double.TryParse(megapixels, NumberStyles.Float, CultureInfo.InvariantCulture, out double mp) && mp >= 1e-6 && mp <= 1e9
            ? Math.Max(1, (long)(mp * 1_000_000))
            : DefaultPixels;

    /// <summary>
    /// Waits until <paramref name="pixels"/> fit beside what others hold (all of the budget, for a photo larger than
    /// it), then holds them until the lease is disposed. A caller holds at most one lease at a time.
    /// </summary>
    public Lease Acquire(long pixels, CancellationToken cancellationToken = default)
    {
        long charge = Math.Clamp(pixels, 0, Capacity);
        if (charge == 0)
        {
            return default;
        }
        lock (_sync)
        {
            long ticket = _nextTicket++;
            try
            {
                while (ticket != _serving || _used + charge > Capacity)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    // Woken by every release; the timeout only lets a cancellation through.
                    Monitor.Wait(_sync, TimeSpan.FromMilliseconds(200));
                }
            }
            catch
            {
                // A cancelled waiter gives its turn away, so the ones behind it are not stuck.
                if (ticket == _serving) _serving++;
                else _abandoned.Add(ticket);
                SkipAbandoned();
                Monitor.PulseAll(_sync);
                throw;
            }
            _serving++;
            SkipAbandoned();
            _used += charge;
            Monitor.PulseAll(_sync);
            return new Lease(this, charge);
        }
    }

    private readonly HashSet<long> _abandoned = [];

    private void SkipAbandoned()
    {
        while (_abandoned.Remove(_serving)) _serving++;
    }

    private void Release(long charge)
    {
        lock (_sync)
        {
            _used -= charge;
            Monitor.PulseAll(_sync);
        }
    }

    /// <summary>Pixels held from a budget; disposing gives them back.</summary>
    public readonly struct Lease(PixelBudget? budget, long pixels) : IDisposable
    {
        public long Pixels => pixels;
        public void Dispose() => budget?.Release(pixels);
    }
}
