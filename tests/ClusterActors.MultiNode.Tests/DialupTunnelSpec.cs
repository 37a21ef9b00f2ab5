using System.Text.RegularExpressions;
using Akka.Actor;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Fgcp;
using Xunit.Abstractions;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// The scenario's tunnel in one process: four units plus the client. The client dials in to DC2_VM1; every unit
/// lists vpn1_1 with the same SPIs and keys; FGCP failover moves `sync-primary` to DC2_VM2; with cluster 1 gone the
/// tunnel stays held as standby on DC2_VM3 and DC2_VM4 with intact SAs.
/// </summary>
[Collection("multi-node")]
public sealed class DialupTunnelSpec(ITestOutputHelper output) : IAsyncLifetime
{
    // DC2_VM1 and DC2_VM3 are their clusters' primaries (the shipped priority 200); the client dials in to DC2_VM1 as in the scenario.
    private const string Timers = "config system ha\nset hb-lost-threshold 6\nset hello-holddown 5\nend";
    private readonly LoopbackLab _lab = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _lab.DisposeAsync();

    /// <summary>Cluster 1 alone: DC2_VM1 FGCP primary (the shipped priority 200) and both units Up in one Akka cluster.</summary>
    private async Task StartCluster1()
    {
        _lab.Define([("DC2_VM1", LoopbackLab.ScenarioConfig("DC2_VM1", Timers)), ("DC2_VM2", LoopbackLab.ScenarioConfig("DC2_VM2", Timers))]);
        await _lab.Start("DC2_VM1");
        await _lab.Start("DC2_VM2");
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && _lab.AkkaMembersUp("DC2_VM2") == 2,
            TimeSpan.FromSeconds(20), "cluster formed");
    }

    private static (string Role, string Dec, string Enc, string Seqno, string DecKey, string EncKey) Parse(string list)
    {
        string Field(string pattern) => Regex.Match(list, pattern).Groups[1].Value;
        return (Field(@"role=(\S+)"), Field(@"dec: spi=(\w+)"), Field(@"enc: spi=(\w+)"), Field(@"seqno=(\w+) esn"),
            Field(@"dec: spi=\w+ esp=aes key=16 (\w+)"), Field(@"enc: spi=\w+ esp=aes key=16 (\w+)"));
    }

    [Fact]
    public async Task The_scenario_tunnel_is_held_by_every_unit_and_follows_failover()
    {
        string[] units = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];
        _lab.Define(units.Select(u => (u, LoopbackLab.ScenarioConfig(u, Timers))).ToList());
        foreach (var u in units) await _lab.Start(u);
        await LoopbackLab.Eventually(async () => await _lab.IsRole("DC2_VM1", HaRole.Primary) && await _lab.IsRole("DC2_VM3", HaRole.Primary)
                                                 && (await _lab.Status("DC2_VM1")).Members.Count == 2,
            TimeSpan.FromSeconds(30), "both FGCP clusters formed, DC2_VM1 primary of cluster 1");
        await LoopbackLab.Eventually(() => Task.FromResult(units.All(u => _lab.AkkaMembersUp(u) == 4)),
            TimeSpan.FromSeconds(30), "one Akka cluster of four");

        var established = await _lab.Dial("DC2_VM1");
        output.WriteLine($"client: inbound spi {established.Child.InboundSpi:x8}, outbound {established.Child.OutboundSpi:x8}");

        await LoopbackLab.Eventually(async () =>
        {
            foreach (var u in units)
                if (!(await _lab.Units[u].CliAsync("diagnose vpn tunnel list")).Output.Contains("name=vpn1_1 ")) return false;
            return true;
        }, TimeSpan.FromSeconds(5), "every unit lists vpn1_1");

        var vm1 = Parse((await _lab.Units["DC2_VM1"].CliAsync("diagnose vpn tunnel list")).Output);
        output.WriteLine((await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output);
        Assert.Equal("sync-primary", vm1.Role);
        Assert.Equal("1", vm1.Seqno);
        // The gateway decrypts with the SPI the client sends to, and encrypts to the client's SPI.
        Assert.Equal(established.Child.OutboundSpi.ToString("x8"), vm1.Dec);
        Assert.Equal(established.Child.InboundSpi.ToString("x8"), vm1.Enc);
        foreach (var u in units.Skip(1))
        {
            var standby = Parse((await _lab.Units[u].CliAsync("diagnose vpn tunnel list")).Output);
            Assert.Equal(("standby", vm1.Dec, vm1.Enc, "10000001", vm1.DecKey, vm1.EncKey), standby);
        }

        // The SA sync to the other FGSP cluster is what the peer line counts as session sync: VM1 sent vpn1_1 to
        // VM3 and VM4, cluster 2's primary (VM3) received it; VM2 (same FGCP cluster as the owner) counts nothing sent.
        var sessions = new System.Text.RegularExpressions.Regex(@"session-type: send=(\d+), recv=(\d+)\n\s+packet-type: send=0, recv=0");
        await LoopbackLab.Eventually(async () =>
        {
            var vm1Peers = sessions.Match((await _lab.Units["DC2_VM1"].CliAsync("diagnose sys ha standalone-peers")).Output);
            var vm3Peers = sessions.Match((await _lab.Units["DC2_VM3"].CliAsync("diagnose sys ha standalone-peers")).Output);
            return vm1Peers.Success && vm3Peers.Success
                   && int.Parse(vm1Peers.Groups[1].Value) >= 2 && int.Parse(vm3Peers.Groups[2].Value) >= 1;
        }, TimeSpan.FromSeconds(5), "session-type counters: VM1 sent to cluster 2's two units, VM3 received");
        var vm2Sessions = sessions.Match((await _lab.Units["DC2_VM2"].CliAsync("diagnose sys ha standalone-peers")).Output);
        Assert.Equal("0", vm2Sessions.Groups[1].Value);

        await _lab.Kill("DC2_VM1");
        await LoopbackLab.Eventually(async () => Parse((await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output).Role == "sync-primary",
            TimeSpan.FromSeconds(5), "DC2_VM2 takes sync-primary after FGCP failover");
        var vm2 = Parse((await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output);
        Assert.Equal((vm1.Dec, vm1.Enc, "10000001"), (vm2.Dec, vm2.Enc, vm2.Seqno));
        Assert.True(await _lab.IsRole("DC2_VM2", HaRole.Primary));

        // A restarted unit gets a full resync of every tunnel from its owner. DC2_VM1 (priority 200) returns within the
        // 300 s uptime margin, so it pre-empts as FGCP primary and the tunnel follows it: one owner, the cluster's primary.
        await _lab.Start("DC2_VM1");
        await LoopbackLab.Eventually(async () =>
        {
            var back = Parse((await _lab.Units["DC2_VM1"].CliAsync("diagnose vpn tunnel list")).Output);
            var vm2Now = Parse((await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output);
            var primary = await _lab.IsRole("DC2_VM1", HaRole.Primary) ? "DC2_VM1" : "DC2_VM2";
            return back.Dec == vm1.Dec && back.DecKey == vm1.DecKey
                   && (primary == "DC2_VM1" ? (back.Role, vm2Now.Role) == ("sync-primary", "standby") : (back.Role, vm2Now.Role) == ("standby", "sync-primary"));
        }, TimeSpan.FromSeconds(20), "the restarted DC2_VM1 holds vpn1_1 again and only cluster 1's FGCP primary owns it");
        await _lab.Kill("DC2_VM1");
        await LoopbackLab.Eventually(async () => Parse((await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output).Role == "sync-primary",
            TimeSpan.FromSeconds(5), "DC2_VM2 owns it again");

        await _lab.Kill("DC2_VM2");
        await Task.Delay(2000);
        foreach (var u in new[] { "DC2_VM3", "DC2_VM4" })
        {
            var held = Parse((await _lab.Units[u].CliAsync("diagnose vpn tunnel list")).Output);
            // Taking it over on DC2_VM3 is traffic-driven (the data plane); until then it stays standby, SAs intact.
            Assert.Equal(("standby", vm1.Dec, vm1.Enc, vm1.DecKey, vm1.EncKey), (held.Role, held.Dec, held.Enc, held.DecKey, held.EncKey));
        }
    }

    [Fact]
    public async Task A_wrong_psk_creates_nothing()
    {
        _lab.Define([("DC2_VM1", LoopbackLab.ScenarioConfig("DC2_VM1", Timers)), ("DC2_VM2", LoopbackLab.ScenarioConfig("DC2_VM2", Timers))]);
        await _lab.Start("DC2_VM1");
        await _lab.Start("DC2_VM2");
        await LoopbackLab.Eventually(() => _lab.IsRole("DC2_VM1", HaRole.Primary), TimeSpan.FromSeconds(15), "cluster formed");
        var wrong = DialupClient.ScenarioSettings("not-the-psk");
        await Assert.ThrowsAsync<DialFailedException>(() => _lab.Dial("DC2_VM1", wrong));
        Assert.DoesNotContain("name=vpn1_", (await _lab.Units["DC2_VM1"].CliAsync("diagnose vpn tunnel list")).Output);
        Assert.DoesNotContain("name=vpn1_", (await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output);
    }

    [Fact]
    public async Task A_rekeyed_CHILD_SA_and_a_deleted_tunnel_reach_the_standby()
    {
        await StartCluster1();
        var client = await _lab.DialClient("DC2_VM1");
        var first = client.Established!.Child;
        await LoopbackLab.Eventually(async () => Parse((await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output).Role == "standby",
            TimeSpan.FromSeconds(5), "standby on DC2_VM2");

        var rekeyed = client.Initiator!.Handle((await _lab.Exchange("DC2_VM1", client.Initiator.RekeyChild()))[0]);
        var fresh = rekeyed.Events.OfType<Protocol.Ike.Exchanges.ChildSaRekeyed>().Single().New;
        Assert.NotEqual(first.InboundSpi, fresh.InboundSpi);
        await LoopbackLab.Eventually(async () =>
        {
            var standby = (await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output;
            return standby.Contains($"dec: spi={fresh.OutboundSpi:x8}") && standby.Contains("serial=2") && standby.Contains("seqno=10000001");
        }, TimeSpan.FromSeconds(5), "the standby holds the new CHILD SA (proxyid serial 2)");

        var deleted = client.Initiator.Handle((await _lab.Exchange("DC2_VM1", client.Initiator.DeleteIkeSa()))[0]);
        output.WriteLine(string.Join("; ", deleted.Events));
        await LoopbackLab.Eventually(async () =>
                !(await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output.Contains("name=vpn1_")
                && !(await _lab.Units["DC2_VM1"].CliAsync("diagnose vpn tunnel list")).Output.Contains("name=vpn1_"),
            TimeSpan.FromSeconds(5), "the deleted tunnel is gone from both units");
    }

    [Fact]
    public async Task Stale_or_undecodable_sync_input_is_never_applied_and_the_unit_keeps_running()
    {
        await StartCluster1();
        await _lab.Dial("DC2_VM1");
        await LoopbackLab.Eventually(async () => Parse((await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output).Role == "standby",
            TimeSpan.FromSeconds(5), "standby on DC2_VM2");
        var before = Parse((await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output);

        // A stale record (generation 0) that would make DC2_VM2 the owner, pushed over remoting as an owner pushes:
        // were it applied, DC2_VM2 would print role=sync-primary.
        var vm1 = _lab.Units["DC2_VM1"];
        var phase1 = vm1.System.ActorSelection($"{_lab.Units["DC2_VM2"].Address}/user/fortigate/phase1-vpn1");
        var record = TunnelRecordOf(vm1);
        phase1.Tell(record with { Generation = 0, SyncSeq = 99, OwnerSerial = "FGVM02TM22000002" });

        // Bytes that do not decode as a tunnel record are refused by the serializer; nothing reaches the unit.
        var serialization = vm1.System.Serialization;
        var bytes = serialization.FindSerializerFor(record).ToBinary(record);
        Assert.Throws<Protocol.Serialization.WireFormatException>(() => serialization.Deserialize(bytes[..(bytes.Length / 2)], ClusterActors.Actors.Serialization.ProtocolSerializer.Id, "ipsec.tunnel.v1"));

        await Task.Delay(500);
        var after = Parse((await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output);
        Assert.Equal(before, after);
        Assert.Equal(0, (await _lab.Units["DC2_VM2"].CliAsync("diagnose sys ha status")).ExitCode);
    }

    private static ClusterActors.Protocol.Ipsec.TunnelRecord TunnelRecordOf(UnitHost host) => Replicas.Single(host);

    [Fact]
    public async Task DPD_on_idle_keeps_an_answering_client_and_flushes_a_dead_one_on_every_unit()
    {
        await StartCluster1();
        // Shortened at run time on the primary, as an engineer would for a test; FGCP syncs it to the secondary.
        var change = await _lab.Units["DC2_VM1"].CliAsync("config vpn ipsec phase1-interface\nedit \"vpn1\"\nset dpd-retryinterval 1\nset dpd-retrycount 2\nnext\nend");
        Assert.Equal(0, change.ExitCode);
        await LoopbackLab.Eventually(async () => (await _lab.Units["DC2_VM2"].CliAsync("show vpn ipsec phase1-interface")).Output.Contains("set dpd-retryinterval 1"),
            TimeSpan.FromSeconds(5), "synced to DC2_VM2");
        await _lab.Dial("DC2_VM1");

        // The client answers: several idle intervals pass and the tunnel stays, its IKE message IDs moving on.
        await Task.Delay(4000);
        Assert.Contains("name=vpn1_1", (await _lab.Units["DC2_VM1"].CliAsync("diagnose vpn tunnel list")).Output);
        Assert.Contains("name=vpn1_1", (await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output);

        _lab.ClientsAnswer = false;
        var took = await LoopbackLab.Eventually(async () =>
                !(await _lab.Units["DC2_VM1"].CliAsync("diagnose vpn tunnel list")).Output.Contains("name=vpn1_")
                && !(await _lab.Units["DC2_VM2"].CliAsync("diagnose vpn tunnel list")).Output.Contains("name=vpn1_"),
            TimeSpan.FromSeconds(8), "a dead client's tunnel is flushed after dpd-retrycount unanswered probes, on both units");
        output.WriteLine($"flushed {took.TotalMilliseconds:0} ms after the client stopped answering");
        Assert.True(took >= TimeSpan.FromSeconds(1.5), "not before the probes had their time");
    }
}
