using System.Net;
using ClusterActors.Protocol.Ike;

namespace ClusterActors.Protocol.Esp;

/// <summary>One ESP SA as its packets travel: from <see cref="Source"/> to <see cref="Destination"/> under <see cref="Keys"/>.</summary>
public sealed record EspSaOnWire(IPAddress Source, IPAddress Destination, EspSaKeys Keys);

/// <summary>
/// The tshark command that decrypts a capture's ESP: `-o esp.enable_encryption_decode:TRUE`,
/// `-o esp.enable_authentication_check:TRUE` (so every packet says whether its ICV is good) and one `uat:esp_sa` entry
/// per SA, in the 8-field layout of Wireshark 4.0 (Debian 12's tshark): protocol, source, destination, SPI, encryption
/// algorithm, key, authentication algorithm, key. The algorithm names are Wireshark's own labels. ESP in UDP 4500
/// decodes with the same entries. Pure; a suite Wireshark 4.0 cannot decrypt (chacha20poly1305) is refused with a
/// reason, never thrown.
/// </summary>
public static class WiresharkEspSa
{
    /// <summary>One `uat:esp_sa` record (without the `uat:esp_sa:` prefix), or null and why not.</summary>
    public static string? UatRecord(EspSaOnWire sa, out string? error)
    {
        if (sa?.Keys is null || sa.Source is null || sa.Destination is null) { error = "no SA"; return null; }
        var suite = sa.Keys.Suite;
        string? encryption = suite.EncrId switch
        {
            TransformIds.EncrAesCbc => "AES-CBC [RFC3602]",
            TransformIds.EncrAesGcm16 => "AES-GCM with 16 octet ICV [RFC4106]",
            _ => null,
        };
        string? authentication = suite.IsAead ? "NULL" : suite.IntegId switch
        {
            TransformIds.AuthHmacSha1_96 => "HMAC-SHA-1-96 [RFC2404]",
            TransformIds.AuthHmacSha2_256_128 => "HMAC-SHA-256-128 [RFC4868]",
            TransformIds.AuthHmacSha2_384_192 => "HMAC-SHA-384-192 [RFC4868]",
            TransformIds.AuthHmacSha2_512_256 => "HMAC-SHA-512-256 [RFC4868]",
            _ => null,
        };
        if (encryption is null || authentication is null)
        {
            error = $"Wireshark 4.0 cannot decrypt ESP under {suite.Name}";
            return null;
        }
        if (sa.Source.AddressFamily != sa.Destination.AddressFamily) { error = "source and destination are of different address families"; return null; }
        error = null;
        var family = sa.Source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";
        var authKey = suite.IsAead ? "" : "0x" + Convert.ToHexString(sa.Keys.AuthKey).ToLowerInvariant();
        return $"\"{family}\",\"{sa.Source}\",\"{sa.Destination}\",\"0x{sa.Keys.Spi:x8}\",\"{encryption}\"," +
               $"\"0x{Convert.ToHexString(sa.Keys.EncKey).ToLowerInvariant()}\",\"{authentication}\",\"{authKey}\"";
    }

    /// <summary>tshark's arguments after `-r FILE` that decrypt every SA given; null and the first reason when one cannot be.</summary>
    public static IReadOnlyList<string>? Options(IEnumerable<EspSaOnWire> sas, out string? error)
    {
        error = null;
        var options = new List<string> { "-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE" };
        foreach (var sa in sas ?? [])
        {
            if (UatRecord(sa, out error) is not { } record) return null;
            options.Add("-o");
            options.Add("uat:esp_sa:" + record);
        }
        return options;
    }

    /// <summary>The whole command, quoted for a POSIX shell, to paste from a report.</summary>
    public static string? Command(string pcapFile, IEnumerable<EspSaOnWire> sas, out string? error)
    {
        if (Options(sas, out error) is not { } options) return null;
        return "tshark -r " + Quote(pcapFile ?? "") + " " + string.Join(" ", options.Select(o => o == "-o" ? o : Quote(o)));
    }

    private static string Quote(string word) => "'" + word.Replace("'", "'\\''") + "'";
}
