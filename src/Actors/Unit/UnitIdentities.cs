using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Actor.Setup;

namespace ClusterActors.Actors.Unit;

/// <summary>A unit as its lab certificate names it: CN = unit name, serialNumber = FortiGate serial.</summary>
public sealed record UnitIdentity(string Name, string Serial);

/// <summary>
/// Which unit sits behind each Akka address, learned only from TLS handshakes (never from a message's content): an
/// outbound connection binds the address we dialled to the certificate its server proved; an inbound connection binds
/// the origin address its Akka handshake claimed to the certificate its client proved (src/Node/Hosting/README.md,
/// "Secured Akka"). The actors ask it who sent a message (<see cref="SerialOf"/>) and where a unit is
/// (<see cref="AddressOf"/>). An address claimed by two different certificates is poisoned: nothing from it is trusted.
/// </summary>
public sealed class UnitIdentities
{
    private readonly ConcurrentDictionary<string, UnitIdentity> _byAddress = new();
    private readonly ConcurrentDictionary<string, string> _addressBySerial = new();
    private readonly ConcurrentDictionary<string, byte> _poisoned = new();
    private readonly ConcurrentDictionary<string, UnitIdentity> _sockets = new();
    private readonly ConcurrentDictionary<string, byte> _dialable = new();

    /// <summary>
    /// Addresses this unit may open a connection to: its configured contacts and every address a lab certificate was
    /// proved on. Akka.Remote 1.5.73 runs CoordinatedShutdown (the whole unit stops) when an *outbound* TLS handshake
    /// fails, so dialling an address a message named (a forged FGCP heartbeat's actor path) must not happen at all.
    /// </summary>
    public void AllowDial(string hostPort) => _dialable[hostPort] = 0;

    public bool MayDial(Address address) => !Enforcing || _dialable.ContainsKey(KeyOf(address));

    /// <summary>
    /// False only when the unit runs with <c>--insecure-akka</c> (no TLS, no identities): then every sender is taken at
    /// its word, as before this existed. Never false in the lab, the specs or the docker lab.
    /// </summary>
    public bool Enforcing { get; }

    public UnitIdentities(bool enforcing) => Enforcing = enforcing;

    /// <summary>This unit's lab certificate and key, which sign its Distributed Data entries of SA sync; null with
    /// <c>--insecure-akka</c> (entries are then written unsigned).</summary>
    public Protocol.Ipsec.TunnelRecordSigner? RecordSigner { get; init; }

    /// <summary>The lab CA the signers of replicated entries must chain to (the CA Akka's TLS trusts); null with
    /// <c>--insecure-akka</c>. Enforcing without it, no replicated entry is accepted (fails closed).</summary>
    public Protocol.Ipsec.LabCertificateTrust? LabTrust { get; init; }

    /// <summary>Sync input this unit dropped because its sender may not send it (<see cref="SyncAuthorization"/>).</summary>
    public SyncRefusals Refusals { get; } = new(TimeProvider.System);

    /// <summary>host:port, the part of an Akka address TLS authenticates (the scheme changes with adapters).</summary>
    public static string KeyOf(Address address) => $"{address.Host}:{address.Port}";

    /// <summary>Binds <paramref name="address"/> to the unit its certificate proved; false (and poisoned) when another unit already holds it.</summary>
    public bool Bind(string hostPort, UnitIdentity unit)
    {
        var held = _byAddress.GetOrAdd(hostPort, unit);
        if (held == unit)
        {
            _addressBySerial[unit.Serial] = hostPort;
            _dialable[hostPort] = 0;
            return true;
        }
        _poisoned[hostPort] = 0;
        return false;
    }

    public bool Bind(Address address, UnitIdentity unit) => Bind(KeyOf(address), unit);

    /// <summary>The TLS server side saw this client socket (ip:port) prove a certificate; its Akka handshake comes next.</summary>
    public void SocketAuthenticated(string socket, UnitIdentity unit) => _sockets[socket] = unit;

    /// <summary>The certificate proved on that client socket, once (the socket's first Akka handshake consumes it).</summary>
    public UnitIdentity? TakeSocket(string socket) => _sockets.TryRemove(socket, out var unit) ? unit : null;

    /// <summary>The unit at that address, or null when unknown or poisoned.</summary>
    public UnitIdentity? At(Address? address)
    {
        if (address is null || !address.HasGlobalScope) return null;
        var key = KeyOf(address);
        return _poisoned.ContainsKey(key) ? null : _byAddress.GetValueOrDefault(key);
    }

    /// <summary>The authenticated serial of whoever sent from <paramref name="address"/>; null when not authenticated.</summary>
    public string? SerialOf(Address? address) => At(address)?.Serial;

    /// <summary>The Akka address (host:port) the unit with that serial authenticated on; for FGCP's config sync, which
    /// must not send where a heartbeat says.</summary>
    public string? AddressOf(string serial) =>
        _addressBySerial.TryGetValue(serial, out var key) && !_poisoned.ContainsKey(key) ? key : null;

    public IReadOnlyDictionary<string, UnitIdentity> Snapshot => _byAddress.Where(kv => !_poisoned.ContainsKey(kv.Key)).ToDictionary();

    /// <summary>This system's registry: the one its host put in the <see cref="UnitIdentitiesSetup"/>, or a non-enforcing one.</summary>
    public static UnitIdentities Of(ActorSystem system) =>
        system.Settings.Setup.Get<UnitIdentitiesSetup>() is { HasValue: true } s ? s.Value.Identities : NotEnforcing;

    private static readonly UnitIdentities NotEnforcing = new(false);

    /// <summary>
    /// The serial a message from <paramref name="sender"/> is attributed to: the authenticated one when enforcing, else
    /// <paramref name="claimed"/> (only with --insecure-akka, or inside this unit's own system).
    /// </summary>
    /// <remarks>
    /// Enforcing, a message without a remote sender is attributed to nobody: a remote system can send with no sender
    /// (it then arrives from this system's dead letters), so "local" cannot be told from "anonymous". Sync messages
    /// are only ever sent by a remote unit's actor, so nothing legitimate is lost.
    /// </remarks>
    public string? Attribute(IActorRef? sender, string? claimed) =>
        !Enforcing ? claimed : sender is null ? null : SerialOf(sender.Path.Address);

    /// <summary>Whoever sent from <paramref name="address"/>, as an authenticated serial. Not for Distributed Data
    /// entries: their writer is the lab unit that signed them (<see cref="Ipsec.SignedReplicas"/>).</summary>
    public string? Attribute(Address? address, string? claimed) => !Enforcing ? claimed : SerialOf(address);

}

/// <summary>Carries the host's <see cref="UnitIdentities"/> into the ActorSystem (Akka's ActorSystemSetup).</summary>
public sealed class UnitIdentitiesSetup(UnitIdentities identities) : Setup
{
    public UnitIdentities Identities { get; } = identities;
}
