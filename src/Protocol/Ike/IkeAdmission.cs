using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;

namespace ClusterActors.Protocol.Ike;

/// <summary>
/// How much unauthenticated IKE work a dialup gateway takes on (README "Admission under flood"). FortiOS has only
/// <c>config system ike</c> / <c>set embryonic-limit</c> ("maximum number of IPsec tunnels to negotiate
/// simultaneously", 50–20000, default 1000 in the 7.0.0 guide; the unit's config drives it); the rest are this lab's
/// choices, the per-source and cookie numbers after strongSwan's <c>block_threshold = 5</c> and <c>cookie_threshold = 10</c>.
/// </summary>
public sealed record IkeAdmissionSettings
{
    /// <summary>Any IKE datagram larger than this is dropped before it is parsed. PSK IKE_AUTH is well under 2 KB.</summary>
    public int MaxDatagramBytes { get; init; } = 8192;

    /// <summary>An IKE_SA_INIT request larger than this is dropped before it is parsed (strongSwan's is ~0.5–1 KB).</summary>
    public int MaxInitBytes { get; init; } = 3072;

    /// <summary>More payloads than this in one message (clear chain) and it is dropped before it is parsed.</summary>
    public int MaxPayloads { get; init; } = 32;

    /// <summary>From this many half-open SAs on, an IKE_SA_INIT must carry a valid COOKIE (RFC 7296 §2.6). 0: always.</summary>
    public int CookieThreshold { get; init; } = 10;

    /// <summary>Half-open SAs one source address may hold; more are dropped.</summary>
    public int HalfOpenPerSource { get; init; } = 5;

    /// <summary>FortiOS <c>embryonic-limit</c>: half-open SAs in total; more are dropped.</summary>
    public int EmbryonicLimit { get; init; } = 1000;

