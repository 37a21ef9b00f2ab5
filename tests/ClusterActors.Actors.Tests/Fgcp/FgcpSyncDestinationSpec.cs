using Akka.Actor;
using Akka.Cluster;
using ClusterActors.Actors.Fgcp;

namespace ClusterActors.Actors.Tests.Fgcp;

/// <summary>
/// Where FGCP config sync goes: the one Akka cluster member, up and reachable, whose role names the secondary's serial;
/// no member, a member that is down or unreachable, or a serial claimed twice: nowhere. No heartbeat takes part.
/// </summary>
public sealed class FgcpSyncDestinationSpec
{
    private const string Vm2 = "FGVM02TM22000002";
    private static readonly Address A1 = new("akka.tcp", "fortigate", "127.0.0.1", 25101);
    private static readonly Address A2 = new("akka.tcp", "fortigate", "127.0.0.1", 25102);
    private static readonly Address Other = new("akka.tcp", "fortigate", "127.0.0.1", 25999);

    private static FgcpSyncCandidate Member(Address a, string serial, MemberStatus status = MemberStatus.Up, bool reachable = true) =>
        new(a, [FgcpConfigSync.SerialRole(serial)], status, reachable);

    [Fact]
    public void The_member_whose_role_names_the_serial_is_the_destination()
    {
        var (address, _) = FgcpConfigSync.Destination(Vm2, [Member(A1, "FGVM02TM22000001"), Member(A2, Vm2)]);
        Assert.Equal(A2, address);
        Assert.Equal(A2, FgcpConfigSync.Destination(Vm2, [Member(A2, Vm2, MemberStatus.WeaklyUp)]).Address);
    }

    [Theory]
    [InlineData("none", "no Akka cluster member has the role serial:FGVM02TM22000002")]
    [InlineData("down", "is not up and reachable")]
    [InlineData("unreachable", "is not up and reachable")]
    [InlineData("twice", "2 Akka members claim the role serial:FGVM02TM22000002")]
    public void Without_exactly_one_usable_member_config_goes_nowhere(string membership, string why)
    {
        FgcpSyncCandidate[] members = membership switch
        {
            "none" => [Member(A1, "FGVM02TM22000001"), new(Other, ["dc"], MemberStatus.Up, true)],
            "down" => [Member(A2, Vm2, MemberStatus.Down)],
            "unreachable" => [Member(A2, Vm2, reachable: false)],
            _ => [Member(A2, Vm2), Member(Other, Vm2)],
        };
        var (address, reason) = FgcpConfigSync.Destination(Vm2, members);
        Assert.Null(address);
        Assert.Contains(why, reason);
    }
}
