using System.Management.Automation.Runspaces;
using System.Runtime.CompilerServices;
using HouseSimilarity.Stores;

namespace HouseSimilarity.Commands;

/// <summary>
/// The store Connect-HouseStore set as the default, one per runspace (as a variable would be): a thread job or another
/// runspace starts without one. Held in memory only; the password never leaves the process.
/// </summary>
internal static class HouseStoreSession
{
    private static readonly ConditionalWeakTable<Runspace, HouseStoreSettings> PerRunspace = new();
    private static readonly object NoRunspaceKey = new();
    private static HouseStoreSettings? _noRunspace;

    public static HouseStoreSettings? Current
    {
        get
        {
            Runspace? runspace = Runspace.DefaultRunspace;
            if (runspace is null)
            {
                return _noRunspace?.Clone();
            }
            return PerRunspace.TryGetValue(runspace, out var settings) ? settings.Clone() : null;
        }
        set
        {
            Runspace? runspace = Runspace.DefaultRunspace;
            if (runspace is null)
            {
                lock (NoRunspaceKey)
                {
                    _noRunspace = value?.Clone();
                }
                return;
            }
            if (value is null)
            {
                PerRunspace.Remove(runspace);
            }
            else
            {
                PerRunspace.AddOrUpdate(runspace, value.Clone());
            }
        }
    }
}
