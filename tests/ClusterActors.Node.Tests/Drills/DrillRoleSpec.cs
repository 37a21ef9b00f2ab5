using System.Text.Json;
using ClusterActors.Node.Drills;
using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>
/// Issue 12, "Drills by role": the catalog names roles (the tunnel's owner, its FGCP peer, another FGSP member, the
/// owner's uplink, a member with fgsp-sync disabled), resolved from the topology, purely. The seed resolves to the
/// document's cast, the fgsp-standalone lab to the guide's, a hand-written three-member lab to its own; a drill whose role
/// a lab lacks is not applicable there, not failed.
/// </summary>
public sealed class DrillRoleSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("clusteractors-drill-roles-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    internal static string ThreeMembers => Path.Combine(AppContext.BaseDirectory, "Drills", "three-members", "topology.yml");

    private static IReadOnlyList<string> Applicable(DrillCast cast) =>
        DrillCatalog.Drills.Where(d => d.NotApplicable(cast) is null).Select(d => d.Name).ToList();

    [Fact]
    public void The_seed_resolves_to_the_documents_cast_and_its_five_drills_bind_to_the_units_they_named()
    {
        var cast = DrillCast.Resolve(Scenarios.Topology("seed"));
        Assert.Equal(("DC2_VM1", "DC2_VM2", "DC2_VM3", (string?)null), (cast.Owner, cast.OwnerPeer, cast.OtherMember, cast.NoSyncMember));
        Assert.Equal(["DC2_VM1", "DC2_VM3"], cast.Primaries);
        Assert.Equal(DrillCatalog.Preferred, cast.Primaries);
        Assert.Equal(["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"], cast.Holders);
        Assert.Equal("port2", cast.Uplink("DC2_VM2"));
        Assert.Equal(["fgcp-failover", "fgsp-failover", "fgcp-failback", "heartbeat-cut", "full-scenario", "forced-failover"], Applicable(cast));
        Assert.Contains("DC2_VM1 has an FGCP peer DC2_VM2", DrillCatalog.FgspOwnerKilledRoles.NotApplicable(cast));
        Assert.Contains("fgsp-sync disable", DrillCatalog.FgspSyncDisabledRoles.NotApplicable(cast));

        // The units the catalog named before it named roles.
        var fgsp = DrillCatalog.FgspFailoverRoles.Bind(cast);
        Assert.Equal(("kill DC2_VM1", "DC2_VM2"), (fgsp.Setup.Single().Fault.Short, fgsp.Setup.Single().OwnerAfter));
        Assert.Equal(("DC2_VM2 port2 down", "DC2_VM3"), (fgsp.Phases.Single().Fault.Short, fgsp.Phases.Single().ExpectedOwner));
        Assert.Equal([new("DC2_VM1", "down", "down"), new("DC2_VM2", "Primary", "standby"), new("DC2_VM3", "Primary", "sync-primary"),
            new ExpectedRoles("DC2_VM4", "Secondary", "standby")], fgsp.ExpectedAfter);
        var cut = DrillCatalog.HeartbeatCutRoles.Bind(cast);
        Assert.Equal(["heartbeat cut at DC2_VM2", "heartbeat healed at DC2_VM2"], cut.Phases.Select(p => p.Fault.Short));
        Assert.Equal(["DC2_VM1", "DC2_VM2"], cut.Phases[0].Detection.Units);
        Assert.Contains(fgsp.Cast, e => e is { Role: "other FGSP member", Unit: "DC2_VM3" });
        var forced = DrillCatalog.ForcedFailoverRoles.Bind(cast);
        Assert.Equal(("DC2_VM1: execute ha failover set 1", DetectionKind.BecomesPrimary, "DC2_VM2"),
            (forced.Phases.Single().Fault.Short, forced.Phases.Single().Detection.Kind, forced.Phases.Single().ExpectedOwner));
        Assert.Equal([new("DC2_VM1", "Secondary", "standby"), new("DC2_VM2", "Primary", "sync-primary"), new("DC2_VM3", "Primary", "standby"),
            new ExpectedRoles("DC2_VM4", "Secondary", "standby")], forced.ExpectedAfter);
    }

    [Fact]
    public void The_guides_four_standalone_peers_resolve_to_a_standalone_owner_its_router_runner_up_and_DC1_VM4_without_sync()
    {
        var cast = DrillCast.Resolve(Scenarios.Topology("fgsp-standalone"));
        Assert.Equal(("DC1_VM1", (string?)null, "DC1_VM3", "DC1_VM4"), (cast.Owner, cast.OwnerPeer, cast.OtherMember, cast.NoSyncMember));
        Assert.Equal(["DC1_VM1", "DC1_VM2", "DC1_VM3", "DC1_VM4"], cast.Primaries);
        Assert.Equal(["DC1_VM1", "DC1_VM2", "DC1_VM3"], cast.Holders);
        Assert.Equal(["fgsp-owner-killed", "fgsp-sync-disabled"], Applicable(cast));
        Assert.Equal("the owner DC1_VM1 has no FGCP peer (it is a standalone unit)", DrillCatalog.FgcpFailoverRoles.NotApplicable(cast));
        Assert.Equal("the owner DC1_VM1 has no FGCP peer (it is a standalone unit)", DrillCatalog.ForcedFailoverRoles.NotApplicable(cast));
        var killed = DrillCatalog.FgspOwnerKilledRoles.Bind(cast);
        Assert.Equal(("kill DC1_VM1", DetectionKind.RouterWithdraws, "DC1_VM3"),
            (killed.Phases.Single().Fault.Short, killed.Phases.Single().Detection.Kind, killed.Phases.Single().ExpectedOwner));
        Assert.Equal([new("DC1_VM1", "down", "down"), new("DC1_VM2", "Primary", "standby"), new("DC1_VM3", "Primary", "sync-primary"),
            new ExpectedRoles("DC1_VM4", "Primary", "none")], killed.ExpectedAfter);
        Assert.Equal(["DC1_VM4"], DrillCatalog.FgspSyncDisabledRoles.Bind(cast).NeverHold);
    }

    [Fact]
    public void A_hand_written_lab_of_an_FGCP_pair_and_two_standalone_units_resolves_its_roles_from_its_own_file()
    {
        var cast = DrillCast.Resolve(Scenarios.Topology(ThreeMembers));
        Assert.Equal(("EDGE_1", (string?)null, "HQ_FW1", "EDGE_2"), (cast.Owner, cast.OwnerPeer, cast.OtherMember, cast.NoSyncMember));
        Assert.Equal(["HQ_FW1", "EDGE_1", "EDGE_2"], cast.Primaries);
        Assert.Equal(["HQ_FW1", "HQ_FW2", "EDGE_1"], cast.Holders);
        Assert.Equal(["fgsp-owner-killed", "fgsp-sync-disabled"], Applicable(cast));
    }

    /// <summary>A drill the lab has no role for is reported as not applicable, starts no lab, and does not fail the invocation.</summary>
    [Fact]
    public async Task A_drill_whose_role_the_lab_lacks_is_not_applicable_and_starts_no_lab()
    {
        var stdout = new StringWriter { NewLine = "\n" };
        var exit = await DrillCommand.RunAsync(new DrillCommand.Request(["fgsp-standalone", "fgcp-failover"], Out: _dir), stdout, TextWriter.Null,
            CancellationToken.None, (_, _) => throw new InvalidOperationException("no lab for a drill that does not apply"));
        Assert.Equal(DrillCommand.Passed, exit);
        Assert.Contains("== fgcp-failover: not applicable to fgsp-standalone: the owner DC1_VM1 has no FGCP peer (it is a standalone unit)\n",
            stdout.ToString());
        var folder = Assert.Single(Directory.GetDirectories(_dir));
        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, DrillCommand.SummaryJson)));
        var na = Assert.Single(json.RootElement.GetProperty("not_applicable").EnumerateArray());
        Assert.Equal("fgcp-failover", na.GetProperty("drill").GetString());
        Assert.Empty(json.RootElement.GetProperty("runs").EnumerateArray());
        Assert.Contains("## Not applicable to this lab", await File.ReadAllTextAsync(Path.Combine(folder, DrillCommand.SummaryMarkdown)));
    }
}
