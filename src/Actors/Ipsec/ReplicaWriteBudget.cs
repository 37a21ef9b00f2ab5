namespace ClusterActors.Actors.Ipsec;

/// <summary>
/// How many bytes of Distributed Data entries a unit may write now, so that what Akka's replicator sends to one member
/// in one <c>DeltaPropagation</c> fits one remote frame (src/Actors/Ipsec/README.md, "Distributed Data at scale").
/// <para>
/// The replicator sends each member, every few of its 200 ms delta ticks, one message holding every delta written since
/// the last one it sent that member, with no size limit; over <c>maximum-frame-size</c> (128,000 bytes) remoting drops
/// it, and every later delta of those keys is skipped until full-state gossip repairs them. Measured before this budget
/// (`sa-sync --processes --tunnels 5000 --failover`): the owner dropped 90 such messages while dialing (up to 653 KB),
/// the new primary one of 6.6 MB with its 5,199 claims.
/// </para>
/// <para>
/// A token bucket: at most <see cref="Burst"/> bytes at once, refilled at <see cref="Burst"/> per propagation window
/// (the ticks between two propagations to one member, <see cref="DeltaRounds"/>, plus a tick of slack), so that the
/// writes of any one window stay under <see cref="WindowBytes"/>. One budget per unit (every phase1 shares the
/// replicator). A write larger than the burst goes when the bucket is full, into debt, rather than never.
/// </para>
/// </summary>
public sealed class ReplicaWriteBudget(TimeProvider time)
{
    /// <summary>Akka's delta tick: max(gossip-interval / 5, 200 ms), with gossip-interval 2 s.</summary>
    public static readonly TimeSpan DeltaTick = TimeSpan.FromMilliseconds(200);

    /// <summary>What one propagation window's deltas may weigh, by <see cref="EntryBytes"/>: under the 128,000-byte frame
    /// with room for the message's own envelope (keys, sequence numbers, pruning state, the actor selection).</summary>
    public const int WindowBytes = 100_000;

    /// <summary>Half of a window's bytes may go at once; the other half is what the window refills.</summary>
    public const int Burst = WindowBytes / 2;

    private readonly object _lock = new();
    private double _tokens = Burst;
    private long _at = time.GetTimestamp();

    /// <summary>
    /// How many delta ticks apart the replicator sends to one member, with <paramref name="otherMembers"/> others:
    /// each tick it sends to a slice of min(max(n/5 + 1, 2), n, 10) of them, round robin (Akka's DeltaPropagationSelector).
    /// </summary>
    public static int DeltaRounds(int otherMembers)
    {
        if (otherMembers <= 1) return 1;
        var slice = Math.Min(Math.Max(otherMembers / 5 + 1, 2), Math.Min(otherMembers, 10));
        return (otherMembers + slice - 1) / slice;
    }

    /// <summary>The time over which <see cref="Burst"/> bytes refill: the window between two propagations to one member, and a tick.</summary>
    public static TimeSpan Window(int otherMembers) => DeltaTick * (DeltaRounds(otherMembers) + 1);

    /// <summary>
    /// An upper bound of one entry's weight in a delta: the signed entry (payload, certificate, signature, serial,
    /// manifest) and what the replicator adds per entry (the dictionary key, the register's timestamp and writer's
    /// unique address, the set's dot), measured in DistributedDataSizingSpec.
    /// </summary>
    public static int EntryBytes(string recordKey, ClusterActors.Protocol.Ipsec.SignedTunnelRecord entry) =>
        PerEntryOverhead + 2 * recordKey.Length + entry.Payload.Length + entry.SignerCertificate.Length + entry.Signature.Length
        + 2 * (entry.SignerSerial.Length + entry.PayloadManifest.Length);

    /// <summary>The replicator's bytes per entry of a delta besides the entry's own fields (see <see cref="EntryBytes"/>).</summary>
    public const int PerEntryOverhead = 320;

    /// <summary>Whether <paramref name="bytes"/> may be written now (and are then taken); else how long until they may.</summary>
    public bool TryTake(int bytes, int otherMembers, out TimeSpan retryAfter)
    {
        var rate = Burst / Window(otherMembers).TotalSeconds; // bytes per second
        lock (_lock)
        {
            var now = time.GetTimestamp();
            _tokens = Math.Min(Burst, _tokens + time.GetElapsedTime(_at, now).TotalSeconds * rate);
            _at = now;
            var needed = Math.Min(bytes, Burst);
            if (_tokens >= needed)
            {
                _tokens -= bytes;
                retryAfter = TimeSpan.Zero;
                return true;
            }
            retryAfter = TimeSpan.FromSeconds((needed - _tokens) / rate) + TimeSpan.FromMilliseconds(1);
            return false;
        }
    }
}

/// <summary>The one <see cref="ReplicaWriteBudget"/> of an ActorSystem (a unit), shared by its phase1 actors.</summary>
public sealed class ReplicaWriteBudgets : Akka.Actor.ExtensionIdProvider<ReplicaWriteBudgets.Holder>
{
    public sealed class Holder(ReplicaWriteBudget budget) : Akka.Actor.IExtension
    {
        public ReplicaWriteBudget Budget => budget;
    }

    private static readonly ReplicaWriteBudgets Id = new();

    public override Holder CreateExtension(Akka.Actor.ExtendedActorSystem system) => new(new ReplicaWriteBudget(TimeProvider.System));

    public static ReplicaWriteBudget Of(Akka.Actor.ActorSystem system) => Id.Apply(system).Budget;
}
