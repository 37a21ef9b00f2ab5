using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using ClusterActors.Protocol.Esp;

namespace ClusterActors.Protocol.Ike;

/// <summary>FortiOS phase1 <c>set nattraversal enable|disable|forced</c>.</summary>
public enum NatTraversal
{
    /// <summary>No NAT_DETECTION_* notifies are sent and received ones are ignored (RFC 7296 §2.23: unsupported status notifies are ignored).</summary>
    Disable,
    /// <summary>NAT detection in IKE_SA_INIT; IKE floats to UDP 4500 and ESP is UDP-encapsulated only if a NAT is found.</summary>
    Enable,
    /// <summary>
    /// As if a NAT were found: our NAT_DETECTION_SOURCE_IP is deliberately wrong (the peer then sees us "behind a NAT")
    /// and we ourselves record <see cref="NatTStatus.Forced"/>. Needs a peer that speaks NAT-T.
    /// </summary>
    Forced,
}

/// <summary>
/// What NAT detection found for one IKE SA, from this side's point of view. <see cref="None"/> means no NAT-T: IKE
/// stays where it started and ESP is IP protocol 50. Any other value means NAT-T is in use: IKE on UDP 4500 with the
/// non-ESP marker and ESP in UDP (RFC 3948).
/// </summary>
[Flags]
public enum NatTStatus : byte
{
    None = 0,
    /// <summary>The peer's NAT_DETECTION_SOURCE_IP did not match the packet's source: the peer is behind a NAT (or faked it).</summary>
    PeerBehindNat = 1,
    /// <summary>The peer's NAT_DETECTION_DESTINATION_IP did not match the packet's destination: we are behind a NAT.</summary>
    LocalBehindNat = 2,
    Both = PeerBehindNat | LocalBehindNat,
    /// <summary>This side runs <c>nattraversal forced</c> and the peer speaks NAT-T.</summary>
    Forced = 4,
}

public static class NatTStatusExtensions
{
    /// <summary>Every value of the flags that can occur.</summary>
    public const NatTStatus All = NatTStatus.Both | NatTStatus.Forced;

    public static bool IsActive(this NatTStatus s) => s != NatTStatus.None;

    /// <summary>FortiOS <c>natt: mode=</c>: <c>keepalive</c> whenever NAT-T is in use, <c>none</c> otherwise.</summary>
    public static string FortiOsMode(this NatTStatus s) => s.IsActive() ? "keepalive" : "none";

    /// <summary>How the peer sees the same SA when neither side forced: who is behind the NAT swaps over.</summary>
    public static NatTStatus AsSeenByPeer(this NatTStatus s) =>
        (s.HasFlag(NatTStatus.PeerBehindNat) ? NatTStatus.LocalBehindNat : 0) | (s.HasFlag(NatTStatus.LocalBehindNat) ? NatTStatus.PeerBehindNat : 0);
}

