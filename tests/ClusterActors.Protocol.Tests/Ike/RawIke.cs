using System.Security.Cryptography;

namespace ClusterActors.Protocol.Tests.Ike;

/// <summary>
/// A deliberately separate, offset-by-offset reading of RFC 7296 §3 for the tests, so the codec is checked against
/// the RFC rather than against itself.
/// </summary>
internal static class RawIke
{
    public static ushort U16(byte[] b, int o) => (ushort)(b[o] << 8 | b[o + 1]);
    public static uint U32(byte[] b, int o) => (uint)(b[o] << 24 | b[o + 1] << 16 | b[o + 2] << 8 | b[o + 3]);
    public static ulong U64(byte[] b, int o) => (ulong)U32(b, o) << 32 | U32(b, o + 4);

    public sealed record Raw(byte Type, bool Critical, byte[] Body);

    /// <summary>Follows next-payload fields from <paramref name="first"/>; each payload is 4 header bytes + body.</summary>
    public static List<Raw> Walk(byte[] b, int offset, int end, byte first)
    {
        var list = new List<Raw>();
        var type = first;
        var o = offset;
        while (type != 0)
        {
            var next = b[o];
            var len = U16(b, o + 2);
            list.Add(new Raw(type, (b[o + 1] & 0x80) != 0, b[(o + 4)..(o + len)]));
            o += len;
            if (type == 46) break; // SK: its next-payload names the first inner payload, and it is last
            type = next;
        }
        if (type != 46) Assert.Equal(end, o);
        return list;
    }

    /// <summary>Checks the HMAC-SHA1-96 ICV over the whole message and AES-128-CBC decrypts the SK payload.</summary>
    public static (byte FirstInner, byte[] Plain) DecryptSk(byte[] msg, byte[] encKey, byte[] integKey)
    {
        Assert.Equal(46, msg[16]); // header next payload = SK
        var skLen = U16(msg, 30);
        Assert.Equal(msg.Length - 28, skLen);
        var icv = msg[^12..];
        var expected = HMACSHA1.HashData(integKey, msg[..^12])[..12];
        Assert.Equal(expected, icv);
        var iv = msg[32..48];
        var ct = msg[48..^12];
        Assert.Equal(0, ct.Length % 16);
        using var aes = Aes.Create();
        aes.Key = encKey;
        var padded = aes.DecryptCbc(ct, iv, PaddingMode.None);
        var padLen = padded[^1];
        return (msg[28], padded[..(padded.Length - padLen - 1)]);
    }

    public static byte[] EncryptSk(byte[] header28, byte firstInner, byte[] plain, byte[] encKey, byte[] integKey)
    {
        var padLen = (16 - (plain.Length + 1) % 16) % 16;
        var padded = new byte[plain.Length + padLen + 1];
        plain.CopyTo(padded, 0);
        padded[^1] = (byte)padLen;
        var iv = new byte[16];
        using var aes = Aes.Create();
        aes.Key = encKey;
        var ct = aes.EncryptCbc(padded, iv, PaddingMode.None);
        var skLen = 4 + 16 + ct.Length + 12;
        var msg = new byte[28 + skLen];
        header28.AsSpan(0, 28).CopyTo(msg);
        msg[16] = 46;
        var total = (uint)msg.Length;
        msg[24] = (byte)(total >> 24); msg[25] = (byte)(total >> 16); msg[26] = (byte)(total >> 8); msg[27] = (byte)total;
        msg[28] = firstInner;
        msg[30] = (byte)(skLen >> 8); msg[31] = (byte)skLen;
        iv.CopyTo(msg, 32);
        ct.CopyTo(msg, 48);
        HMACSHA1.HashData(integKey, msg[..^12])[..12].CopyTo(msg, msg.Length - 12);
        return msg;
    }

    /// <summary>prf+ written out the way §2.13 reads, for comparison with the library's.</summary>
    public static byte[] PrfPlusSha1(byte[] key, byte[] seed, int length)
    {
        var output = new List<byte>();
        var t = Array.Empty<byte>();
        for (var i = 1; output.Count < length; i++)
        {
            var input = new List<byte>(t);
            input.AddRange(seed);
            input.Add((byte)i);
            t = HMACSHA1.HashData(key, input.ToArray());
            output.AddRange(t);
        }
        return output.Take(length).ToArray();
    }
}
