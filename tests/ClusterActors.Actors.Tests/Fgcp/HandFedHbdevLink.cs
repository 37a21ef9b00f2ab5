using ClusterActors.Actors.Fgcp;
using ClusterActors.Protocol.Fgcp;

namespace ClusterActors.Actors.Tests.Fgcp;

/// <summary>
/// An hbdev link ("port4") that the spec feeds by hand: what FGCP sends goes nowhere, and <see cref="Heard(FgcpHeartbeat)"/>
/// delivers a heartbeat as it arrives on the wire, a clear datagram (none of the specs using it enables authentication).
/// </summary>
internal sealed class HandFedHbdevLink : IHbdevLink
{
    /// <summary>FGCP's receive callback, set once the actor has started the link.</summary>
    public volatile Action<byte[]>? Datagram;

    public void Heard(FgcpHeartbeat heartbeat) => Datagram!(FgcpHeartbeatEnvelope.Seal(heartbeat, FgcpHeartbeatProtection.None));

    public string Interface => "port4";
    public bool IsUp => true;
    public void SetUp(bool up) { }
    public void Start(Action<byte[]> onDatagram) => Datagram = onDatagram;
    public void Send(byte[] datagram) { }
    public void CountDropped() { }
    public HbdevCounters Counters => new(0, 0, 0, 0, 0);
    public void Dispose() { }
}
