using HouseSimilarity.Imaging;

namespace HouseSimilarity.Tests;

public sealed class PixelBudgetTests
{
    private static async Task<bool> Finishes(Task task, TimeSpan within) => await Task.WhenAny(task, Task.Delay(within)) == task;

    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(300), Long = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Leases_that_fit_are_held_together_and_the_next_waits_for_a_release()
    {
        var budget = new PixelBudget(100);
        using var a = budget.Acquire(40);
        var b = budget.Acquire(60);
        Assert.Equal(100, budget.InUse);
        var third = Task.Run(() => budget.Acquire(10));
        Assert.False(await Finishes(third, Short), "a lease beyond the budget must wait");
        b.Dispose();
        Assert.True(await Finishes(third, Long));
        Assert.Equal(50, budget.InUse);
        (await third).Dispose();
        Assert.Equal(40, budget.InUse);
    }

    [Fact]
    public async Task A_photo_larger_than_the_whole_budget_waits_until_alone_then_takes_all_of_it()
    {
        var budget = new PixelBudget(100);
        var small = budget.Acquire(30);
        var huge = Task.Run(() => budget.Acquire(1_000_000));
        Assert.False(await Finishes(huge, Short), "the huge photo must wait for the small one");
        small.Dispose();
        Assert.True(await Finishes(huge, Long), "and then be admitted, never deadlocked");
        Assert.Equal(100, budget.InUse);
        var next = Task.Run(() => budget.Acquire(1));
        Assert.False(await Finishes(next, Short), "while it decodes, it is alone");
        (await huge).Dispose();
        Assert.True(await Finishes(next, Long));
        (await next).Dispose();
        Assert.Equal(0, budget.InUse);
    }

    [Fact]
    public async Task Photos_are_admitted_in_arrival_order_so_a_large_one_is_not_starved()
    {
        var budget = new PixelBudget(100);
        var first = budget.Acquire(50);
        var large = Task.Run(() => budget.Acquire(100));
        Assert.False(await Finishes(large, Short));
        // Arrives later and would fit beside the first, but the large one is ahead of it.
        var later = Task.Run(() => budget.Acquire(10));
        Assert.False(await Finishes(later, Short), "a later small photo must not overtake the waiting large one");
        first.Dispose();
        Assert.True(await Finishes(large, Long));
        Assert.False(later.IsCompleted);
        (await large).Dispose();
        Assert.True(await Finishes(later, Long));
        (await later).Dispose();
    }

    [Fact]
    public async Task A_cancelled_waiter_gives_its_turn_to_the_ones_behind_it()
    {
        var budget = new PixelBudget(100);
        var held = budget.Acquire(100);
        using var cancel = new CancellationTokenSource();
        var cancelled = Task.Run(() => budget.Acquire(50, cancel.Token));
        Assert.False(await Finishes(cancelled, Short));
        var behind = Task.Run(() => budget.Acquire(50));
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        held.Dispose();
        Assert.True(await Finishes(behind, Long), "the waiter behind the cancelled one must be admitted");
        Assert.Equal(50, budget.InUse);
        (await behind).Dispose();
    }

    [Fact]
    public void Many_threads_never_hold_more_than_the_budget()
    {
        var budget = new PixelBudget(1000);
        long peak = 0, held = 0;
        Parallel.For(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            long pixels = i % 9 == 0 ? 5000 : 50 + i % 7 * 100;
            using var lease = budget.Acquire(pixels);
            long now = Interlocked.Add(ref held, lease.Pixels);
            long seen;
            while (now > (seen = Interlocked.Read(ref peak)) && Interlocked.CompareExchange(ref peak, now, seen) != seen) { }
            Thread.SpinWait(2000);
            Interlocked.Add(ref held, -lease.Pixels);
        });
        Assert.InRange(peak, 1, 1000);
        Assert.Equal(0, budget.InUse);
    }

    [Theory]
    [InlineData(null, PixelBudget.DefaultPixels)]
    [InlineData("", PixelBudget.DefaultPixels)]
    [InlineData("abc", PixelBudget.DefaultPixels)]
    [InlineData("-5", PixelBudget.DefaultPixels)]
    [InlineData("0", PixelBudget.DefaultPixels)]
    [InlineData("16", 16_000_000L)]
    [InlineData("0.5", 500_000L)]
    public void The_setting_is_megapixels_and_anything_unusable_means_the_default(string? setting, long expected) =>
        Assert.Equal(expected, PixelBudget.FromEnvironment(setting));
}
