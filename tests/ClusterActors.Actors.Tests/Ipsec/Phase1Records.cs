using Akka.Actor;
using ClusterActors.Actors.Ipsec;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>What a phase1 actor of one tunnel holds, asked as its CLI and the host ask it.</summary>
internal static class Phase1Records
{
    /// <summary>The phase1's one record once <paramref name="until"/> holds of it (at most 5 s); fails naming what it holds.</summary>
    internal static async Task<TunnelRecord> Held(IActorRef phase1, Func<TunnelRecord, bool> until)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (true)
        {
            var records = await phase1.Ask<TunnelRecords>(GetTunnelRecords.Instance, TimeSpan.FromSeconds(3));
            if (records.Records.SingleOrDefault() is { } r && until(r)) return r;
            if (DateTime.UtcNow > deadline)
                throw new Xunit.Sdk.XunitException($"no such record: {string.Join(", ", records.Records.Select(x => $"{x.OwnerSerial} g{x.Generation}/s{x.SyncSeq}"))}");
            await Task.Delay(50);
        }
    }

    /// <summary>The role the phase1's one tunnel lists (`diagnose vpn tunnel list`).</summary>
    internal static async Task<TunnelRole> Role(IActorRef phase1) =>
        Assert.Single((await phase1.Ask<TunnelList>(GetTunnelList.Instance, TimeSpan.FromSeconds(3))).Tunnels).Role;
}
