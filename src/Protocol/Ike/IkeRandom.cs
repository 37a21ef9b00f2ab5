using System.Security.Cryptography;

namespace ClusterActors.Protocol.Ike;

/// <summary>
/// Every random choice (SPIs, nonces, DH private values, IVs) goes through this, so tests and the emulator can
/// replay a handshake byte for byte.
/// </summary>
public interface IIkeRandom
{
    byte[] Bytes(int n);
}

public sealed class SystemIkeRandom : IIkeRandom
{
    public static readonly SystemIkeRandom Instance = new();
    public byte[] Bytes(int n) => RandomNumberGenerator.GetBytes(n);
}
