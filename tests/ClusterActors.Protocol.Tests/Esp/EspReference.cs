using System.Security.Cryptography;

namespace ClusterActors.Protocol.Tests.Esp;

/// <summary>
/// An ESP sealer written separately from EspCodec, straight from the RFC 4303 layout, with the classic
/// ICryptoTransform and HMACSHA1 instance APIs (EspCodec uses the one-shot ones): if both agree byte for byte,
/// neither is wrong in a way the other shares by construction.
/// </summary>
internal static class EspReference
{
    // The seed's VM1 inbound SA (`dec: spi=37f426a1 esp=aes key=16 … ah=sha1 key=20 …`).
    public const uint SeedSpi = 0x37f426a1;
    public static readonly byte[] SeedEncKey = Convert.FromHexString("3671c9303b6295fc73b11765811bdf96");
    public static readonly byte[] SeedAuthKey = Convert.FromHexString("41b98cb541dc9c76311ddec4b23584ee35d31915");
    public static readonly byte[] FixedIv = Convert.FromHexString("000102030405060708090a0b0c0d0e0f");

    /// <summary>payload | 1,2,…,n | n | nh with the smallest n making whole 16-byte blocks.</summary>
    public static byte[] Trailered(byte[] payload, byte nextHeader)
    {
        int pad = 0;
        while ((payload.Length + pad + 2) % 16 != 0)
            pad++;
        var plain = new List<byte>(payload);
        for (int i = 1; i <= pad; i++)
            plain.Add((byte)i);
        plain.Add((byte)pad);
        plain.Add(nextHeader);
        return plain.ToArray();
    }

    public static byte[] Seal(uint spi, uint seq, byte[] encKey, byte[] authKey, byte[] iv, byte[] payload, byte nextHeader = 4) =>
        SealPlaintext(spi, seq, encKey, authKey, iv, Trailered(payload, nextHeader));

    /// <summary>Encrypts an already trailered plaintext (so tests can forge bad padding under a valid ICV).</summary>
    public static byte[] SealPlaintext(uint spi, uint seq, byte[] encKey, byte[] authKey, byte[] iv, byte[] plaintext)
    {
        byte[] ciphertext;
        using (var aes = Aes.Create())
        {
            aes.Mode = CipherMode.CBC;
            aes.Padding = PaddingMode.None;
            aes.Key = encKey;
            aes.IV = iv;
            using var encryptor = aes.CreateEncryptor();
            ciphertext = encryptor.TransformFinalBlock(plaintext, 0, plaintext.Length);
        }
        var authenticated = new List<byte>
        {
            (byte)(spi >> 24), (byte)(spi >> 16), (byte)(spi >> 8), (byte)spi,
            (byte)(seq >> 24), (byte)(seq >> 16), (byte)(seq >> 8), (byte)seq,
        };
        authenticated.AddRange(iv);
        authenticated.AddRange(ciphertext);
        return [.. authenticated, .. Icv(authKey, authenticated.ToArray())];
    }

    public static byte[] Icv(byte[] authKey, byte[] data)
    {
        using var hmac = new HMACSHA1(authKey);
        return hmac.ComputeHash(data).Take(12).ToArray();
    }

    /// <summary>An 84-byte echo request 10.10.1.2 -> 10.10.101.2 as bytes (content only matters as opaque payload here).</summary>
    public static byte[] SeedEchoRequest()
    {
        var packet = new byte[84];
        byte[] header = Convert.FromHexString("4500005400014000400100000a0a01020a0a6502");
        header.CopyTo(packet, 0);
        packet[20] = 8;
        for (int i = 28; i < 84; i++)
            packet[i] = (byte)i;
        return packet;
    }
}
