using HouseSimilarity.Stores;

namespace HouseSimilarity.Services;

/// <summary>How a duplicate scan runs.</summary>
public sealed record DuplicateScanOptions
{
    /// <summary>L2 distance at or below which two photos are duplicates.</summary>
    public required double Threshold { get; init; }
    /// <summary>Only byte-identical photos (same SHA-256); no vector search.</summary>
    public bool ExactOnly { get; init; }
    /// <summary>Check only the photos added since then against the whole collection; null: every photo.</summary>
    public DateTime? Since { get; init; }
    /// <summary>The keeper policy, tried in order.</summary>
    public IReadOnlyList<KeeperRule> KeepBy { get; init; } = DuplicateScan.DefaultKeepBy;
    /// <summary>Neighbours asked per photo at first; photos whose neighbours are all duplicates are asked again for more.</summary>
    public int Neighbours { get; init; } = 16;
    /// <summary>
    /// Candidates an approximate index weighs per photo (<see cref="SearchOptions.Candidates"/>). Near copies are the
    /// nearest of neighbours and one search runs per photo, so fewer than for a search of similar houses: 64 keeps a
    /// scan of 1M photos on the embedded store under 10 minutes on 2 cores (bench/RESULTS.md).
    /// </summary>
    public int? Candidates { get; init; } = 64;
    /// <summary>Query photos per batched search.</summary>
    public int BatchSize { get; init; } = 256;
    /// <summary>The calibrated duplicate probability of a distance, for the pairs and groups; null: none.</summary>
    public Func<double, double>? Probability { get; init; }
}

/// <summary>How far a scan is: query photos searched of the total.</summary>
public readonly record struct DuplicateScanProgress(long Done, long Total);

/// <summary>
/// Finds the duplicate groups of a collection: every photo's neighbours within the threshold from the store's batched
/// k-nearest search (on the embedded store an exact blocked pass; on servers k-nearest queries in batches), plus the
/// byte-identical photos, merged into connected components with union-find. Photos given to check (not stored) are
/// searched against the collection and among themselves. Nothing is written.
/// </summary>
public sealed class DuplicateScan(IHouseStore store, HouseStoreReference source)
{
    public static readonly IReadOnlyList<KeeperRule> DefaultKeepBy = [KeeperRule.Resolution, KeeperRule.FileSize, KeeperRule.Oldest];

    /// <summary>Groups this large list only the pairs found, not all of their member pairs.</summary>
    public const int AllPairsLimit = 64;

    private readonly Dictionary<string, Node> _nodes = new(StringComparer.Ordinal);
    private readonly List<Node> _byIndex = [];
    private readonly List<(int A, int B, double Distance)> _edges = [];
    private readonly long[] _nearest = new long[(int)Math.Ceiling(2 / HouseDuplicateScanSummary.BinWidth) + 1];
    // The collection's "not a duplicate" decisions, as (smaller sha, larger sha); such photos are never joined.
    private HashSet<(string, string)> _excluded = [];
    private readonly HashSet<(int, int)> _excludedNear = [];
    private long _excludedExact;
    private List<HouseDuplicateGroup> _groups = [];

    public IReadOnlyList<HouseDuplicateGroup> Groups => _groups;

    /// <summary>
    /// A photo of the scan: a stored record or a photo given to check. A scan holds one per photo of the collection, so
    /// it is kept small: the Id, the hash as 32 bytes and the time added. A stored photo's record (path, size, vector)
    /// is read with its group and let go once the group is built.
    /// </summary>
    private sealed class Node(int index, string id, string sha, DateTime? added, HouseEmbedding? probe)
    {
        private readonly DateTime _added = added ?? DateTime.MinValue;
        private string? _sha;

