using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;

namespace ClusterActors.Protocol.Ike;

/// <summary>
/// NAT_DETECTION_SOURCE_IP / _DESTINATION_IP notify data (§2.23): SHA-1(SPIi | SPIr | IP | port). Only the encoding
/// lives here; using it (NAT-T, UDP 4500) belongs to the NAT traversal work.
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

    public static NotifyPayload Source(ulong spiI, ulong spiR, IPAddress address, ushort port) =>
        new(NotifyType.NatDetectionSourceIp, Hash(spiI, spiR, address, port));

    public static NotifyPayload Destination(ulong spiI, ulong spiR, IPAddress address, ushort port) =>
        new(NotifyType.NatDetectionDestinationIp, Hash(spiI, spiR, address, port));
}
