using System.Net;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// "FortiGate IPsec Client 1" of the scenario: the IKEv2 initiator that dials in to the gateway's local-gw.
/// The exchange function carries one datagram to the gateway and returns its answers, so the same client runs
/// in one process (straight to a unit's phase1) and, later, over real UDP.
/// </summary>
public sealed class DialupClient(IkeInitiatorSettings settings, IPAddress gateway)
{
    /// <summary>The scenario's client: PSK, peer ID Nokia_Peer, aes128-sha1 with DH group 2, PC1's subnet 10.10.1.0/24.</summary>
    // phase2 as CLIENT1.conf leaves it: FortiOS's default pfs enable, dhgrp 14 5.
    public static IkeInitiatorSettings ScenarioSettings(string psk) => new(psk, "Nokia_Peer", ["aes128-sha1"], [2],
        [TrafficSelector.FromCidr("10.10.1.0/24")], [TrafficSelector.Any]) { ChildDhGroups = [14, 5] };

    public IPAddress Gateway { get; } = gateway;
    public IkeSaEstablished? Established { get; private set; }

    /// <summary>The IKE SA's initiator once dialed: DPD, rekey and delete go through it.</summary>
    public IkeInitiator? Initiator { get; private set; }

    public async Task<IkeSaEstablished> DialAsync(Func<byte[], Task<IReadOnlyList<byte[]>>> exchange, CancellationToken cancel = default)
    {
        var initiator = Initiator = new IkeInitiator(settings, Gateway);
        var request = initiator.Start();
        for (var round = 0; round < 8; round++)
        {
            cancel.ThrowIfCancellationRequested();
            var answers = await exchange(request);
            if (answers.Count == 0) throw new DialFailedException("the gateway did not answer");
            var output = initiator.Handle(answers[0]);
            foreach (var e in output.Events)
            {
                if (e is IkeSaEstablished est) return Established = est;
                if (e is IkeRefused refused) throw new DialFailedException($"refused: {refused.Reason} ({refused.Kind})");
            }
            if (output.Replies.Count == 0) throw new DialFailedException("the exchange stopped without a tunnel");
            request = output.Replies[0];
        }
        throw new DialFailedException("no tunnel after 8 exchanges");
    }
}

public sealed class DialFailedException(string message) : Exception(message);
