using ClusterActors.Protocol.Serialization;

namespace ClusterActors.Protocol.Ipsec;

/// <summary>
/// The hand-off of a traffic claim (src/Actors/Ipsec/README.md, "The hand-off of a traffic claim"; FortiOS documents
/// nothing, our choice): the unit that owned tunnel <paramref name="Key"/> tells the unit whose claim took it over
/// (generation <paramref name="Generation"/>) that it encrypts nothing more on it. The claimer holds its replies until
/// then, so none of the old owner's frames reaches the client after the new owner's first, which the client's window
/// would refuse as too old. Sent to the claimer at the address its lab certificate was proved on; accepted only from
/// the unit whose certificate proves <paramref name="FromSerial"/>. It carries no key: a forged one can at most end a
/// hold early.
/// </summary>
public sealed record TunnelReleased(string Key, long Generation, string FromSerial) : IWireMessage;
