namespace HouseSimilarity.Stores.Local;

/// <summary>
/// Keeps the k nearest (distance, index) pairs seen. Equal distances are ordered by index; callers index
/// rows in Id order, so ties come out in Id order as in the SQL backends.
/// </summary>
internal sealed class TopK(int k)
{
    private static readonly Comparer<(float Distance, int Index)> WorstFirst =
        Comparer<(float Distance, int Index)>.Create((a, b) => b.CompareTo(a));

    private readonly PriorityQueue<int, (float Distance, int Index)> _heap = new(k + 1, WorstFirst);

    public void Offer(int index, float distance)
    {
        // A row that is not a vector (NaN compares below every distance) would otherwise rank first.
        if (float.IsNaN(distance))
        {
            return;
        }
        if (_heap.Count < k)
        {
            _heap.Enqueue(index, (distance, index));
        }
        else if (_heap.TryPeek(out _, out var worst) && (distance, index).CompareTo(worst) < 0)
        {
            _heap.EnqueueDequeue(index, (distance, index));
        }
    }

    /// <summary>The distance a newcomer must beat (or tie, with a smaller index): infinite until k are kept.</summary>
    public float Worst => _heap.Count < k ? float.PositiveInfinity : _heap.TryPeek(out _, out var worst) ? worst.Distance : float.PositiveInfinity;

    /// <summary>The kept pairs, nearest first.</summary>
    public List<(int Index, float Distance)> Drain()
    {
        var items = new List<(int, float)>(_heap.Count);
        while (_heap.TryDequeue(out int index, out var priority))
        {
            items.Add((index, priority.Distance));
        }
        items.Reverse();
        return items;
    }

    public void Merge(TopK other)
    {
        foreach (var (index, distance) in other.Drain())
        {
            Offer(index, distance);
        }
    }
}
