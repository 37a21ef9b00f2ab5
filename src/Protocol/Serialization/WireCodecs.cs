using System.Collections.Concurrent;

namespace ClusterActors.Protocol.Serialization;

/// <summary>
/// One message type's binary encoding. Each protocol area (FGCP, HA history, config sync, ...)
/// registers its codecs with <see cref="WireCodecs.Register{T}"/> from a static constructor in its own file,
/// so the serializer never needs to know the message list and no area edits another's code.
/// </summary>
public sealed record WireCodec(string Manifest, Type Type, Action<WireWriter, object> Write, Func<WireReader, object> Read);

public static class WireCodecs
{
    private static readonly ConcurrentDictionary<string, WireCodec> ByManifest = new();
    private static readonly ConcurrentDictionary<Type, WireCodec> ByType = new();

    static WireCodecs() => WireCatalog.RegisterAll();

    /// <summary>Manifests are short, stable names: renaming a C# type must not break stored journals or mixed-version clusters.</summary>
    public static void Register<T>(string manifest, Action<WireWriter, T> write, Func<WireReader, T> read) where T : notnull
    {
        var codec = new WireCodec(manifest, typeof(T), (w, o) => write(w, (T)o), r => read(r));
        if (!ByManifest.TryAdd(manifest, codec) && ByManifest[manifest].Type != typeof(T))
            throw new InvalidOperationException($"wire manifest '{manifest}' is registered twice");
        ByType[typeof(T)] = codec;
    }

    public static bool TryGet(Type type, out WireCodec codec) => ByType.TryGetValue(type, out codec!);
    public static bool TryGet(string manifest, out WireCodec codec) => ByManifest.TryGetValue(manifest, out codec!);
    public static IEnumerable<WireCodec> All => ByManifest.Values;

    public static byte[] Encode(object message)
    {
        if (!TryGet(message.GetType(), out var codec))
            throw new ArgumentException($"no wire codec for {message.GetType().FullName}");
        var w = new WireWriter();
        codec.Write(w, message);
        return w.ToArray();
    }

    private static long _dropped;

    /// <summary>Inputs refused since the process started (corrupt, truncated, unknown kind): each is dropped, never applied.</summary>
    public static long Dropped => Interlocked.Read(ref _dropped);

    public static object Decode(string manifest, ReadOnlySpan<byte> bytes)
    {
        try
        {
            return DecodeOrThrow(manifest, bytes);
        }
        catch (WireFormatException)
        {
            Interlocked.Increment(ref _dropped);
            throw;
        }
    }

    private static object DecodeOrThrow(string manifest, ReadOnlySpan<byte> bytes)
    {
        if (!TryGet(manifest, out var codec))
            throw new WireFormatException($"unknown wire manifest '{manifest}'");
        var r = new WireReader(bytes.ToArray());
        try
        {
            var value = codec.Read(r);
            r.EnsureConsumed(manifest);
            return value;
        }
        catch (Exception e) when (e is not WireFormatException)
        {
            // Whatever corrupt bytes make a codec trip over is still just corrupt input: one exception type for callers.
            throw new WireFormatException($"corrupt '{manifest}': {e.Message}");
        }
    }
}

/// <summary>
/// Every area's registration method is called here once; add a line when an area adds messages.
/// Kept explicit (no reflection scan) so trimming and the self-contained publish keep the codecs.
/// </summary>
internal static partial class WireCatalog
{
    static partial void RegisterFgcp();
    static partial void RegisterHistory();
    static partial void RegisterConfigSync();
    static partial void RegisterIpsec();
    static partial void RegisterFgsp();

    internal static void RegisterAll()
    {
        RegisterFgcp();
        RegisterHistory();
        RegisterConfigSync();
        RegisterIpsec();
        RegisterFgsp();
    }
}

/// <summary>Thrown for bytes that do not decode: truncated, corrupt or of an unknown kind. Never applied, only logged.</summary>
public sealed class WireFormatException(string message) : Exception(message);
