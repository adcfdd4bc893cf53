namespace HouseSimilarity;

/// <summary>
/// Runs work items on a bounded number of threads and hands results back in the order the items were
/// posted, so a cmdlet can keep writing to the pipeline from its own thread while the cores embed photos.
/// </summary>
public sealed class OrderedParallelQueue<TIn, TOut>
{
    private readonly Queue<(TIn Item, Task<TOut> Work)> _pending = new();
    private readonly Func<TIn, CancellationToken, TOut> _work;
    private readonly TaskScheduler _scheduler;
    private readonly CancellationToken _cancellationToken;

    public OrderedParallelQueue(Func<TIn, CancellationToken, TOut> work, int parallelism, CancellationToken cancellationToken)
    {
        _work = work;
        _cancellationToken = cancellationToken;
        Parallelism = Math.Max(1, parallelism);
        _scheduler = new ConcurrentExclusiveSchedulerPair(TaskScheduler.Default, Parallelism).ConcurrentScheduler;
    }

    public int Parallelism { get; }

    /// <summary>
    /// How many items to keep posted ahead: enough that the cores stay busy while the posting thread is away,
    /// for example committing a batch to a store.
    /// </summary>
    public int Window => 16 * Parallelism;

    public void Post(TIn item)
    {
        var task = Task.Factory.StartNew(() => _work(item, _cancellationToken), _cancellationToken,
            TaskCreationOptions.None, _scheduler);
        _pending.Enqueue((item, task));
    }

    /// <summary>
    /// Finished items at the head of the queue. Waits for the head first when more than
    /// <paramref name="keepInFlight"/> items are pending, which bounds memory and keeps every core busy.
    /// </summary>
    public IEnumerable<Result> Take(int keepInFlight)
    {
        while (_pending.Count > 0)
        {
            var (item, work) = _pending.Peek();
            if (!work.IsCompleted)
            {
                if (_pending.Count <= keepInFlight)
                {
                    yield break;
                }
                try
                {
                    work.Wait(_cancellationToken);
                }
                catch (AggregateException)
                {
                    // Surfaced below as the item's error.
                }
            }
            _pending.Dequeue();
            yield return work.IsCompletedSuccessfully
                ? new Result(item, work.Result, null)
                : new Result(item, default, work.Exception?.InnerException ?? new OperationCanceledException());
        }
    }

    /// <summary>Waits for and returns every pending item.</summary>
    public IEnumerable<Result> TakeAll() => Take(0);

    public readonly record struct Result(TIn Item, TOut? Value, Exception? Error);
}
