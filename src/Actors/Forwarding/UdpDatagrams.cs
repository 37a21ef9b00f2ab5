using System.Buffers.Binary;
using ClusterActors.Protocol.Esp;

namespace ClusterActors.Actors.Forwarding;

/// <summary>A plain UDP datagram (header + payload) for IKE on port 500; checksum 0 as IPv4 allows.</summary>
public static class UdpDatagrams
{
    public static byte[] Build(ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> payload)
    {
        var bytes = new byte[UdpEncap.UdpHeaderLength + payload.Length];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(2), destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4), (ushort)bytes.Length);
        payload.CopyTo(bytes.AsSpan(UdpEncap.UdpHeaderLength));
        return bytes;
    }
}