        public int Index { get; } = index;
        public int Parent { get; set; } = index;
        public string Id { get; } = id;
        public Content Content { get; } = Content.Of(sha);
        /// <summary>The hash as text, made once for the photos that end up in a group.</summary>
        public string Sha => _sha ??= Content.ToString();
        public DateTime? Added => _added == DateTime.MinValue ? null : _added;
        /// <summary>A photo given to check, not stored.</summary>
        public HouseEmbedding? Probe { get; } = probe;
        /// <summary>A stored photo's record while its group is built.</summary>
        public HouseRecord? Record { get; set; }
        public bool Stored => Probe is null;
        public string Path => Probe?.Path ?? Record?.Path ?? "";
        public int Width => Probe?.Width ?? Record?.Width ?? 0;
        public int Height => Probe?.Height ?? Record?.Height ?? 0;
        public float[]? Vector => Probe?.Vector ?? Record?.Vector;
    }

    /// <summary>A SHA-256 as four 64-bit words (not a 64-character string); any other text as it is.</summary>
    private readonly record struct Content(ulong A, ulong B, ulong C, ulong D, string? Text) : IComparable<Content>
    {
        public static Content Of(string sha)
        {
            Span<ulong> words = stackalloc ulong[4];
            if (sha.Length != 64)
            {
                return new(0, 0, 0, 0, sha);
            }
            for (int i = 0; i < 4; i++)
            {
                var part = sha.AsSpan(16 * i, 16);
                if (part[0] is '+' or '-' || !ulong.TryParse(part, System.Globalization.NumberStyles.AllowHexSpecifier, null, out words[i]))
                {
                    return new(0, 0, 0, 0, sha);
                }
            }
            return new(words[0], words[1], words[2], words[3], null);
        }

        public bool IsEmpty => Text is { Length: 0 };

        public int CompareTo(Content other) =>
            A != other.A ? A.CompareTo(other.A) : B != other.B ? B.CompareTo(other.B) : C != other.C ? C.CompareTo(other.C)
            : D != other.D ? D.CompareTo(other.D) : string.CompareOrdinal(Text, other.Text);

        public override string ToString() => Text ?? $"{A:x16}{B:x16}{C:x16}{D:x16}";
    }

