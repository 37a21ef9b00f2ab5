using ClusterActors.Node.LabHarness.Fabric;

namespace ClusterActors.Node.Tests.LabHarness.Fabric;

/// <summary>
/// The probe state machine as a table, in the style of Akka's SplitBrainResolverSpec: a script of synthetic probe
/// results in, the liveness after each step out. No timer; each step is one probe interval (100 ms on the clock).
/// <list type="bullet">
/// <item><c>a</c> a probe is due and is answered before the next one</item>
/// <item><c>x</c> a probe is due and gets no answer</item>
/// <item><c>l</c> a late answer to the probe before the newest arrives (no probe due)</item>
/// <item><c>c</c> the router's leg loses carrier</item>
/// </list>
/// Expected: one letter per step, <c>U</c> alive, <c>D</c> dead.
/// </summary>
public class NextHopHealthSpec
{
    public sealed record Script(string Name, int MissesToDead, string Steps, string Expected, bool InitiallyAlive = true);

    private static readonly Script[] Table =
    [
        new("answered probes keep it alive", 3, "aaaaa", "UUUUU"),
        new("the third consecutive miss takes it down (counted when the next probe is due)", 3, "axxxx", "UUUUD"),
        new("two misses are not enough", 3, "axxa", "UUUU"),
        new("misses that are not consecutive never add up", 3, "axxaxxaxx", "UUUUUUUUU"),
        new("the first answer restores it", 3, "axxxxa", "UUUUDU"),
        new("dead stays dead while probes go unanswered", 3, "axxxxxxx", "UUUUDDDD"),
        new("one miss configured: the first miss takes it down", 1, "axx", "UUD"),
        new("five misses configured", 5, "axxxxxx", "UUUUUUD"),
        new("never answered from the start: down after the threshold", 3, "xxxx", "UUUD"),
        new("carrier loss takes it down at once", 3, "ac", "UD"),
        new("after carrier loss an answer restores it", 3, "aca", "UDU"),
        new("a late answer to an earlier probe still proves it alive", 3, "axxxxl", "UUUUDU"),
        new("a late answer resets the miss count", 3, "axxxlxx", "UUUUUUU"),
        new("initially dead: down until the first answer", 3, "xxa", "DDU", InitiallyAlive: false),
    ];

    public static TheoryData<string> Names() => new(Table.Select(s => s.Name));

    [Theory]
    [MemberData(nameof(Names))]
    public void Liveness_follows_the_probe_results(string name)
    {
        var script = Table.Single(s => s.Name == name);
        var health = new NextHopHealth(script.MissesToDead, script.InitiallyAlive);
        var actual = new List<char>();
        var changes = new List<HealthChange>();
        var now = TimeSpan.Zero;
        bool alive = health.Alive;

        foreach (var step in script.Steps)
        {
            now += TimeSpan.FromMilliseconds(100);
            var change = step switch
            {
                'a' => Answered(health, now),
                'x' => health.ProbeDue(now),
                'l' => health.Answered((ushort)(health.Sequence - 1), now),
                'c' => health.CarrierLost(now),
                _ => throw new ArgumentException($"unknown step {step}"),
            };
            // Every reported change is a real flip, and every flip is reported.
            Assert.Equal(health.Alive != alive, change != HealthChange.None);
            if (change != HealthChange.None)
                Assert.Equal(health.Alive ? HealthChange.WentUp : HealthChange.WentDown, change);
            alive = health.Alive;
            changes.Add(change);
            actual.Add(health.Alive ? 'U' : 'D');
        }

        Assert.Equal(script.Expected, new string(actual.ToArray()));
    }

    private static HealthChange Answered(NextHopHealth health, TimeSpan now)
    {
        var due = health.ProbeDue(now);
        var answered = health.Answered(health.Sequence, now + TimeSpan.FromMilliseconds(1));
        return answered != HealthChange.None ? answered : due;
    }

    [Fact]
    public void Counters_and_down_since_record_what_happened()
    {
        var health = new NextHopHealth(3);
        var t = TimeSpan.Zero;
        HealthChange Tick(bool answer)
        {
            t += TimeSpan.FromMilliseconds(100);
            var c = health.ProbeDue(t);
            if (answer)
                c = health.Answered(health.Sequence, t);
            return c;
        }

        Tick(answer: true);
        Tick(answer: false);
        Tick(answer: false);
        Tick(answer: false);
        Assert.Equal(HealthChange.WentDown, Tick(answer: false));

        Assert.False(health.Alive);
        Assert.Equal(5, health.ProbesSent);
        Assert.Equal(1, health.ProbesAnswered);
        Assert.Equal(3, health.ProbesMissed);
        Assert.Equal(3, health.ConsecutiveMissed);
        Assert.Equal(TimeSpan.FromMilliseconds(500), health.DownSince);
        Assert.True(health.Outstanding);

        Assert.Equal(HealthChange.WentUp, Tick(answer: true));
        Assert.Null(health.DownSince);
        Assert.Equal(0, health.ConsecutiveMissed);
        Assert.Equal(TimeSpan.FromMilliseconds(600), health.LastChange);
    }

    [Fact]
    public void Replies_that_are_duplicates_too_old_or_before_any_probe_change_nothing()
    {
        var fresh = new NextHopHealth(1, initiallyAlive: false);
        Assert.Equal(HealthChange.None, fresh.Answered(0, TimeSpan.Zero)); // nothing sent yet

        var health = new NextHopHealth(1);
        for (int i = 0; i < 20; i++)
            health.ProbeDue(TimeSpan.FromMilliseconds(100 * i));
        Assert.False(health.Alive);

        Assert.Equal(HealthChange.None, health.Answered((ushort)(health.Sequence - NextHopHealth.AcceptedReplyWindow), TimeSpan.FromSeconds(3)));
        Assert.False(health.Alive);
        Assert.Equal(HealthChange.None, health.Answered((ushort)(health.Sequence + 1), TimeSpan.FromSeconds(3))); // never sent
        Assert.False(health.Alive);

        Assert.Equal(HealthChange.WentUp, health.Answered(health.Sequence, TimeSpan.FromSeconds(3)));
        long answered = health.ProbesAnswered;
        Assert.Equal(HealthChange.None, health.Answered(health.Sequence, TimeSpan.FromSeconds(3))); // duplicate
        Assert.Equal(answered, health.ProbesAnswered);
    }

    [Fact]
    public void Sequence_numbers_wrap_without_losing_replies()
    {
        var health = new NextHopHealth(3);
        for (int i = 0; i < 70_000; i++)
        {
            health.ProbeDue(TimeSpan.Zero);
            health.Answered(health.Sequence, TimeSpan.Zero);
        }
        Assert.True(health.Alive);
        Assert.Equal(70_000, health.ProbesAnswered);
        Assert.Equal(0, health.ProbesMissed);
    }

    [Fact]
    public void At_least_one_miss_is_required()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NextHopHealth(0));
    }
}
