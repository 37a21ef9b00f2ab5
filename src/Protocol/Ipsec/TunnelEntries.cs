using ClusterActors.Protocol.Serialization;

namespace ClusterActors.Protocol.Ipsec;

/// <summary>
/// A returning FGCP primary's question to the other units of its FGCP cluster (src/Actors/Ipsec/README.md, "A returning
/// unit"; FortiOS documents nothing, our choice): the unit with <paramref name="Serial"/> restarted, became primary before
/// it is an Akka member again, and asks for the SA sync entries its previous incarnation signed, which Distributed Data
/// would bring it only after its rejoin (seconds: chaos seed 1 run 44). Answered with <see cref="TunnelEntries"/> at the
/// address the asker's lab certificate was proved on, never at the sender's, and only to a unit of the answerer's own
/// FGCP cluster. It carries nothing secret.
/// </summary>
public sealed record TunnelEntriesWanted(string Serial) : IWireMessage;

/// <summary>One Distributed Data entry of SA sync as the dictionary holds it: its key and the signed entry.</summary>
public sealed record TunnelEntry(string Key, SignedTunnelRecord Entry);

/// <summary>
/// The answer to <see cref="TunnelEntriesWanted"/>: entries of the dictionary of <paramref name="Manifest"/> payloads
/// (a clear or a sealed record) that name the asker as their signer, at most a few dozen a message (Akka's frame size),
/// or none (nothing to give). The asker checks each as it checks gossip: its signature, then the sync rules.
/// </summary>
public sealed record TunnelEntries(string FromSerial, string Manifest, IReadOnlyList<TunnelEntry> Entries) : IWireMessage
{
    /// <summary>Entries per message: a signed entry is ~1.5 KB, Akka's default frame 128 KB.</summary>
    public const int MaxPerMessage = 32;
}
