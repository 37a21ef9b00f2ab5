using ClusterActors.Actors.Fgcp;
using Xunit;

namespace ClusterActors.Actors.Tests.Fgcp;

/// <summary>
/// Table-driven spec of the FGCP primary election, in the style of Akka's SplitBrainResolverSpec:
/// synthetic member sets in, expected decision out, no actor system.
/// </summary>
public class FgcpElectionSpec
{
    private const string S1 = "FGVM02TM22000001";
    private const string S2 = "FGVM02TM22000002";
    private const string S3 = "FGVM02TM22000003";

    private static readonly TimeSpan DefaultMargin = TimeSpan.FromSeconds(300);

    private static FgcpCandidate M(string serial, int monitorUp = 0, int uptimeSec = 0, int priority = 128, bool ovr = false, bool failover = false) =>
        new(serial, monitorUp, TimeSpan.FromSeconds(uptimeSec), priority, ovr, failover);

    /// <summary>One row of the election table.</summary>
    public sealed record ElectionCase(
        string Name,
        FgcpCandidate[] Members,
        TimeSpan Margin,
        string Primary,
        ElectionReason Reason,
        string[]? Order = null);

    private static ElectionCase Case(string name, string primary, ElectionReason reason, params FgcpCandidate[] members) =>
        new(name, members, DefaultMargin, primary, reason);