    /// <summary>
    /// Runs the scan, yielding progress as photos are read and searched; <see cref="Groups"/> holds the result once it
    /// ends. <paramref name="probes"/>: photos to check against the collection (and one another) instead of the whole
    /// collection. <paramref name="total"/>: the collection's size, for the progress.
    /// </summary>
    public async IAsyncEnumerable<DuplicateScanProgress> RunAsync(DuplicateScanOptions options, long total,
        IReadOnlyList<HouseEmbedding>? probes = null,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // Pairs whose second photo is not read yet (the records stream in Id order), joined at the end.
        var found = new List<(string A, string B, double Distance)>();
        var batch = new List<(string Id, float[] Vector)>(options.BatchSize);
        var buffers = new List<float[]>(options.BatchSize);
        bool searchStored = !options.ExactOnly && probes is null;
        total = probes is null ? total : total + probes.Count;
        long done = 0;
        yield return new DuplicateScanProgress(0, total);
        _excluded = (await store.ReadExclusionsAsync(cancellationToken)).Select(e => (e.Sha256A, e.Sha256B)).ToHashSet();

        // 1. Every stored photo, streamed: its metadata is kept, its vector only until its batch is searched.
        await foreach (var record in store.ReadAllAsync(cancellationToken))
        {
            Add(record.Id, record.Sha256, record.AddedUtc, null);
            if (searchStored && (options.Since is not { } since || record.AddedUtc >= since))
            {
                // Copied into a buffer reused batch after batch, so that every record dies young: a record kept
                // until its batch is searched would reach the old generation and pile up there as garbage.
                if (buffers.Count == batch.Count)
                {
                    buffers.Add(new float[record.Vector.Length]);
                }
                var buffer = buffers[batch.Count].Length == record.Vector.Length ? buffers[batch.Count] : new float[record.Vector.Length];
                record.Vector.CopyTo(buffer, 0);
                batch.Add((record.Id, buffer));
            }
            if (batch.Count >= options.BatchSize)
            {
                Join(await SearchAsync(batch, options, cancellationToken), found);
                batch.Clear();
            }
            if (++done % options.BatchSize == 0)
            {
                yield return new DuplicateScanProgress(done, Math.Max(total, done));
            }
        }
        // A photo to check that is stored already (same Id) is that record; the others are new nodes.
        var checkedIds = new HashSet<string>(StringComparer.Ordinal);
        foreach (var probe in probes ?? [])
        {
            string id = _nodes.ContainsKey(probe.Id) ? probe.Id : ProbeId(probe);
            if (!checkedIds.Add(id))
            {
                continue;
            }
            if (id != probe.Id)
            {
                Add(id, probe.Sha256, null, probe);
            }
            if (!options.ExactOnly)
            {
                batch.Add((id, probe.Vector));
            }
            if (batch.Count >= options.BatchSize)
            {
                Join(await SearchAsync(batch, options, cancellationToken), found);
                batch.Clear();
                yield return new DuplicateScanProgress(done += options.BatchSize, total);
            }
        }
        Join(await SearchAsync(batch, options, cancellationToken), found);
        yield return new DuplicateScanProgress(total, total);

        foreach (var (a, b, d) in found)
        {
            // A photo added while the scan ran is not part of it.
            if (_nodes.TryGetValue(a, out var na) && _nodes.TryGetValue(b, out var nb))
            {
                Union(na, nb, d);
            }
        }
        found.Clear();
        found.TrimExcess();

        // 2. Byte-identical photos (when checking some photos: only groups that hold one of them).
        bool checking = probes is not null || options.Since is not null;
        bool IsQuery(Node n) => probes is not null ? checkedIds.Contains(n.Id) : options.Since is not { } since || n.Added >= since;
        // Sorted by content, equal runs are the byte-identical photos: no table with an entry per photo.
        var byContent = Enumerable.Range(0, _byIndex.Count).Where(i => !_byIndex[i].Content.IsEmpty).ToArray();
        Array.Sort(byContent, (x, y) => _byIndex[x].Content.CompareTo(_byIndex[y].Content) is var c && c != 0 ? c : x.CompareTo(y));
        for (int start = 0, end; start < byContent.Length; start = end)
        {
            for (end = start + 1; end < byContent.Length && _byIndex[byContent[end]].Content == _byIndex[byContent[start]].Content; end++)
            {
            }
            if (end - start < 2)
            {
                continue;
            }
            var members = byContent[start..end].Select(i => _byIndex[i]).ToList();
            if (IsExcluded(members[0], members[1]))
            {
                _excludedExact += members.Count * (members.Count - 1L) / 2;
                continue;
            }
            for (int i = 1; (!checking || members.Any(IsQuery)) && i < members.Count; i++)
            {
                Union(members[0], members[i], 0);
            }
        }

        // 3. Photos given to check that are not stored, among themselves (the store does not know them).
        if (probes is not null && !options.ExactOnly)
        {
            var given = _byIndex.Where(n => !n.Stored).ToList();
            for (int a = 0; a < given.Count; a++)
            {
                for (int b = a + 1; b < given.Count; b++)
                {
                    double d = VectorMath.L2(given[a].Vector, given[b].Vector);
                    if (d <= options.Threshold)
                    {
                        Union(given[a], given[b], d);
                    }
                }
            }
        }

        // 4. Connected components of two or more photos become groups.
        _groups = await BuildGroupsAsync(options, cancellationToken);
    }

    /// <summary>Joins the pairs whose photos are both known; the others wait in <paramref name="later"/>.</summary>
    private void Join(List<(string A, string B, double Distance)> pairs, List<(string A, string B, double Distance)> later)
    {
        foreach (var pair in pairs)
        {
            if (_nodes.TryGetValue(pair.A, out var a) && _nodes.TryGetValue(pair.B, out var b))
            {
                Union(a, b, pair.Distance);
            }
            else
            {
                later.Add(pair);
            }
        }
    }

    private static string ProbeId(HouseEmbedding probe) => "\u0000probe:" + probe.Path;

