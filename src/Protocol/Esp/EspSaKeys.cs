using ClusterActors.Protocol.Ike;

namespace ClusterActors.Protocol.Esp;

/// <summary>
/// Keys of one ESP SA as `diagnose vpn tunnel list` prints them, e.g. for `proposal aes128-sha1`:
/// `dec:`/`enc: spi=… esp=aes key=16 … ah=sha1 key=20 …`. <see cref="Suite"/> is the phase2 keyword's algorithms
/// (aes128-sha1 unless given); for an AEAD the encryption key ends with the 4-octet salt and there is no auth key.
/// </summary>
/// <remarks>
/// Equality compares key bytes, not array references: two units holding a synced copy of one SA
/// must compare equal. ToString never prints key material (log lines end up in test output).
/// </remarks>
public sealed record EspSaKeys
{
    public const int EncKeyLength = 16;
    public const int AuthKeyLength = 20;

    public EspSaKeys(uint Spi, byte[] EncKey, byte[] AuthKey, IkeSuite? Suite = null)
    {
        ArgumentNullException.ThrowIfNull(EncKey);
        ArgumentNullException.ThrowIfNull(AuthKey);
        this.Suite = Suite ?? IkeSuite.Aes128Sha1;
        // The keys come from our own key derivation; a wrong length is a caller bug, not a packet to drop.
        if (EncKey.Length != this.Suite.EncrKeyBytes)
            throw new ArgumentException($"{this.Suite.Name} needs a {this.Suite.EncrKeyBytes}-byte encryption key, got {EncKey.Length}.", nameof(EncKey));
        if (AuthKey.Length != this.Suite.IntegKeyLength)
            throw new ArgumentException($"{this.Suite.Name} needs a {this.Suite.IntegKeyLength}-byte auth key, got {AuthKey.Length}.", nameof(AuthKey));
        // SPI 0 is reserved (RFC 4303 §2.1) and, under UDP encapsulation, is the non-ESP marker (RFC 3948 §2.2).
        if (Spi == 0)
            throw new ArgumentOutOfRangeException(nameof(Spi), "SPI 0 is reserved.");
        this.Spi = Spi;
        // Copies so a caller reusing its buffer cannot change a live SA.
        this.EncKey = (byte[])EncKey.Clone();
        this.AuthKey = (byte[])AuthKey.Clone();
    }

    public uint Spi { get; }
    /// <summary>The phase2 proposal keyword's ESP algorithms.</summary>
    public IkeSuite Suite { get; }
    public byte[] EncKey { get; }
    public byte[] AuthKey { get; }

    /// <summary>Builds keys from the hex strings `diagnose vpn tunnel list` prints (spi=37f426a1, key=16 3671c9…).</summary>
    public static EspSaKeys FromHex(string spiHex, string encKeyHex, string authKeyHex) =>
        new(Convert.ToUInt32(spiHex, 16), Convert.FromHexString(encKeyHex), Convert.FromHexString(authKeyHex));

    public bool Equals(EspSaKeys? other) =>
        other is not null
        && Spi == other.Spi
        && Suite.Name == other.Suite.Name
        && EncKey.AsSpan().SequenceEqual(other.EncKey)
        && AuthKey.AsSpan().SequenceEqual(other.AuthKey);

    public override int GetHashCode() => Spi.GetHashCode();

    public override string ToString() => $"EspSaKeys {{ Spi = {Spi:x8}, {Suite.Name} }}";
}