    private static readonly ElectionCase[] Table =
    [
        // ---- single member -------------------------------------------------------------------------
        Case("only member", S1, ElectionReason.OnlyMember, M(S1, uptimeSec: 5)),
        Case("only member, override enabled", S2, ElectionReason.OnlyMember, M(S2, ovr: true)),

        // ---- override disable: each level deciding -------------------------------------------------
        Case("disable: monitor count beats larger uptime and higher priority", S1, ElectionReason.MonitoredInterfaces,
            M(S1, monitorUp: 2, uptimeSec: 0, priority: 100), M(S2, monitorUp: 1, uptimeSec: 10_000, priority: 200)),
        Case("disable: uptime beyond margin beats higher priority", S1, ElectionReason.Uptime,
            M(S1, uptimeSec: 1_000, priority: 100), M(S2, uptimeSec: 0, priority: 200)),
        Case("disable: priority decides when uptime gap within margin", S1, ElectionReason.Priority,
            M(S1, uptimeSec: 100, priority: 200), M(S2, uptimeSec: 300, priority: 100)),
        Case("disable: serial decides when all else equal", S2, ElectionReason.SerialNumber,
            M(S1, monitorUp: 1, uptimeSec: 50), M(S2, monitorUp: 1, uptimeSec: 50)),
        Case("disable: larger uptime within margin is not decisive, serial decides", S2, ElectionReason.SerialNumber,
            M(S1, uptimeSec: 250), M(S2, uptimeSec: 0)),

        // ---- override disable: margin edges (S1 has more uptime, S2 higher priority) -----------------
        Case("disable: diff = margin - 1s -> priority", S2, ElectionReason.Priority,
            M(S1, uptimeSec: 299, priority: 100), M(S2, uptimeSec: 0, priority: 200)),
        Case("disable: diff = margin -> not decisive, priority", S2, ElectionReason.Priority,
            M(S1, uptimeSec: 300, priority: 100), M(S2, uptimeSec: 0, priority: 200)),
        Case("disable: diff = margin + 1s -> uptime", S1, ElectionReason.Uptime,
            M(S1, uptimeSec: 301, priority: 100), M(S2, uptimeSec: 0, priority: 200)),
        new("disable: margin 1s, diff 1s -> priority", [M(S1, uptimeSec: 11, priority: 100), M(S2, uptimeSec: 10, priority: 200)],
            TimeSpan.FromSeconds(1), S2, ElectionReason.Priority),
        new("disable: margin 1s, diff 2s -> uptime", [M(S1, uptimeSec: 12, priority: 100), M(S2, uptimeSec: 10, priority: 200)],
            TimeSpan.FromSeconds(1), S1, ElectionReason.Uptime),
        new("disable: uptime margin compares sub-second gaps exactly",
            [new FgcpCandidate(S1, 0, TimeSpan.FromSeconds(300.5), 100, false), M(S2, uptimeSec: 0, priority: 200)],
            DefaultMargin, S1, ElectionReason.Uptime),

        // ---- override disable: returning unit --------------------------------------------------------
        Case("disable: returning unit (uptime 0, higher priority) does not pre-empt survivor", S1, ElectionReason.Uptime,
            M(S1, uptimeSec: 3_600, priority: 100), M(S2, uptimeSec: 0, priority: 200)),
        Case("disable: returning unit pre-empts when survivor uptime is within margin", S2, ElectionReason.Priority,
            M(S1, uptimeSec: 120, priority: 100), M(S2, uptimeSec: 0, priority: 200)),
        Case("disable: survivor with reset uptime loses to rebooted high-priority unit", S2, ElectionReason.Priority,
            M(S1, uptimeSec: 0, priority: 100), M(S2, uptimeSec: 40, priority: 200)),

        // ---- override enable: each level deciding ---------------------------------------------------
        Case("enable: monitor count beats higher priority and uptime", S1, ElectionReason.MonitoredInterfaces,
            M(S1, monitorUp: 1, uptimeSec: 0, priority: 100, ovr: true), M(S2, monitorUp: 0, uptimeSec: 9_999, priority: 200, ovr: true)),
        Case("enable: priority beats larger uptime", S1, ElectionReason.OverridePriority,
            M(S1, uptimeSec: 0, priority: 200, ovr: true), M(S2, uptimeSec: 10_000, priority: 100, ovr: true)),
        Case("enable: uptime decides when priorities equal", S1, ElectionReason.Uptime,
            M(S1, uptimeSec: 1_000, ovr: true), M(S2, uptimeSec: 0, ovr: true)),
        Case("enable: serial decides when all else equal", S2, ElectionReason.SerialNumber,
            M(S1, monitorUp: 2, uptimeSec: 7, priority: 200, ovr: true), M(S2, monitorUp: 2, uptimeSec: 7, priority: 200, ovr: true)),

        // ---- override enable: margin edges (equal priority; S1 has more uptime, S2 higher serial) -----
        Case("enable: diff = margin - 1s -> serial", S2, ElectionReason.SerialNumber,
            M(S1, uptimeSec: 299, ovr: true), M(S2, uptimeSec: 0, ovr: true)),
        Case("enable: diff = margin -> not decisive, serial", S2, ElectionReason.SerialNumber,
            M(S1, uptimeSec: 300, ovr: true), M(S2, uptimeSec: 0, ovr: true)),
        Case("enable: diff = margin + 1s -> uptime", S1, ElectionReason.Uptime,
            M(S1, uptimeSec: 301, ovr: true), M(S2, uptimeSec: 0, ovr: true)),
        new("enable: margin 1s, diff 1s -> serial", [M(S1, uptimeSec: 11, ovr: true), M(S2, uptimeSec: 10, ovr: true)],
            TimeSpan.FromSeconds(1), S2, ElectionReason.SerialNumber),
        new("enable: margin 1s, diff 2s -> uptime", [M(S1, uptimeSec: 12, ovr: true), M(S2, uptimeSec: 10, ovr: true)],
            TimeSpan.FromSeconds(1), S1, ElectionReason.Uptime),

        // ---- override enable: returning unit ---------------------------------------------------------
        Case("enable: returning higher-priority unit pre-empts survivor", S2, ElectionReason.OverridePriority,
            M(S1, uptimeSec: 3_600, priority: 100, ovr: true), M(S2, uptimeSec: 0, priority: 200, ovr: true)),
        Case("enable: returning lower-priority unit stays secondary", S1, ElectionReason.OverridePriority,
            M(S1, uptimeSec: 3_600, priority: 200, ovr: true), M(S2, uptimeSec: 0, priority: 100, ovr: true)),

        // ---- mixed override: override ordering if ANY member has override enabled ---------------------
        Case("mixed: only returning unit has override -> its priority pre-empts", S2, ElectionReason.OverridePriority,
            M(S1, uptimeSec: 3_600, priority: 100, ovr: false), M(S2, uptimeSec: 0, priority: 200, ovr: true)),
        Case("mixed: only survivor has override -> cluster still uses override order", S2, ElectionReason.OverridePriority,
            M(S1, uptimeSec: 3_600, priority: 100, ovr: true), M(S2, uptimeSec: 0, priority: 200, ovr: false)),
        Case("mixed: equal priority -> uptime after priority", S1, ElectionReason.Uptime,
            M(S1, uptimeSec: 3_600, ovr: false), M(S2, uptimeSec: 0, ovr: true)),
        Case("mixed: control, nobody has override -> survivor keeps primary on uptime", S1, ElectionReason.Uptime,
            M(S1, uptimeSec: 3_600, priority: 100, ovr: false), M(S2, uptimeSec: 0, priority: 200, ovr: false)),
        new("mixed, 3 members: one override member switches the whole cluster to priority first",
            [M(S1, uptimeSec: 3_600, priority: 100), M(S2, uptimeSec: 3_600, priority: 150), M(S3, uptimeSec: 0, priority: 200, ovr: true)],
            DefaultMargin, S3, ElectionReason.OverridePriority, [S3, S2, S1]),

        // ---- execute ha failover set 1 (EXE_FAIL_OVER): outranks every other rule ---------------------
        Case("failover: flag on the primary by uptime -> peer is primary", S2, ElectionReason.ExeFailOver,
            M(S1, uptimeSec: 3_600, priority: 200, failover: true), M(S2, uptimeSec: 0, priority: 100)),
        Case("failover: flag outranks more monitored interfaces up", S2, ElectionReason.ExeFailOver,
            M(S1, monitorUp: 2, failover: true), M(S2, monitorUp: 0)),
        Case("failover: flag outranks override priority", S1, ElectionReason.ExeFailOver,
            M(S1, priority: 10, ovr: true), M(S2, priority: 250, ovr: true, failover: true)),
        Case("failover: flag outranks the higher serial", S1, ElectionReason.ExeFailOver,
            M(S1), M(S2, failover: true)),
        Case("failover: flagged unit alone is still primary (the only member)", S1, ElectionReason.OnlyMember,
            M(S1, failover: true)),
        Case("failover: both flagged -> the usual rules decide (uptime)", S1, ElectionReason.Uptime,
            M(S1, uptimeSec: 1_000, failover: true), M(S2, uptimeSec: 0, failover: true)),
        Case("failover unset: the usual rules again, priority within the margin fails back", S1, ElectionReason.Priority,
            M(S1, uptimeSec: 100, priority: 200), M(S2, uptimeSec: 120, priority: 100)),
        Case("failover unset: uptime beyond the margin keeps the new primary", S2, ElectionReason.Uptime,
            M(S1, uptimeSec: 100, priority: 200), M(S2, uptimeSec: 1_000, priority: 100)),
        new("3, failover: flagged unit ranks last, the others by the usual rules",
            [M(S1, uptimeSec: 3_600, priority: 250, failover: true), M(S2, priority: 200), M(S3, priority: 100)],
            DefaultMargin, S2, ElectionReason.Priority, [S2, S3, S1]),

        // ---- three members ---------------------------------------------------------------------------
        new("3, disable: survivors within margin use priority, rebooted unit last",
            [M(S1, uptimeSec: 3_600, priority: 100), M(S2, uptimeSec: 3_500, priority: 200), M(S3, uptimeSec: 0, priority: 250)],
            DefaultMargin, S2, ElectionReason.Priority, [S2, S1, S3]),
        new("3, enable: same units, priority order",
            [M(S1, uptimeSec: 3_600, priority: 100, ovr: true), M(S2, uptimeSec: 3_500, priority: 200, ovr: true), M(S3, uptimeSec: 0, priority: 250, ovr: true)],
            DefaultMargin, S3, ElectionReason.OverridePriority, [S3, S2, S1]),
        new("3, disable: monitor count first, rest by uptime",
            [M(S1, monitorUp: 1, uptimeSec: 9_000), M(S2, monitorUp: 1, uptimeSec: 0, priority: 255), M(S3, monitorUp: 2, uptimeSec: 0)],
            DefaultMargin, S3, ElectionReason.MonitoredInterfaces, [S3, S1, S2]),
        new("3, all equal: serial order",
            [M(S1), M(S2), M(S3)],
            DefaultMargin, S3, ElectionReason.SerialNumber, [S3, S2, S1]),
        new("3, disable: margin cycle (S1>S3 uptime, S3>S2 prio, S2>S1 prio) resolved by seeded insertion",
            [M(S1, uptimeSec: 400, priority: 100), M(S2, uptimeSec: 200, priority: 150), M(S3, uptimeSec: 0, priority: 200)],
            DefaultMargin, S3, ElectionReason.Priority, [S3, S2, S1]),
        new("3, enable: margin cycle (S1>S3 uptime, S3>S2 serial, S2>S1 serial) resolved by seeded insertion",
            [M(S1, uptimeSec: 400, ovr: true), M(S2, uptimeSec: 200, ovr: true), M(S3, uptimeSec: 0, ovr: true)],
            DefaultMargin, S3, ElectionReason.SerialNumber, [S3, S2, S1]),
        new("3, disable: runner-up decided by uptime, third by priority",
            [M(S1, uptimeSec: 5_000, priority: 10), M(S2, uptimeSec: 1_000, priority: 200), M(S3, uptimeSec: 900, priority: 100)],
            DefaultMargin, S1, ElectionReason.Uptime, [S1, S2, S3]),
    ];

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var c in Table) data.Add(c.Name);
        return data;
    }

    private static ElectionCase Get(string name) => Table.Single(c => c.Name == name);

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Elect_must_choose_expected_primary_for_the_expected_reason(string name)
    {
        var c = Get(name);

        var outcome = FgcpElection.Elect(c.Members, c.Margin);

        Assert.Equal(c.Primary, outcome.PrimarySerial);
        Assert.Equal(c.Reason, outcome.Reason);
        Assert.Equal(c.Members.Length, outcome.OperatingOrder.Count);
        Assert.Equal(c.Primary, outcome.OperatingOrder[0]);
        if (c.Order is not null)
            Assert.Equal(c.Order, outcome.OperatingOrder);
        if (c.Members.Length == 1)
            Assert.Null(outcome.RunnerUpSerial);
        else
            Assert.Equal(outcome.OperatingOrder[1], outcome.RunnerUpSerial);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Elect_must_not_depend_on_input_order(string name)
    {
        var c = Get(name);
        var expected = FgcpElection.Elect(c.Members, c.Margin);

        foreach (var permutation in Permutations(c.Members))
        {
            var outcome = FgcpElection.Elect(permutation, c.Margin);
            Assert.Equal(expected.PrimarySerial, outcome.PrimarySerial);
            Assert.Equal(expected.Reason, outcome.Reason);
            Assert.Equal(expected.OperatingOrder, outcome.OperatingOrder);
        }
    }

    /// <summary>
    /// The documented 3+ member guarantee: every member beats its successor head-to-head, so the
    /// reason and history text (primary vs runner-up) are always truthful, even inside a margin cycle.
    /// </summary>
    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Elect_must_rank_each_member_above_its_successor_head_to_head(string name)
    {
        var c = Get(name);
        var outcome = FgcpElection.Elect(c.Members, c.Margin);
        var clusterOverride = c.Members.Any(m => m.Override);
        var bySerial = c.Members.ToDictionary(m => m.Serial);

        for (var i = 0; i + 1 < outcome.OperatingOrder.Count; i++)
        {
            // keep the cluster-wide mode when taking a pair out of a mixed cluster
            var pair = new[] { bySerial[outcome.OperatingOrder[i + 1]], bySerial[outcome.OperatingOrder[i]] }
                .Select(m => m with { Override = clusterOverride })
                .ToArray();
            Assert.Equal(outcome.OperatingOrder[i], FgcpElection.Elect(pair, c.Margin).PrimarySerial);
        }
    }

    /// <summary>Guards the cycle fixtures above: the pairwise rule really is non-transitive there.</summary>
    [Theory]
    [InlineData(false, ElectionReason.Priority)]
    [InlineData(true, ElectionReason.SerialNumber)]
    public void Margin_cycle_fixture_must_really_be_a_cycle(bool ovr, ElectionReason adjacentReason)
    {
        FgcpCandidate A(string s, int up, int prio) => M(s, uptimeSec: up, priority: ovr ? 128 : prio, ovr: ovr);
        var s1 = A(S1, 400, 100);
        var s2 = A(S2, 200, 150);
        var s3 = A(S3, 0, 200);

        var s3VsS2 = FgcpElection.Elect([s3, s2], DefaultMargin);
        var s2VsS1 = FgcpElection.Elect([s2, s1], DefaultMargin);
        var s1VsS3 = FgcpElection.Elect([s1, s3], DefaultMargin);

        Assert.Equal((S3, adjacentReason), (s3VsS2.PrimarySerial, s3VsS2.Reason));
        Assert.Equal((S2, adjacentReason), (s2VsS1.PrimarySerial, s2VsS1.Reason));
        Assert.Equal((S1, ElectionReason.Uptime), (s1VsS3.PrimarySerial, s1VsS3.Reason));
    }

    public static TheoryData<ElectionReason, string> HistoryTexts() => new()
    {
        { ElectionReason.OnlyMember, $"{S2} is selected as the primary because it's the only member in the cluster." },
        { ElectionReason.MonitoredInterfaces, $"{S2} is selected as the primary because it has more monitored interfaces up than peer member {S1}." },
        { ElectionReason.Uptime, $"{S2} is selected as the primary because its uptime is larger than peer member {S1}." },
        { ElectionReason.Priority, $"{S2} is selected as the primary because its priority is larger than peer member {S1}." },
        { ElectionReason.OverridePriority, $"{S2} is selected as the primary because its override priority is larger than peer member {S1}." },
        { ElectionReason.SerialNumber, $"{S2} is selected as the primary because its serial number is larger than peer member {S1}." },
        // Fortinet KB 196696 / admin guide 6.4.5 684039, word for word.
        { ElectionReason.ExeFailOver, $"{S2} is selected as the primary because it has EXE_FAIL_OVER flag set." },
    };

    [Theory]
    [MemberData(nameof(HistoryTexts))]
    public void Elect_must_write_FortiOS_history_text_for_each_reason(ElectionReason reason, string expectedText)
    {
        // S2 wins by exactly the given rule against S1.
        FgcpCandidate[] members = reason switch
        {
            ElectionReason.OnlyMember => [M(S2)],
            ElectionReason.MonitoredInterfaces => [M(S1, monitorUp: 0), M(S2, monitorUp: 1)],
            ElectionReason.Uptime => [M(S1, uptimeSec: 0), M(S2, uptimeSec: 600)],
            ElectionReason.Priority => [M(S1, priority: 100), M(S2, priority: 200)],
            ElectionReason.OverridePriority => [M(S1, priority: 100, ovr: true), M(S2, priority: 200, ovr: true)],
            ElectionReason.SerialNumber => [M(S1), M(S2)],
            ElectionReason.ExeFailOver => [M(S1, uptimeSec: 600, failover: true), M(S2)],
            _ => throw new ArgumentOutOfRangeException(nameof(reason)),
        };

        var outcome = FgcpElection.Elect(members, DefaultMargin);

        Assert.Equal(S2, outcome.PrimarySerial);
        Assert.Equal(reason, outcome.Reason);
        Assert.Equal(expectedText, outcome.HistoryText);
    }

    [Fact]
    public void Elect_must_name_the_runner_up_in_a_three_member_history_text()
    {
        var outcome = FgcpElection.Elect(
            [M(S1, uptimeSec: 3_600, priority: 100), M(S2, uptimeSec: 3_500, priority: 200), M(S3, uptimeSec: 0, priority: 250)],
            DefaultMargin);

        Assert.Equal(S2, outcome.PrimarySerial);
        Assert.Equal(ElectionReason.Priority, outcome.Reason);
        Assert.Equal(S1, outcome.RunnerUpSerial);
        Assert.Equal($"{S2} is selected as the primary because its priority is larger than peer member {S1}.", outcome.HistoryText);
    }

    public static TheoryData<string> InvalidInputs() => new()
    {
        "empty", "duplicate serial", "empty serial", "negative monitor", "negative uptime", "priority 256", "negative margin",
    };

    [Theory]
    [MemberData(nameof(InvalidInputs))]
    public void Elect_must_reject_invalid_input(string kind)
    {
        var margin = DefaultMargin;
        FgcpCandidate[] members = kind switch
        {
            "empty" => [],
            "duplicate serial" => [M(S1), M(S1, priority: 1)],
            "empty serial" => [M(S1), M("")],
            "negative monitor" => [M(S1, monitorUp: -1)],
            "negative uptime" => [M(S1, uptimeSec: -1)],
            "priority 256" => [M(S1, priority: 256)],
            "negative margin" => [M(S1)],
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        if (kind == "negative margin") margin = TimeSpan.FromSeconds(-1);

        Assert.ThrowsAny<ArgumentException>(() => FgcpElection.Elect(members, margin));
    }

    // ---- serialno_prio / HA cluster index ------------------------------------------------------------

    public static TheoryData<string, string[], int> SerialIndexCases() => new()
    {
        { S3, [S1, S2, S3], 0 },
        { S2, [S1, S2, S3], 1 },
        { S1, [S1, S2, S3], 2 },
        { S1, [S3, S1, S2], 2 },            // input order irrelevant
        { S1, [S1], 0 },                    // alone: index 0
        { S1, [S1, S2], 1 },
        { S2, [S1, S2], 0 },
        { "FGVM04TM21000001", ["FGVM04TM21000001", "FGVM02TM22999999"], 0 }, // ordinal on the whole string, not the digits
        { "FG100FTK20000009", ["FG100FTK20000009", "FG100FTK20000010"], 1 },
    };

    [Theory]
    [MemberData(nameof(SerialIndexCases))]
    public void SerialIndex_must_rank_serials_highest_first(string serial, string[] members, int expectedIndex)
    {
        Assert.Equal(expectedIndex, FgcpElection.SerialIndex(serial, members));
        Assert.Equal(serial, FgcpElection.ClusterIndexOrder(members)[expectedIndex]);
    }

    [Fact]
    public void ClusterIndexOrder_must_list_highest_serial_first()
    {
        Assert.Equal([S3, S2, S1], FgcpElection.ClusterIndexOrder([S2, S1, S3]));
    }

    [Fact]
    public void SerialIndex_must_be_independent_of_election_outcome()
    {
        // S1 is primary (uptime), but the cluster index still follows the serial rank only.
        var members = new[] { M(S1, uptimeSec: 3_600, priority: 100), M(S2, uptimeSec: 0, priority: 200) };
        var outcome = FgcpElection.Elect(members, DefaultMargin);

        Assert.Equal(S1, outcome.PrimarySerial);
        Assert.Equal(ElectionReason.Uptime, outcome.Reason);
        Assert.Equal(1, FgcpElection.SerialIndex(S1, members.Select(m => m.Serial)));
        Assert.Equal(0, FgcpElection.SerialIndex(S2, members.Select(m => m.Serial)));
    }

    [Fact]
    public void SerialIndex_must_reject_a_non_member()
    {
        Assert.Throws<ArgumentException>(() => FgcpElection.SerialIndex(S3, [S1, S2]));
    }

    private static IEnumerable<FgcpCandidate[]> Permutations(FgcpCandidate[] items)
    {
        if (items.Length <= 1)
        {
            yield return items;
            yield break;
        }
        for (var i = 0; i < items.Length; i++)
        {
            var rest = items.Where((_, j) => j != i).ToArray();
            foreach (var tail in Permutations(rest))
                yield return [items[i], .. tail];
        }
    }
}
