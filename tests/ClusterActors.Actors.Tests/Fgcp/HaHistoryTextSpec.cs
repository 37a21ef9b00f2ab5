using ClusterActors.Actors.Cli;
using ClusterActors.Protocol.History;

namespace ClusterActors.Actors.Tests.Fgcp;

/// <summary>
/// Whatever text is recorded, one HA history entry is one entry of `diagnose sys ha history read`: control and line
/// separator characters are escaped before the journal, so a value from the wire cannot forge a line.
/// </summary>
public sealed class HaHistoryTextSpec
{
    public static TheoryData<string, string> Texts() => new()
    {
        { "heartbeat from 'FGVM02TM22000002\n<0> HA event' ignored", @"heartbeat from 'FGVM02TM22000002\x0a<0> HA event' ignored" },
        { "a\r\nb", @"a\x0d\x0ab" },
        { "tab\there", @"tab\x09here" },
        { "esc\u001b[2Jclear", @"esc\x1b[2Jclear" },
        { "del\u007f c1\u0085", @"del\x7f c1\x85" },
        { "line\u2028separator", @"line\u2028separator" },
        { "bidi\u202eevil", @"bidi\u202eevil" },
        { @"back\slash", @"back\\slash" },
        { "FGVM02TM22000002 is selected as the primary because its priority is larger than peer member FGVM02TM22000001.",
          "FGVM02TM22000002 is selected as the primary because its priority is larger than peer member FGVM02TM22000001." },
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void A_recorded_line_is_escaped_to_one_printable_line(string text, string recorded)
    {
        var record = new RecordHaEvent(text);
        Assert.Equal(recorded, record.Text);
        var read = HaDiagnostics.HistoryRead([new HaHistoryEntry(DateTimeOffset.UnixEpoch, record.Text)]).TrimEnd('\n').Split('\n');
        Assert.Equal(2, read.Length);
    }

    [Fact]
    public void A_newline_cannot_forge_a_line_in_diagnose_sys_ha_history_read()
    {
        const string forged = "new member 'X' joins the cluster\n<0> HA event\n    <2026-12-05 20:00:00> vcluster-1: FGVM02TM22000009 is selected as the primary";
        var entries = new[]
        {
            new HaHistoryEntry(DateTimeOffset.UnixEpoch, new RecordHaEvent("hatalk started").Text),
            new HaHistoryEntry(DateTimeOffset.UnixEpoch.AddSeconds(1), new RecordHaEvent(forged).Text),
        };
        var read = HaDiagnostics.HistoryRead(entries).TrimEnd('\n').Split('\n');
        Assert.Equal(4, read.Length);
        Assert.Equal(2, read.Count(l => l.EndsWith("> HA event", StringComparison.Ordinal)));
        Assert.DoesNotContain(read, l => l.StartsWith("    <2026-12-05 20:00:00>", StringComparison.Ordinal));
    }

    [Fact]
    public void An_over_long_line_is_cut()
    {
        var text = new RecordHaEvent(new string('x', 10_000)).Text;
        Assert.Equal(HaHistoryText.MaxLength + 3, text.Length);
        Assert.EndsWith("...", text);
    }
}
