using System.Net;
using System.Net.Sockets;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;
using ClusterActors.Protocol.Ike;
using ClusterActors.Protocol.Ike.Exchanges;

namespace ClusterActors.Node.Commands;

/// <summary>
/// `clusteractors client`: the scenario's "FortiGate IPsec Client 1". Reads a FortiOS config with one static IKEv2
/// phase1 (remote-gw, localid, psksecret, proposal, dhgrp) and its phase2 (src-subnet = what it protects), dials
/// in over UDP, prints the SAs in plain text and, with dpd on-idle, checks the gateway every dpd-retryinterval.
/// </summary>
public static class ClientCommand
{
    public sealed record Request(string ConfigFile, IPEndPoint Gateway, bool Once, TimeSpan Timeout);

    public static IkeInitiatorSettings SettingsFrom(ConfigDocument config)
    {
        var p1 = config.Phase1.FirstOrDefault(p => p.Type == Phase1Type.Static)
                 ?? throw new UsageException("the client config has no static phase1-interface to dial with");
        if (p1.IkeVersion != 2) throw new UsageException($"phase1 {p1.Name}: ike-version {p1.IkeVersion}; this client speaks IKEv2 only");
        var p2 = config.Phase2.FirstOrDefault(p => p.Phase1Name == p1.Name)
                 ?? throw new UsageException($"phase1 {p1.Name} has no phase2-interface");
        return new IkeInitiatorSettings(p1.PskSecret?.Clear ?? throw new UsageException($"phase1 {p1.Name}: set psksecret"),
            p1.LocalId ?? throw new UsageException($"phase1 {p1.Name}: set localid (the gateway's peerid)"),
            p1.Proposal, p1.DhGroups,
            [TrafficSelector.FromCidr($"{p2.SrcSubnet}/{p2.SrcPrefixLength}")],
            [TrafficSelector.FromCidr($"{p2.DstSubnet}/{p2.DstPrefixLength}")])
        {
            ChildProposals = p2.Proposal,
            ChildDhGroups = p2.Pfs ? p2.DhGroups : null,
            ChildLifetimeSeconds = p2.KeyLifeSeconds
        };
    }

    public static async Task<int> RunAsync(Request r, TextWriter output, CancellationToken cancel)
    {
        var parsed = FortiConfig.ParseFile(r.ConfigFile);
        if (!parsed.Ok) throw new ConfigInvalidException(parsed.Errors);
        var config = parsed.Value!;
        var settings = SettingsFrom(config);
        var p1 = config.Phase1.First(p => p.Type == Phase1Type.Static);
        using var udp = new UdpClient(r.Gateway.AddressFamily);
        udp.Connect(r.Gateway);

        async Task<IReadOnlyList<byte[]>> Exchange(byte[] request)
        {
            // UDP loses datagrams: retransmit as RFC 7296 §2.1 wants, a few times, before giving up.
            for (var attempt = 0; attempt < 4; attempt++)
            {
                await udp.SendAsync(request, cancel);
                using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                wait.CancelAfter(r.Timeout / 4);
                try
                {
                    var answer = await udp.ReceiveAsync(wait.Token);
                    return [answer.Buffer];
                }
                catch (OperationCanceledException) when (!cancel.IsCancellationRequested) { }
                catch (SocketException e) { throw new DialFailedException($"{r.Gateway}: {e.Message}"); }
            }
            return [];
        }

        // Our DPD, then everything that arrives until its answer: the gateway's own requests (its DPD on idle) are
        // answered on the way, so both sides probing at once never makes either look dead.
        async Task<bool> Probe(IkeInitiator ike)
        {
            // An unanswered probe goes again as it was (same message ID); otherwise a new one.
            await udp.SendAsync(ike.Retransmit() ?? ike.Dpd(), cancel);
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            wait.CancelAfter(r.Timeout);
            try
            {
                while (true)
                {
                    var datagram = await udp.ReceiveAsync(wait.Token);
                    var output = ike.Handle(datagram.Buffer);
                    foreach (var reply in output.Replies) await udp.SendAsync(reply, cancel);
                    if (output.Events.OfType<IkeDpdConfirmed>().Any()) return true;
                }
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                return false;
            }
            catch (SocketException)
            {
                return false;
            }
        }

        var client = new DialupClient(settings, IPAddress.Parse(p1.RemoteGw));
        IkeSaEstablished est;
        try
        {
            est = await client.DialAsync(Exchange, cancel);
        }
        catch (DialFailedException e)
        {
            await output.WriteLineAsync($"{p1.Name}: no tunnel to {p1.RemoteGw} (via {r.Gateway}): {e.Message}");
            return 1;
        }
        await output.WriteLineAsync($"{p1.Name}: IKEv2 SA up with {p1.RemoteGw} (via {r.Gateway}) as {settings.LocalId}: " +
                                    $"ike spi {est.Sa.SpiI:x16}/{est.Sa.SpiR:x16}, {est.Sa.Proposal} dh {est.Sa.DhGroup}");
        await output.WriteLineAsync($"{p1.Name}: CHILD SA {est.Child.Proposal}: in spi {est.Child.InboundSpi:x8}, out spi {est.Child.OutboundSpi:x8}, " +
                                    $"selectors {string.Join(",", est.Ts.Initiator.Select(Describe))} <-> {string.Join(",", est.Ts.Responder.Select(Describe))}");
        if (r.Once) return 0;

        await output.WriteLineAsync($"{p1.Name}: up; dpd {ConfigWords.Word(p1.Dpd)} every {p1.DpdRetryInterval}s; Ctrl+C ends");
        var missed = 0;
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                // No traffic flows yet (the data plane comes next), so an on-idle DPD is due every interval.
                await Task.Delay(TimeSpan.FromSeconds(p1.DpdRetryInterval), cancel);
                if (p1.Dpd == DpdMode.Disable) continue;
                var confirmed = await Probe(client.Initiator!);
                missed = confirmed ? 0 : missed + 1;
                await output.WriteLineAsync(confirmed ? $"{p1.Name}: dpd: {p1.RemoteGw} answered" : $"{p1.Name}: dpd: no answer ({missed}/{p1.DpdRetryCount})");
                if (missed >= p1.DpdRetryCount)
                {
                    await output.WriteLineAsync($"{p1.Name}: {p1.RemoteGw} is dead after {missed} unanswered DPDs; tunnel flushed");
                    return 1;
                }
            }
        }
        catch (OperationCanceledException) { }
        return 0;
    }

    private static string Describe(TrafficSelector s) => $"{s.StartAddress}-{s.EndAddress}";
}
