using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace HouseSimilarity.Loader;

/// <summary>
/// Loads the module and every dependency it ships (ONNX Runtime, ImageSharp, SQLite, Npgsql...) into an
/// AssemblyLoadContext of its own, so they never clash with the versions pwsh or other modules load.
/// Assemblies the module does not ship (System.Management.Automation, the framework) come from the default context.
/// </summary>
public sealed class LoadContext : AssemblyLoadContext
{
    private static readonly object Sync = new();
    private static LoadContext? _instance;

    private readonly string _directory;
    private readonly Assembly _moduleAssembly;

    private LoadContext(string moduleAssemblyPath) : base("HouseSimilarity", isCollectible: false)
    {
        _directory = Path.GetDirectoryName(moduleAssemblyPath)!;
        _moduleAssembly = LoadFromAssemblyPath(moduleAssemblyPath);
    }

    /// <summary>Returns the cmdlet assembly, loaded once per process.</summary>
    public static Assembly Initialize()
    {
        lock (Sync)
        {
            if (_instance is null)
            {
                string directory = Path.GetDirectoryName(typeof(LoadContext).Assembly.Location)!;
                _instance = new LoadContext(Path.Combine(directory, "HouseSimilarity.dll"));
            }
            return _instance._moduleAssembly;
        }
    }

    protected override Assembly? Load(AssemblyName assemblyName)
    {
        if (assemblyName.Name == typeof(LoadContext).Assembly.GetName().Name)
        {
            return typeof(LoadContext).Assembly;
        }
        string path = Path.Combine(_directory, $"{assemblyName.Name}.dll");
        return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
    }

    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName)
    {
        foreach (string candidate in NativeFileNames(unmanagedDllName))
        {
            string path = Path.Combine(_directory, candidate);
            if (File.Exists(path))
            {
                return LoadUnmanagedDllFromPath(path);
            }
        }
        return IntPtr.Zero;
    }

    private static IEnumerable<string> NativeFileNames(string name)
    {
        yield return name;
        if (OperatingSystem.IsWindows())
        {
            yield return $"{name}.dll";
        }
        else
        {
            string extension = OperatingSystem.IsMacOS() ? ".dylib" : ".so";
            yield return $"lib{name}{extension}";
            yield return $"{name}{extension}";
        }
    }
}