    /// <summary>A half-open SA whose IKE_AUTH has not completed after this long is forgotten.</summary>
    public TimeSpan HalfOpenTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The cookie secret is replaced this often; a cookie stays valid for one to two lifetimes.</summary>
    public TimeSpan CookieSecretLifetime { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>At most one refusal log line per cause this often; the lines in between are counted, not written.</summary>
    public TimeSpan RefusalLogInterval { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>Why an IKE datagram was not taken on. Each has its own counter in <see cref="IkeAdmission.Counters"/>.</summary>
public enum IkeDropCause
{
    /// <summary>Shorter than the IKE header, or the header's length disagrees with the datagram.</summary>
    Truncated,
    /// <summary>Larger than <see cref="IkeAdmissionSettings.MaxDatagramBytes"/>.</summary>
    Oversized,
    /// <summary>An IKE_SA_INIT request larger than <see cref="IkeAdmissionSettings.MaxInitBytes"/>.</summary>
    OversizedInit,
    /// <summary>More than <see cref="IkeAdmissionSettings.MaxPayloads"/> payloads, or a chain that does not add up.</summary>
    TooManyPayloads,
    /// <summary>Passed the screen but did not decode.</summary>
    Malformed,
    /// <summary>Cookies are required and this IKE_SA_INIT had none: answered with N(COOKIE), nothing kept.</summary>
    CookieRequired,
    /// <summary>A COOKIE that this gateway did not make for this Ni, address and SPIi, or made with a retired secret.</summary>
    CookieInvalid,
    /// <summary>The source address already holds <see cref="IkeAdmissionSettings.HalfOpenPerSource"/> half-open SAs.</summary>
    PerSourceLimit,
    /// <summary><see cref="IkeAdmissionSettings.EmbryonicLimit"/> half-open SAs exist.</summary>
    EmbryonicLimit,
    /// <summary>A half-open SA reached <see cref="IkeAdmissionSettings.HalfOpenTimeout"/> without IKE_AUTH.</summary>
    HalfOpenExpired,
}

/// <summary>What to do with an IKE_SA_INIT request.</summary>
public abstract record IkeAdmit
{
    /// <summary>Go on (negotiate, DH); then <see cref="IkeAdmission.Opened"/> with the new SPIr.</summary>
    public sealed record Admit : IkeAdmit;

    /// <summary>Answer with N(COOKIE) carrying <see cref="Cookie"/>, SPIr zero, and keep nothing (§2.6).</summary>
    public sealed record SendCookie(byte[] Cookie) : IkeAdmit;

    /// <summary>No answer, no state.</summary>
    public sealed record Drop(IkeDropCause Cause) : IkeAdmit;

    public static readonly IkeAdmit Admitted = new Admit();
}

/// <summary>A refusal worth a log line now, with how many of the same cause were not logged since the last one.</summary>
public sealed record IkeRefusalLog(string Kind, string Detail, long Suppressed);

/// <summary>
/// The admission decision of a dialup gateway (RFC 7296 §2.6 and the limits of <see cref="IkeAdmissionSettings"/>):
/// pure, single-threaded, time from an injected <see cref="TimeProvider"/>. It screens raw datagrams before parsing,
/// decides COOKIE / admit / drop for each IKE_SA_INIT, tracks half-open SAs per source and in total, expires them, and
/// decides which refusals get a log line. The responder owning the SAs applies what it says.
/// </summary>
public sealed class IkeAdmission
{
    /// <summary>COOKIE data: 4-byte secret version, then HMAC-SHA256(secret, Ni | IPi | SPIi).</summary>
    public const int CookieLength = 4 + 32;

    private readonly TimeProvider _time;
    private readonly IIkeRandom _random;
    private readonly Dictionary<ulong, (IPAddress Source, long OpenedAt)> _halfOpen = [];
    private readonly Dictionary<IPAddress, int> _perSource = [];
    /// <summary>SPIr in the order they were opened; the timeout is one value, so that is also the expiry order.</summary>
    private readonly Queue<(ulong SpiR, long OpenedAt)> _expiry = new();
    private readonly long[] _counters = new long[Enum.GetValues<IkeDropCause>().Length];
    /// <summary>Per kind of refusal: when its last line was written and how many were left out since (kinds are a fixed set of names).</summary>
    private readonly Dictionary<string, (long LoggedAt, long Suppressed)> _logs = [];
    private uint _version;
    private byte[] _secret;
    private byte[]? _previous;
    private long _rotatedAt;
    private long _admitted;
    private long _cookiesAccepted;

    public IkeAdmission(IkeAdmissionSettings settings, TimeProvider time, IIkeRandom? random = null)
    {
        Settings = settings;
        _time = time;
        _random = random ?? SystemIkeRandom.Instance;
        _secret = _random.Bytes(32);
        _rotatedAt = time.GetTimestamp();
    }

    public IkeAdmissionSettings Settings { get; private set; }

    /// <summary>
    /// New limits from now on (a config change: <c>set embryonic-limit</c>). Half-open SAs already held stay until they
    /// complete or expire; a lower limit only refuses new ones.
    /// </summary>
    public void Reconfigure(IkeAdmissionSettings settings) => Settings = settings;

    public int HalfOpen => _halfOpen.Count;

    public int HalfOpenFrom(IPAddress source) => _perSource.GetValueOrDefault(source);

    /// <summary>Whether an IKE_SA_INIT arriving now must carry a COOKIE.</summary>
    public bool CookiesRequired => _halfOpen.Count >= Settings.CookieThreshold;

    public IkeAdmissionCounters Counters => new(_counters.ToArray(), _admitted, _cookiesAccepted, _halfOpen.Count);

    private TimeSpan Since(long timestamp) => _time.GetElapsedTime(timestamp);

    // ---------------- before parsing ----------------

    /// <summary>
    /// Size and shape checks on the raw datagram (non-ESP marker already removed), before anything is allocated for
    /// it: length against the header, the size caps, and a walk of the clear payload chain's generic headers that
    /// stops at <see cref="IkeAdmissionSettings.MaxPayloads"/>. Null: hand it to the decoder. Counts what it drops.
    /// </summary>
    public IkeDropCause? Screen(ReadOnlySpan<byte> datagram)
    {
        var cause = ScreenOnly(datagram, Settings);
        if (cause is { } c) _counters[(int)c]++;
        return cause;
    }

    /// <summary><see cref="Screen"/> without counting, for a caller in front of the owner (the UDP socket's loop).</summary>
    public static IkeDropCause? ScreenOnly(ReadOnlySpan<byte> d, IkeAdmissionSettings settings)
    {
        if (d.Length > settings.MaxDatagramBytes) return IkeDropCause.Oversized;
        if (d.Length < IkeHeader.Size || BinaryPrimitives.ReadUInt32BigEndian(d[24..]) != (uint)d.Length) return IkeDropCause.Truncated;
        var exchange = (ExchangeType)d[18];
        var flags = (IkeFlags)d[19];
        if (exchange == ExchangeType.IkeSaInit && (flags & IkeFlags.Response) == 0 && d.Length > settings.MaxInitBytes)
            return IkeDropCause.OversizedInit;
        var next = (PayloadType)d[16];
        var pos = IkeHeader.Size;
        var count = 0;
        while (next != PayloadType.None)
        {
            if (++count > settings.MaxPayloads || d.Length - pos < 4) return IkeDropCause.TooManyPayloads;
            var len = BinaryPrimitives.ReadUInt16BigEndian(d[(pos + 2)..]);
            if (len < 4) return IkeDropCause.TooManyPayloads;
            if (next == PayloadType.SK) break; // its inner chain is counted again after decryption by the SA's own checks
            next = (PayloadType)d[pos];
            pos += len;
        }
        return null;
    }

    /// <summary>A datagram that passed the screen but did not decode.</summary>
    public void Malformed() => _counters[(int)IkeDropCause.Malformed]++;

    // ---------------- IKE_SA_INIT ----------------

    /// <summary>
    /// The decision for an IKE_SA_INIT from <paramref name="source"/> with initiator SPI <paramref name="spiI"/>, nonce
    /// <paramref name="ni"/> and the data of its N(COOKIE), if it had one. Expires old half-open SAs first (their SPIr
    /// are in <see cref="Expire"/>'s answer; call that first when the owner must forget them).
    /// </summary>
    public IkeAdmit AdmitInit(IPAddress source, ulong spiI, ReadOnlySpan<byte> ni, byte[]? cookie)
    {
        if (CookiesRequired)
        {
            if (cookie is null)
            {
                _counters[(int)IkeDropCause.CookieRequired]++;
                return new IkeAdmit.SendCookie(MakeCookie(source, spiI, ni));
            }
            // §2.6: only a cookie made here, for this Ni, address and SPIi, under the current or the previous secret.
            if (!CookieValid(cookie, source, spiI, ni)) return Drop(IkeDropCause.CookieInvalid);
            _cookiesAccepted++;
        }
        if (HalfOpenFrom(source) >= Settings.HalfOpenPerSource) return Drop(IkeDropCause.PerSourceLimit);
        if (_halfOpen.Count >= Settings.EmbryonicLimit) return Drop(IkeDropCause.EmbryonicLimit);
        _admitted++;
        return IkeAdmit.Admitted;
    }

    private IkeAdmit.Drop Drop(IkeDropCause cause)
    {
        _counters[(int)cause]++;
        return new IkeAdmit.Drop(cause);
    }

    /// <summary>The responder created half-open SA <paramref name="spiR"/> for <paramref name="source"/>.</summary>
    public void Opened(ulong spiR, IPAddress source)
    {
        if (_halfOpen.ContainsKey(spiR)) return;
        var now = _time.GetTimestamp();
        _halfOpen[spiR] = (source, now);
        _perSource[source] = HalfOpenFrom(source) + 1;
        _expiry.Enqueue((spiR, now));
    }

    /// <summary>Half-open SA <paramref name="spiR"/> is gone (established, refused, replaced or forgotten).</summary>
    public void Closed(ulong spiR)
    {
        if (!_halfOpen.Remove(spiR, out var entry)) return;
        var left = HalfOpenFrom(entry.Source) - 1;
        if (left <= 0) _perSource.Remove(entry.Source);
        else _perSource[entry.Source] = left;
    }

    /// <summary>Half-open SAs older than <see cref="IkeAdmissionSettings.HalfOpenTimeout"/>, now closed here; the owner forgets them.</summary>
    public IReadOnlyList<ulong> Expire()
    {
        List<ulong>? expired = null;
        while (_expiry.TryPeek(out var head) && Since(head.OpenedAt) >= Settings.HalfOpenTimeout)
        {
            _expiry.Dequeue();
            // A queue entry whose SA is gone (or was reopened later under the same SPIr) is skipped.
            if (!_halfOpen.TryGetValue(head.SpiR, out var entry) || entry.OpenedAt != head.OpenedAt) continue;
            Closed(head.SpiR);
            _counters[(int)IkeDropCause.HalfOpenExpired]++;
            (expired ??= []).Add(head.SpiR);
        }
        // Closed SAs leave their queue entries behind; don't let a long-lived queue keep them all.
        if (_expiry.Count > 4 * (_halfOpen.Count + 64))
        {
            var live = _expiry.Where(e => _halfOpen.TryGetValue(e.SpiR, out var h) && h.OpenedAt == e.OpenedAt).ToList();
            _expiry.Clear();
            foreach (var e in live) _expiry.Enqueue(e);
        }
        return expired ?? (IReadOnlyList<ulong>)[];
    }

    // ---------------- cookies (RFC 7296 §2.6) ----------------

    private void Rotate()
    {
        if (Since(_rotatedAt) < Settings.CookieSecretLifetime) return;
        // Two lifetimes or more without traffic: the previous secret is retired too.
        _previous = Since(_rotatedAt) < 2 * Settings.CookieSecretLifetime ? _secret : null;
        _secret = _random.Bytes(32);
        _version++;
        _rotatedAt = _time.GetTimestamp();
    }

    /// <summary>Cookie = VersionIDofSecret | HMAC-SHA256(secret, Ni | IPi | SPIi).</summary>
    public byte[] MakeCookie(IPAddress source, ulong spiI, ReadOnlySpan<byte> ni)
    {
        Rotate();
        var cookie = new byte[CookieLength];
        BinaryPrimitives.WriteUInt32BigEndian(cookie, _version);
        Mac(_secret, source, spiI, ni, cookie.AsSpan(4));
        return cookie;
    }

    public bool CookieValid(byte[] cookie, IPAddress source, ulong spiI, ReadOnlySpan<byte> ni)
    {
        Rotate();
        if (cookie.Length != CookieLength) return false;
        var version = BinaryPrimitives.ReadUInt32BigEndian(cookie);
        var secret = version == _version ? _secret : version == _version - 1 ? _previous : null;
        if (secret is null) return false;
        Span<byte> expected = stackalloc byte[32];
        Mac(secret, source, spiI, ni, expected);
        return CryptographicOperations.FixedTimeEquals(expected, cookie.AsSpan(4));
    }

    private static void Mac(byte[] secret, IPAddress source, ulong spiI, ReadOnlySpan<byte> ni, Span<byte> into)
    {
        var ip = source.GetAddressBytes();
        var input = new byte[ni.Length + ip.Length + 8];
        ni.CopyTo(input);
        ip.CopyTo(input, ni.Length);
        BinaryPrimitives.WriteUInt64BigEndian(input.AsSpan(ni.Length + ip.Length), spiI);
        HMACSHA256.HashData(secret, input, into);
    }

    // ---------------- refusal logs ----------------

    /// <summary>
    /// Whether a refusal of <paramref name="cause"/> gets a log line now: the first one, then at most one per
    /// <see cref="IkeAdmissionSettings.RefusalLogInterval"/> carrying how many were left out since. Null: don't log.
    /// </summary>
    public IkeRefusalLog? RefusalLog(IkeDropCause cause, string detail) => RefusalLog(cause.ToString(), detail);

    /// <summary>The same for any kind of refusal named by <paramref name="kind"/> (a drop cause, a RefusalKind).</summary>
    public IkeRefusalLog? RefusalLog(string kind, string detail)
    {
        var now = _time.GetTimestamp();
        if (_logs.TryGetValue(kind, out var last) && _time.GetElapsedTime(last.LoggedAt, now) < Settings.RefusalLogInterval)
        {
            _logs[kind] = last with { Suppressed = last.Suppressed + 1 };
            return null;
        }
        _logs[kind] = (now, 0);
        return new IkeRefusalLog(kind, detail, last.Suppressed);
    }
}

/// <summary>A snapshot of <see cref="IkeAdmission"/>'s counters.</summary>
public sealed record IkeAdmissionCounters(IReadOnlyList<long> Drops, long Admitted, long CookiesAccepted, int HalfOpen)
{
    public long this[IkeDropCause cause] => Drops[(int)cause];

    public override string ToString() =>
        $"half-open {HalfOpen} admitted {Admitted} cookies-accepted {CookiesAccepted} " +
        string.Join(" ", Enum.GetValues<IkeDropCause>().Select(c => $"{c}={this[c]}"));
}
