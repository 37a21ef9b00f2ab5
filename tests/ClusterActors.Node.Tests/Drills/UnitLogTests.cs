using ClusterActors.Node.Drills;

namespace ClusterActors.Node.Tests.Drills;

/// <summary>The role changes a unit logs, as Akka's StandardOutLogger prints them, read back with their own stamps.</summary>
public sealed class UnitLogTests
{
    private const string Log = """
        [INFO][12/06/2026 04:55:11.020Z][Thread 0007][akka://fortigate/user/unit/fgcp] FGCP: FGVM02TM22000002 is now Secondary (primary FGVM02TM22000001)
        [WARNING][12/06/2026 04:55:14.990Z][Thread 0011][akka://fortigate/user/unit/fgcp] member 'FGVM02TM22000001' is lost
        [INFO][12/06/2026 04:55:15.123Z][Thread 0012][akka://fortigate/user/unit/fgcp] FGCP: FGVM02TM22000002 is now Primary (primary FGVM02TM22000002)
        [INFO][12/06/2026 04:55:16.000][Thread 0012][akka://fortigate/user/unit/fgcp] FGCP: FGVM02TM22000002 is now Secondary (primary FGVM02TM22000001)
        [INFO][12/06/2026 04:55:19.5Z][Thread 0012][akka://fortigate/user/unit/fgcp] FGCP: FGVM02TM22000002 is now Secondary (primary FGVM02TM22000001)
        FGCP: FGVM02TM22000002 is now Primary (primary FGVM02TM22000002)
        """;

    [Fact]
    public void Every_role_change_line_is_read_with_its_own_stamp_to_the_millisecond_and_nothing_else()
    {
        var changes = UnitLog.RoleChanges(Log);
        Assert.Equal(
        [
            new UnitLog.RoleChange(new DateTimeOffset(2026, 12, 6, 4, 55, 11, 20, TimeSpan.Zero), false),
            new UnitLog.RoleChange(new DateTimeOffset(2026, 12, 6, 4, 55, 15, 123, TimeSpan.Zero), true),
            // the stamp without "Z" (not UTC as Akka writes it) and the line without a stamp are left out
            new UnitLog.RoleChange(new DateTimeOffset(2026, 12, 6, 4, 55, 19, 500, TimeSpan.Zero), false),
        ], changes);
    }

    [Fact]
    public void The_first_change_to_a_role_is_the_one_at_or_after_the_fault()
    {
        var fault = new DateTimeOffset(2026, 12, 6, 4, 55, 11, 100, TimeSpan.Zero);
        Assert.Equal(new DateTimeOffset(2026, 12, 6, 4, 55, 15, 123, TimeSpan.Zero), UnitLog.FirstChange(Log, primary: true, fault));
        Assert.Equal(new DateTimeOffset(2026, 12, 6, 4, 55, 19, 500, TimeSpan.Zero), UnitLog.FirstChange(Log, primary: false, fault));
        Assert.Null(UnitLog.FirstChange(Log, primary: true, fault.AddSeconds(5)));
        Assert.Null(UnitLog.FirstChange("garbage\n[INFO][99/99/2026 99:00:00.000Z][x] FGCP: X is now Primary (primary X)", primary: true, fault));
    }
}
