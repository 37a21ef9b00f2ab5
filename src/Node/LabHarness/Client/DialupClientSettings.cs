using System.Net;
using ClusterActors.Actors.DataPlane;
using ClusterActors.Protocol.Esp;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;

namespace ClusterActors.Node.LabHarness.Client;

/// <summary>
/// "FortiGate IPsec Client 1" as seed/CLIENT1.conf describes it: port1 (WAN) 192.168.7.2/24 with 192.168.7.1 as
/// next hop for everything else, port2 (LAN) 10.10.1.1/24, phase1 to_dc2 towards remote-gw 192.168.202.35.
/// </summary>
/// <param name="Ike">phase1/phase2 as the IKE initiator needs them (PSK, localid, proposals, selectors).</param>
public sealed record DialupClientSettings(IkeInitiatorSettings Ike)
{
    public string WanInterface { get; init; } = "port1";
    public InterfaceAddress WanAddress { get; init; } = InterfaceAddress.Parse("192.168.7.2/24");
    /// <summary>The default route's next hop: every destination not on a connected subnet goes there.</summary>
    public IPAddress WanNextHop { get; init; } = IPAddress.Parse("192.168.7.1");
    public string LanInterface { get; init; } = "port2";
    public InterfaceAddress LanAddress { get; init; } = InterfaceAddress.Parse("10.10.1.1/24");
    /// <summary>phase1 remote-gw: the gateways' shared local-gw (lb1).</summary>
    public IPAddress RemoteGateway { get; init; } = IPAddress.Parse("192.168.202.35");

    /// <summary>
    /// RFC 3948 from the first packet on, whatever NAT detection says: IKE on UDP 4500 behind the non-ESP marker
    /// (RFC 7296 §2.23 allows an initiator to start there) and ESP inside UDP 4500. Off: IKE starts on 500 and ESP
    /// is IP protocol 50 (the seed's `nattraversal disable`) — unless <c>Ike.NatTraversal</c> is Enable and a NAT is
    /// found, or Forced, in which case IKE floats to 4500 after IKE_SA_INIT and ESP goes in UDP all the same.
    /// Inbound, bare and UDP-encapsulated ESP are both accepted whatever this says.
    /// </summary>
    public bool UdpEncapsulation { get; init; }

    /// <summary>
    /// phase1 <c>keepalive</c>: while ESP goes in UDP, a one-byte NAT keepalive (RFC 3948 §2.3) this often so a NAT
    /// keeps the mapping. FortiOS default 10 s; zero or less sends none.
    /// </summary>
    public TimeSpan NatKeepaliveInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>phase2 replay window (`replaywin=2048` in the seed's tunnel list).</summary>
    public int ReplayWindowSize { get; init; } = ReplayWindow.DefaultSize;

    /// <summary>Wait before the first retransmission of an unanswered IKE request; doubled after each one.</summary>
    public TimeSpan IkeRetransmitInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How many times one IKE request is sent in all (first send included) before the exchange fails.</summary>
    public int IkeMaxTransmissions { get; init; } = 5;

    /// <summary>
    /// How many negotiations one dial may start: after an IKE_AUTH unanswered through all its transmissions, the dial
    /// starts again from IKE_SA_INIT with a new IKE SA (strongSwan's ipsec.conf `keyingtries`, 3 by default; a FortiOS
    /// client with auto-negotiate keeps trying). An unanswered IKE_SA_INIT still fails the dial: nobody is there.
    /// </summary>
    public int IkeNegotiations { get; init; } = 3;

    /// <summary>
    /// As FortiOS does for a static phase1 without auto-negotiate: traffic from the LAN that finds no tunnel starts
    /// the dial (and is dropped, counted as <see cref="ClientDataPlaneCounters.LanNoTunnel"/>). Off by default so a
    /// test or drill decides when the tunnel comes up.
    /// </summary>
    public bool DialOnTraffic { get; init; }

    /// <summary>Clock for the IKE retransmission timer.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>IKE randomness (SPIs, nonces, DH); null is the system RNG. Tests pass a seeded one.</summary>
    public IIkeRandom? Random { get; init; }

    /// <summary>The scenario's client: PSK, peer ID Nokia_Peer, aes128-sha1 with DH group 2, PC1's subnet 10.10.1.0/24 to anywhere.</summary>
    // phase2 as CLIENT1.conf leaves it: FortiOS's default pfs enable, dhgrp 14 5.
    public static DialupClientSettings Scenario(string psk) => new(new IkeInitiatorSettings(psk, "Nokia_Peer", ["aes128-sha1"], [2],
        [TrafficSelector.FromCidr("10.10.1.0/24")], [TrafficSelector.Any]) { ChildDhGroups = [14, 5] });
}

/// <summary>Where the client's tunnel is.</summary>
public enum ClientTunnelState
{
    /// <summary>Never dialed.</summary>
    Idle,
    /// <summary>IKE_SA_INIT or IKE_AUTH outstanding.</summary>
    Dialing,
    /// <summary>IKE SA and CHILD SA established: LAN traffic in the selector is encrypted.</summary>
    Up,
    /// <summary>The last dial failed (no answer, refused, cancelled): see <see cref="DialupClientGateway.LastError"/>.</summary>
    Failed,
    /// <summary>Was up; the gateway deleted the SA or stopped answering DPD.</summary>
    Down,
}

/// <summary>A dial that produced no tunnel, with the reason in plain words.</summary>
public sealed class ClientDialFailedException(string message) : Exception(message);