    private void Add(string id, string sha, DateTime? added, HouseEmbedding? probe)
    {
        var node = new Node(_byIndex.Count, id, sha, added, probe);
        _nodes[id] = node;
        _byIndex.Add(node);
    }

    /// <summary>The duplicate pairs of a batch of query photos: their neighbours within the threshold.</summary>
    private async Task<List<(string A, string B, double Distance)>> SearchAsync(List<(string Id, float[] Vector)> batch,
        DuplicateScanOptions options, CancellationToken ct)
    {
        var pairs = new List<(string, string, double)>();
        var pending = batch.ToList();
        int k = Math.Min(options.Neighbours, store.Capabilities.MaxK);
        // No distance bound: the nearest neighbour beyond the threshold still counts, for the histogram. The store's own
        // search: exact on the embedded store, the index on servers (an exact scan per photo would be quadratic there).
        var search = new SearchOptions { Candidates = options.Candidates };
        bool first = true;
        while (pending.Count > 0)
        {
            var found = await store.SearchManyAsync(pending.Select(p => p.Vector).ToList(), k, search, ct);
            var again = new List<(string Id, float[] Vector)>();
            for (int q = 0; q < pending.Count; q++)
            {
                var others = found[q].Where(n => n.Id != pending[q].Id).ToList();
                if (first && others.Count > 0)
                {
                    _nearest[(int)Math.Clamp(others[0].Distance / HouseDuplicateScanSummary.BinWidth, 0, _nearest.Length - 1)]++;
                }
                pairs.AddRange(others.Where(n => n.Distance <= options.Threshold).Select(n => (pending[q].Id, n.Id, n.Distance)));
                // Every neighbour asked for was a duplicate: there may be more.
                if (found[q].Count >= k && found[q][^1].Distance <= options.Threshold && k < store.Capabilities.MaxK)
                {
                    again.Add(pending[q]);
                }
            }
            pending = again;
            first = false;
            k = (int)Math.Min(4L * k, store.Capabilities.MaxK);
        }
        return pairs;
    }

    private int Find(int i)
    {
        while (_byIndex[i].Parent != i)
        {
            _byIndex[i].Parent = _byIndex[_byIndex[i].Parent].Parent;
            i = _byIndex[i].Parent;
        }
        return i;
    }

    /// <summary>Whether the user said these two photos are not duplicates (both hashes known).</summary>
    private bool IsExcluded(Node a, Node b)
    {
        if (_excluded.Count == 0 || a.Content.IsEmpty || b.Content.IsEmpty)
        {
            return false;
        }
        string sa = a.Sha.ToLowerInvariant(), sb = b.Sha.ToLowerInvariant();
        return _excluded.Contains(string.CompareOrdinal(sa, sb) <= 0 ? (sa, sb) : (sb, sa));
    }

    private void Union(Node a, Node b, double distance)
    {
        if (IsExcluded(a, b))
        {
            // Both directions of a search find the pair: count it once.
            _excludedNear.Add((Math.Min(a.Index, b.Index), Math.Max(a.Index, b.Index)));
            return;
        }
        _edges.Add((a.Index, b.Index, distance));
        int ra = Find(a.Index), rb = Find(b.Index);
        if (ra != rb)
        {
            _byIndex[Math.Max(ra, rb)].Parent = Math.Min(ra, rb);
        }
    }