/// <summary>
/// NAT_DETECTION_SOURCE_IP / _DESTINATION_IP (RFC 7296 §2.23): SHA-1(SPIi | SPIr | IP | port) of the address and port
/// the packet was sent from / to, with the SPIs as they stand in the header (SPIr zero in the IKE_SA_INIT request).
/// </summary>
public static class NatDetection
{
    public static byte[] Hash(ulong spiI, ulong spiR, IPAddress address, ushort port)
    {
        var ip = address.GetAddressBytes();
        var data = new byte[16 + ip.Length + 2];
        BinaryPrimitives.WriteUInt64BigEndian(data, spiI);
        BinaryPrimitives.WriteUInt64BigEndian(data.AsSpan(8), spiR);
        ip.CopyTo(data, 16);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(16 + ip.Length), port);
        return SHA1.HashData(data);
    }

    public static byte[] Hash(ulong spiI, ulong spiR, IPEndPoint endpoint) => Hash(spiI, spiR, endpoint.Address, (ushort)endpoint.Port);

    public static NotifyPayload Source(ulong spiI, ulong spiR, IPAddress address, ushort port) =>
        new(NotifyType.NatDetectionSourceIp, Hash(spiI, spiR, address, port));

    public static NotifyPayload Destination(ulong spiI, ulong spiR, IPAddress address, ushort port) =>
        new(NotifyType.NatDetectionDestinationIp, Hash(spiI, spiR, address, port));

    /// <summary>
    /// The source hash <c>nattraversal forced</c> sends: computed over 0.0.0.0 port 0 instead of our real address, so
    /// it never matches what the peer sees and the peer concludes we are behind a NAT. Deterministic (no randomness
    /// drawn), unlike implementations that send random bytes; the effect on the peer is the same.
    /// </summary>
    public static NotifyPayload ForcedSource(ulong spiI, ulong spiR) =>
        new(NotifyType.NatDetectionSourceIp, Hash(spiI, spiR, IPAddress.Any, 0));

    /// <summary>Maps the FortiOS word (<c>enable</c>, <c>disable</c>, <c>forced</c>) to <see cref="NatTraversal"/>, by
    /// ConfigWords' one table (the config model already holds the enum; this is for callers that have a word).</summary>
    public static NatTraversal ParseMode(string word) =>
        Config.ConfigWords.TryParse<NatTraversal>(word, out var mode)
            ? mode
            : throw new ArgumentException($"nattraversal '{word}' is not enable, disable or forced", nameof(word));

    /// <summary>
    /// The two notifies this side adds to its IKE_SA_INIT message, or none with <see cref="NatTraversal.Disable"/>.
    /// <paramref name="from"/> is where we send from (as we believe), <paramref name="to"/> where we send to.
    /// </summary>
    public static IReadOnlyList<NotifyPayload> Notifies(NatTraversal mode, ulong spiI, ulong spiR, IPEndPoint from, IPEndPoint to) => mode switch
    {
        NatTraversal.Disable => [],
        NatTraversal.Forced => [ForcedSource(spiI, spiR), new(NotifyType.NatDetectionDestinationIp, Hash(spiI, spiR, to))],
        _ => [new(NotifyType.NatDetectionSourceIp, Hash(spiI, spiR, from)), new(NotifyType.NatDetectionDestinationIp, Hash(spiI, spiR, to))],
    };

    /// <summary>
    /// Checks a received IKE_SA_INIT message's NAT_DETECTION_* notifies against the addresses of the packet that carried
    /// it. Null when the peer sent neither kind or only one (it does not speak NAT-T); otherwise which side is behind a
    /// NAT. Any of several source hashes may match (§2.23 allows one per possible attachment).
    /// </summary>
    public static NatTStatus? Detect(IkeMessage message, ulong spiI, ulong spiR, IPEndPoint packetSource, IPEndPoint packetDestination)
    {
        var sources = message.Notifies.Where(n => n.NotifyType == NotifyType.NatDetectionSourceIp).ToList();
        var destinations = message.Notifies.Where(n => n.NotifyType == NotifyType.NatDetectionDestinationIp).ToList();
        if (sources.Count == 0 || destinations.Count == 0) return null;
        var status = NatTStatus.None;
        var source = Hash(spiI, spiR, packetSource);
        if (!sources.Any(n => CryptographicOperations.FixedTimeEquals(n.Data, source))) status |= NatTStatus.PeerBehindNat;
        var destination = Hash(spiI, spiR, packetDestination);
        if (!destinations.Any(n => CryptographicOperations.FixedTimeEquals(n.Data, destination))) status |= NatTStatus.LocalBehindNat;
        return status;
    }
}

/// <summary>
/// IKE's two UDP ports and the framing that goes with them (RFC 7296 §2.23, RFC 3948 §2.2): on port 500 an IKE message
/// is the whole UDP payload; on port 4500, where ESP and NAT keepalives share the socket, it follows the 4-byte
/// non-ESP marker. Which one applies depends on the local socket's port, so both helpers take it.
/// </summary>
public static class IkeUdp
{
    public const int IkePort = 500;
    public const int NatTPort = UdpEncap.NatTPort;

    public static bool IsFramed(int localPort) => localPort == NatTPort;

    /// <summary>The UDP payload to send from <paramref name="localPort"/>: the marker is added on 4500.</summary>
    public static byte[] Frame(byte[] ikeMessage, int localPort) => IsFramed(localPort) ? UdpEncap.FrameIke(ikeMessage) : ikeMessage;

    /// <summary>
    /// The IKE message in a UDP payload received on <paramref name="localPort"/>. On 4500 only a payload with the
    /// non-ESP marker is IKE; ESP, NAT keepalives and runts are refused with the reason.
    /// </summary>
    public static bool TryUnframe(byte[] udpPayload, int localPort, out byte[] ikeMessage, out string why)
    {
        why = "";
        ikeMessage = udpPayload;
        if (!IsFramed(localPort)) return true;
        if (UdpEncap.TryUnframeIke(udpPayload, out var inner))
        {
            ikeMessage = inner;
            return true;
        }
        why = UdpEncap.Classify(udpPayload) switch
        {
            UdpEncapKind.NatKeepalive => "NAT-T keepalive on UDP 4500 (RFC 3948 §2.3): nothing to answer",
            UdpEncapKind.Esp => "UDP 4500 payload without the non-ESP marker is ESP, not IKE",
            _ => $"UDP 4500 payload of {udpPayload.Length} bytes is neither IKE nor ESP",
        };
        return false;
    }
}
