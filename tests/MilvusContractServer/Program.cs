using System.Globalization;
using System.Runtime.InteropServices;

namespace HouseSimilarity.MilvusContract;

/// <summary>
/// Console mode: <c>dotnet milvus-contract.dll [--port N] [--token user:pass] [--no-topks] [--load-delay-ms N]
/// [--consistency-lag-ms N] [--ignore-stdin]</c>. Prints one line <c>http://127.0.0.1:PORT</c> once listening, then
/// serves until stdin reaches end of file (unless --ignore-stdin) or the process gets SIGINT/SIGTERM.
/// </summary>
internal static class Program
{
    private const string Usage =
        "usage: milvus-contract [--port N] [--token user:pass] [--no-topks] [--load-delay-ms N] [--consistency-lag-ms N] [--ignore-stdin]";

    private static int Main(string[] args)
    {
        var options = new ContractServerOptions();
        bool ignoreStdin = false;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string? Value()
            {
                if (i + 1 >= args.Length)
                {
                    return null;
                }
                return args[++i];
            }
            switch (a)
            {
                case "--port" when int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is >= 0 and <= 65535:
                    options.Port = port;
                    break;
                case "--token" when Value() is { Length: > 0 } token:
                    options.Token = token;
                    break;
                case "--no-topks":
                    options.ReturnTopks = false;
                    break;
                case "--load-delay-ms" when int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int ms):
                    options.LoadDelay = TimeSpan.FromMilliseconds(ms);
                    break;
                case "--consistency-lag-ms" when int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int ms):
                    options.ConsistencyLag = TimeSpan.FromMilliseconds(ms);
                    break;
                case "--ignore-stdin":
                    ignoreStdin = true;
                    break;
                case "--help" or "-h":
                    Console.Out.WriteLine(Usage);
                    return 0;
                default:
                    Console.Error.WriteLine($"milvus-contract: bad argument '{a}'");
                    Console.Error.WriteLine(Usage);
                    return 2;
            }
        }

        MilvusContractServer server;
        try
        {
            server = MilvusContractServer.Start(options);
        }
        catch (Exception ex) when (ex is ArgumentException or System.Net.HttpListenerException)
        {
            Console.Error.WriteLine("milvus-contract: " + ex.Message);
            return 1;
        }
        using (server)
        {
            using var done = new ManualResetEventSlim();
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; done.Set(); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; done.Set(); });
            Console.Out.WriteLine(server.Uri.GetLeftPart(UriPartial.Authority));
            Console.Out.Flush();
            if (!ignoreStdin)
            {
                var reader = new Thread(() =>
                {
                    try
                    {
                        var stdin = Console.OpenStandardInput();
                        var buffer = new byte[4096];
                        while (stdin.Read(buffer, 0, buffer.Length) > 0)
                        {
                        }
                    }
                    catch (IOException)
                    {
                    }
                    done.Set();
                })
                { IsBackground = true, Name = "stdin-watch" };
                reader.Start();
            }
            done.Wait();
        }
        return 0;
    }
}
