using ClusterActors.Node.Drills;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>The container router's own stamp of a withdrawal, from `docker logs --timestamps dc_router`.</summary>
public sealed class RouterLogSpec
{
    private const string Log = """
        2026-12-06T20:11:04.001203456Z 20:11:04.000 router: 192.168.202.31/32 via 192.168.125.254, 192.168.126.254, each flow from 192.168.7.0/24 placed by rendezvous (seed 0); probes every 100 ms, dead after 3 misses; status in /run/router.status
        2026-12-06T20:11:09.357811200Z 20:11:09.356 router: 5.356 192.168.125.254 dead after 3 missed probes
        2026-12-06T20:11:09.360002000Z 20:11:09.359 router: 1 of 1 flows rewritten for live next hops 192.168.126.254
        2026-12-06T20:11:12.100000000Z 20:11:12.099 router: 8.099 192.168.125.254 answers again
        2026-12-06T20:11:15.500000000Z 20:11:15.498 router: 11.498 192.168.125.254 dead after 3 missed probes
        """;

    private static DateTimeOffset At(string text) => DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void The_first_withdrawal_of_the_hop_since_the_fault_by_the_routers_own_stamp()
    {
        Assert.Equal(At("2026-12-06T20:11:09.356Z"), RouterLog.FirstWithdrawal(Log, "192.168.125.254", At("2026-12-06T20:11:09.000Z")));
        Assert.Equal(At("2026-12-06T20:11:15.498Z"), RouterLog.FirstWithdrawal(Log, "192.168.125.254", At("2026-12-06T20:11:13.000Z")));
        Assert.Null(RouterLog.FirstWithdrawal(Log, "192.168.126.254", At("2026-12-06T20:11:00.000Z")));
        Assert.Null(RouterLog.FirstWithdrawal(Log, "192.168.125.254", At("2026-12-06T20:11:16.000Z")));
    }

    [Fact]
    public void Across_midnight_the_routers_time_of_day_belongs_to_the_day_before_dockers_stamp()
    {
        const string late = "2026-12-07T00:00:00.004000000Z 23:59:59.998 router: 86399.998 192.168.125.254 dead after 3 missed probes\n";
        Assert.Equal(At("2026-12-06T23:59:59.998Z"), RouterLog.FirstWithdrawal(late, "192.168.125.254", At("2026-12-06T23:59:59.000Z")));
    }
}
