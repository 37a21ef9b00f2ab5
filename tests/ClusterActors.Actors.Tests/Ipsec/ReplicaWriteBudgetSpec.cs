using ClusterActors.Actors.Ipsec;
using Microsoft.Extensions.Time.Testing;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// The unit's budget for Distributed Data writes (src/Actors/Ipsec/README.md, "Distributed Data at scale"): whatever
/// the writes, what lands in one window between two of the replicator's propagations to a member stays under
/// <see cref="ReplicaWriteBudget.WindowBytes"/>, so that the delta it sends fits one frame. Synthetic writes, fake time.
/// </summary>
public sealed class ReplicaWriteBudgetSpec
{
    [Theory]
    // Akka's DeltaPropagationSelector: slice min(max(n/5 + 1, 2), n, 10) members per 200 ms tick, round robin.
    [InlineData(0, 1)]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(3, 2)] // the seed lab: each of the three others every second tick
    [InlineData(7, 4)]
    [InlineData(20, 4)] // slice 5
    [InlineData(100, 10)] // slice 10
    public void A_member_hears_from_the_replicator_every_few_ticks(int others, int rounds) =>
        Assert.Equal(rounds, ReplicaWriteBudget.DeltaRounds(others));

    [Fact]
    public void A_burst_goes_at_once_and_the_rest_waits_for_the_refill()
    {
        var time = new FakeTimeProvider();
        var budget = new ReplicaWriteBudget(time);
        Assert.True(budget.TryTake(30_000, 3, out _));
        Assert.True(budget.TryTake(20_000, 3, out _));
        Assert.False(budget.TryTake(10_000, 3, out var retry));
        // 10,000 of 50,000 bytes per 600 ms window (3 others: 2 rounds and a tick) refill in 120 ms.
        Assert.InRange(retry.TotalMilliseconds, 120, 122);
        time.Advance(retry);
        Assert.True(budget.TryTake(10_000, 3, out _));
    }

    [Fact]
    public void A_write_larger_than_the_burst_goes_once_the_bucket_is_full_not_never()
    {
        var time = new FakeTimeProvider();
        var budget = new ReplicaWriteBudget(time);
        Assert.True(budget.TryTake(5_000, 3, out _));
        Assert.False(budget.TryTake(80_000, 3, out var retry));
        time.Advance(retry);
        Assert.True(budget.TryTake(80_000, 3, out _));
        // ... into debt: nothing more until it is paid back.
        Assert.False(budget.TryTake(1, 3, out retry));
        Assert.True(retry > TimeSpan.FromMilliseconds(350));
    }

    [Theory]
    [InlineData(1, 3)]
    [InlineData(2, 3)]
    [InlineData(3, 7)]
    [InlineData(4, 20)]
    public void No_window_between_two_propagations_to_a_member_carries_more_than_the_frame_budget(int seed, int others)
    {
        // A writer that writes whenever the budget lets it (a takeover's backlog), in shards of random sizes up to the
        // burst, polled at random moments; every window of the replicator's propagation gap (its ticks at any phase) is summed.
        var random = new Random(seed);
        var time = new FakeTimeProvider();
        var budget = new ReplicaWriteBudget(time);
        var writes = new List<(TimeSpan At, int Bytes)>();
        var start = time.GetUtcNow();
        var next = random.Next(500, ReplicaWriteBudget.Burst + 1);
        while (time.GetUtcNow() - start < TimeSpan.FromSeconds(30))
        {
            if (budget.TryTake(next, others, out var retry))
            {
                writes.Add((time.GetUtcNow() - start, next));
                next = random.Next(500, ReplicaWriteBudget.Burst + 1);
            }
            else time.Advance(retry + TimeSpan.FromMilliseconds(random.Next(0, 5)));
            time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 3)));
        }
        var gap = ReplicaWriteBudget.DeltaTick * ReplicaWriteBudget.DeltaRounds(others);
        var worst = writes.Max(w => writes.Where(x => x.At >= w.At && x.At < w.At + gap).Sum(x => (long)x.Bytes));
        var total = writes.Sum(w => (long)w.Bytes);
        Assert.True(worst <= ReplicaWriteBudget.WindowBytes, $"a {gap.TotalMilliseconds} ms window carried {worst:N0} bytes");
        // And the budget is used, not merely refused: at least 80 % of its rate over the run.
        var rate = ReplicaWriteBudget.Burst / ReplicaWriteBudget.Window(others).TotalSeconds;
        Assert.True(total >= 0.8 * rate * 30, $"{total:N0} bytes in 30 s against {rate * 30:N0}");
    }
}