    private async Task<List<HouseDuplicateGroup>> BuildGroupsAsync(DuplicateScanOptions options, CancellationToken ct)
    {
        // Components counted in arrays, listed only for the roots of two or more photos (a few among many).
        var roots = new int[_byIndex.Count];
        var sizes = new int[_byIndex.Count];
        for (int i = 0; i < roots.Length; i++)
        {
            sizes[roots[i] = Find(i)]++;
        }
        var byRoot = new Dictionary<int, List<Node>>();
        for (int i = 0; i < roots.Length; i++)
        {
            if (sizes[roots[i]] > 1)
            {
                (byRoot.TryGetValue(roots[i], out var list) ? list : byRoot[roots[i]] = new List<Node>(sizes[roots[i]])).Add(_byIndex[i]);
            }
        }
        var components = byRoot.Values.ToList();
        // Only groups too large to list every member pair list their edges.
        var edgesByRoot = new Dictionary<int, List<(int A, int B, double Distance)>>();
        foreach (var edge in _edges)
        {
            int root = roots[edge.A];
            if (sizes[root] > AllPairsLimit)
            {
                (edgesByRoot.TryGetValue(root, out var list) ? list : edgesByRoot[root] = []).Add(edge);
            }
        }
        var groups = new List<HouseDuplicateGroup>(components.Count);
        foreach (var members in components)
        {
            ct.ThrowIfCancellationRequested();
            var records = (await store.GetManyAsync(members.Where(n => n.Stored).Select(n => n.Id).ToList(), ct))
                .ToDictionary(r => r.Id, StringComparer.Ordinal);
            foreach (var n in members.Where(n => n.Stored))
            {
                n.Record = records.GetValueOrDefault(n.Id);
            }
            static float[]? VectorOf(Node n) => n.Vector;
            var pairs = new List<HouseDuplicatePair>();
            if (members.Count <= AllPairsLimit)
            {
                for (int a = 0; a < members.Count; a++)
                {
                    for (int b = a + 1; b < members.Count; b++)
                    {
                        // Joined through others, but the user said these two are not duplicates: not a pair.
                        if (IsExcluded(members[a], members[b]))
                        {
                            continue;
                        }
                        pairs.Add(Pair(members[a], members[b], VectorOf(members[a]), VectorOf(members[b]), options.Probability, source));
                    }
                }
            }
            else
            {
                foreach (var (a, b, d) in edgesByRoot[Find(members[0].Index)].DistinctBy(e => (Math.Min(e.A, e.B), Math.Max(e.A, e.B))))
                {
                    var (na, nb) = (_byIndex[a], _byIndex[b]);
                    bool same = na.Content == nb.Content && !na.Content.IsEmpty;
                    pairs.Add(new HouseDuplicatePair(Key(na), Key(nb), d, same)
                    {
                        DuplicateProbability = same ? 1 : options.Probability?.Invoke(Math.Min(d, 2)) ?? double.NaN,
                        Sha256A = na.Sha, Sha256B = nb.Sha, Store = source,
                    });
                }
            }
            var (keeper, reason) = ChooseKeeper(members, options.KeepBy);
            var keeperVector = VectorOf(keeper);
            var memberObjects = members
                .Select(n => new HouseDuplicateMember
                {
                    Id = n.Stored ? n.Id : n.Path, Path = n.Path, Sha256 = n.Sha, Width = n.Width, Height = n.Height,
                    FileSize = FileSize(n.Path), AddedUtc = n.Added, IsStored = n.Stored, IsKeeper = n == keeper,
                    DistanceToKeeper = n == keeper || keeperVector is null || VectorOf(n) is not { } v ? 0 : VectorMath.L2(keeperVector, v),
                    Collection = n.Stored ? source.Collection : "", Store = n.Stored ? source : null,
                })
                .OrderBy(m => !m.IsKeeper).ThenBy(m => m.DistanceToKeeper).ThenBy(m => m.Path, StringComparer.Ordinal)
                .ToList();
            bool exact = members.All(n => !n.Content.IsEmpty && n.Content == members[0].Content);
            // The weakest link: the member least surely joined to the others (its best pair), over all members.
            double weakest = members.Select(n => pairs.Where(p => p.A == Key(n) || p.B == Key(n))
                .Select(p => p.DuplicateProbability).DefaultIfEmpty(double.NaN).Max()).Min();
            foreach (var n in members)
            {
                n.Record = null;
            }
            groups.Add(new HouseDuplicateGroup
            {
                Kind = (exact ? DuplicateKind.Exact : DuplicateKind.Near).ToString(), Keeper = memberObjects[0], KeeperReason = reason,
                Members = memberObjects, Pairs = pairs, MaxDistance = pairs.Count == 0 ? 0 : pairs.Max(p => p.Distance),
                DuplicateProbability = weakest,
                Threshold = options.Threshold, Collection = source.Collection, Store = source,
            });
        }
        var summary = new HouseDuplicateScanSummary
        {
            Collection = source.Collection, Store = source, Photos = _byIndex.Count, Groups = groups.Count,
            Threshold = options.Threshold, ScannedUtc = DateTime.UtcNow, NearestDistanceCounts = _nearest.ToArray(),
            ExcludedPairs = _excludedExact + _excludedNear.Count,
        };
        // Exact groups first, then the tightest; numbered in that order.
        return groups.OrderBy(g => g.Kind, StringComparer.Ordinal).ThenBy(g => g.MaxDistance).ThenBy(g => g.Keeper.Path, StringComparer.Ordinal)
            .Select((g, i) => new HouseDuplicateGroup
            {
                Group = i + 1, Kind = g.Kind, Keeper = g.Keeper, KeeperReason = g.KeeperReason, Members = g.Members, Pairs = g.Pairs,
                MaxDistance = g.MaxDistance, DuplicateProbability = g.DuplicateProbability, Threshold = g.Threshold, Collection = g.Collection, Store = g.Store, Scan = summary,
            })
            .ToList();
    }

