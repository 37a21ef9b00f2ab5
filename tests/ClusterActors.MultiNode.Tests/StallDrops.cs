using ClusterActors.Actors.Telemetry;
using Akka.Actor;
using ClusterActors.Actors.Forwarding;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Node.Hosting;

namespace ClusterActors.MultiNode.Tests;

/// <summary>
/// A traffic run through a healthy tunnel, judged as the drills judge theirs on a loaded machine (src/Node/Drills/README.md,
/// "A loaded machine"): the loss allowed grows by what the owner's own timers ran late during the run (UnitTimerLag), at
/// the run's rate, and the owner's counted stall drops are printed beside it. CI's trials on two shared cores lost 44 of
/// 200 (a 536 ms gap) and 940 of 3,000 (a 956 ms gap, 340 of them counted "stale after stall" at the owner's
/// forwarding plane) while the test host's thread pool stood still; a run with nothing late still allows only the
/// spec's own few.
/// </summary>
internal sealed class StallDrops : IDisposable
{
    private readonly LoopbackLab _lab;
    private readonly string _unit;
    private readonly UnitTimerLag _lag;

    private StallDrops(LoopbackLab lab, string unit)
    {
        _lab = lab;
        _unit = unit;
        _lag = UnitTimerLag.Watch(lab.Units[unit].System);
    }

    /// <summary>Starts watching <paramref name="unit"/>'s timers: call it just before the run starts.</summary>
    public static StallDrops Watch(LoopbackLab lab, string unit) => new(lab, unit);

    public sealed record Verdict(long Allowed, TimeSpan Late, long Forwarding, long Encrypt, string Unit)
    {
        public override string ToString() =>
            $"{Unit}'s timers ran {Late.TotalMilliseconds:0} ms late, loss allowed {Allowed}; {Forwarding + Encrypt} dropped as stale after a stall "
            + $"({Forwarding} in the forwarding plane, {Encrypt} before encryption)";
    }

    /// <summary>After the run: <paramref name="ownLoss"/> plus <paramref name="ratePps"/> × the lateness, and the owner's
    /// counted stall drops (its phase1 <paramref name="phase1"/> holds one tunnel, the specs' vpn1_1).</summary>
    public async Task<Verdict> Judge(long ownLoss, int ratePps, string phase1 = "vpn1")
    {
        var late = _lag.Late;
        var (forwarding, encrypt) = await Counted(_lab, _unit, phase1);
        return new Verdict(ownLoss + (long)Math.Ceiling(ratePps * late.TotalSeconds), late, forwarding, encrypt, _unit);
    }

    /// <summary>Frames <paramref name="unit"/> dropped as stale after a stall: in its forwarding plane, and before
    /// encryption in its <paramref name="phase1"/> instance (the specs' one tunnel).</summary>
    public static async Task<(long Forwarding, long Encrypt)> Counted(LoopbackLab lab, string unit, string phase1 = "vpn1")
    {
        var forwarding = await lab.Units[unit].Unit.Ask<ForwardingStatus>(GetForwardingStatus.Instance, TimeSpan.FromSeconds(5));
        var drops = await lab.Units[unit].System.ActorSelection($"/user/fortigate/phase1-{phase1}/*")
            .Ask<TunnelDrops>(GetTunnelDrops.Instance, TimeSpan.FromSeconds(5));
        return (forwarding.Drops.GetValueOrDefault("stale after stall"), drops.StaleAfterStall);
    }

    public void Dispose() => _lag.Dispose();
}