    private static HouseDuplicatePair Pair(Node a, Node b, float[]? va, float[]? vb, Func<double, double>? probability,
        HouseStoreReference source)
    {
        double d = va is null || vb is null ? double.NaN : VectorMath.L2(va, vb);
        bool same = !a.Content.IsEmpty && a.Content == b.Content;
        return new(Key(a), Key(b), d, same)
        {
            DuplicateProbability = same ? 1 : double.IsNaN(d) || probability is null ? double.NaN : probability(Math.Min(d, 2)),
            Sha256A = a.Sha, Sha256B = b.Sha, Store = source,
        };
    }

    private static string Key(Node n) => n.Stored ? n.Id : n.Path;

    private static long? FileSize(string path)
    {
        try
        {
            var file = new FileInfo(path);
            return file.Exists ? file.Length : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>The keeper: the first rule that leaves one best member decides; the last tie goes to the smallest Id.</summary>
    private static (Node Keeper, string Reason) ChooseKeeper(List<Node> members, IReadOnlyList<KeeperRule> rules)
    {
        IEnumerable<Node> candidates = members;
        foreach (var rule in rules)
        {
            var scored = candidates.Select(n => (Node: n, Score: Score(n, rule))).ToList();
            double best = scored.Max(s => s.Score);
            var top = scored.Where(s => s.Score == best).Select(s => s.Node).ToList();
            if (top.Count == 1)
            {
                return (top[0], Describe(rule, top[0]));
            }
            candidates = top;
        }
        var first = candidates.OrderBy(n => n.Id, StringComparer.Ordinal).First();
        return (first, $"all tie on {string.Join(", ", rules)}: the first by Id");
    }

    // Higher is better; a missing value ranks last.
    private static double Score(Node n, KeeperRule rule) => rule switch
    {
        KeeperRule.Resolution => (double)n.Width * n.Height,
        KeeperRule.FileSize => FileSize(n.Path) ?? -1,
        KeeperRule.Oldest => n.Added is { } a ? -a.Ticks : double.MinValue,
        KeeperRule.Newest => n.Added is { } a ? a.Ticks : double.MinValue,
        KeeperRule.ShortestPath => -n.Path.Length,
        _ => 0,
    };

    private static string Describe(KeeperRule rule, Node n) => rule switch
    {
        KeeperRule.Resolution => $"Resolution: the most pixels ({n.Width}x{n.Height})",
        KeeperRule.FileSize => $"FileSize: the largest file ({FileSize(n.Path):N0} bytes)",
        KeeperRule.Oldest => $"Oldest: added first ({n.Added:u})",
        KeeperRule.Newest => $"Newest: added last ({n.Added:u})",
        KeeperRule.ShortestPath => $"ShortestPath: the shortest path ({n.Path.Length} characters)",
        _ => rule.ToString(),
    };
}
