using ClusterActors.Protocol.Fgcp;
using ClusterActors.Protocol.Serialization;

namespace ClusterActors.Protocol.Tests.Fgcp;

/// <summary>
/// Every heartbeat field, out of range or malformed, is dropped with its own cause: checked on the record (what an
/// in-process link hands FGCP) and on the datagram (what the UDP hbdev reads), never by an exception.
/// </summary>
public sealed class FgcpHeartbeatValidationSpec
{
    private static readonly FgcpHeartbeat Valid = new(
        "FGVM02TM22000002", "DC2_VM2", 1, "DC2_VM12", new byte[32], 128, false, 12_345, 2, HaState.Work, HaRole.Primary,
        "FGVM02TM22000002", 7, 1_764_000_000_000, [new HeardPeer("FGVM02TM22000001", 1_764_000_000_001)],
        "0123456789abcdef0123456789abcdef");

    /// <summary>One row: a heartbeat with one field spoiled, and the cause it must be dropped for.</summary>
    public static TheoryData<string, FgcpHeartbeat, HeartbeatDropCause> Spoiled() => new()
    {
        { "priority 256", Valid with { Priority = 256 }, HeartbeatDropCause.BadPriority },
        { "priority -1", Valid with { Priority = -1 }, HeartbeatDropCause.BadPriority },
        { "priority int.MaxValue", Valid with { Priority = int.MaxValue }, HeartbeatDropCause.BadPriority },
        { "group-id 1024", Valid with { GroupId = 1024 }, HeartbeatDropCause.BadGroupId },
        { "group-id -1", Valid with { GroupId = -1 }, HeartbeatDropCause.BadGroupId },
        { "monitor count -1", Valid with { MonitorUp = -1 }, HeartbeatDropCause.BadMonitorCount },
        { "monitor count 1025", Valid with { MonitorUp = 1025 }, HeartbeatDropCause.BadMonitorCount },
        { "uptime -1 ms", Valid with { HaUptimeMs = -1 }, HeartbeatDropCause.BadUptime },
        { "uptime long.MaxValue", Valid with { HaUptimeMs = long.MaxValue }, HeartbeatDropCause.BadUptime },
        { "serial with a newline", Valid with { Serial = "FGVM02TM2200\n<9>" }, HeartbeatDropCause.BadSerial },
        { "serial too short", Valid with { Serial = "FGVM02TM2200000" }, HeartbeatDropCause.BadSerial },
        { "serial too long", Valid with { Serial = "FGVM02TM220000011" }, HeartbeatDropCause.BadSerial },
        { "serial lower case", Valid with { Serial = "fgvm02tm22000002" }, HeartbeatDropCause.BadSerial },
        { "serial not FG", Valid with { Serial = "XXVM02TM22000002" }, HeartbeatDropCause.BadSerial },
        { "serial empty", Valid with { Serial = "" }, HeartbeatDropCause.BadSerial },
        { "hostname with a newline", Valid with { Hostname = "DC2_VM2\nforged" }, HeartbeatDropCause.BadHostname },
        { "hostname with an escape", Valid with { Hostname = "DC2\u001b[2J" }, HeartbeatDropCause.BadHostname },
        { "hostname of 36 characters", Valid with { Hostname = new string('a', 36) }, HeartbeatDropCause.BadHostname },
        { "group-name with a carriage return", Valid with { GroupName = "DC2\rVM12" }, HeartbeatDropCause.BadGroupName },
        { "group-name of 33 characters", Valid with { GroupName = new string('g', 33) }, HeartbeatDropCause.BadGroupName },
        { "group-name with a line separator", Valid with { GroupName = "DC2\u2028VM12" }, HeartbeatDropCause.BadGroupName },
        { "password proof of 31 bytes", Valid with { PasswordProof = new byte[31] }, HeartbeatDropCause.BadPasswordProof },
        { "password proof empty", Valid with { PasswordProof = [] }, HeartbeatDropCause.BadPasswordProof },
        { "state 7", Valid with { State = (HaState)7 }, HeartbeatDropCause.BadState },
        { "role 9", Valid with { Role = (HaRole)9 }, HeartbeatDropCause.BadRole },
        { "primary serial with a newline", Valid with { PrimarySerial = "FGVM02TM2200000\n" }, HeartbeatDropCause.BadPrimarySerial },
        { "sequence 0", Valid with { Sequence = 0 }, HeartbeatDropCause.BadSequence },
        { "sequence negative", Valid with { Sequence = -5 }, HeartbeatDropCause.BadSequence },
        { "incarnation 0", Valid with { Incarnation = 0 }, HeartbeatDropCause.BadIncarnation },
        { "peer heard with a newline in its serial", Valid with { Hears = [new HeardPeer("FGVM02TM2200\n<9>", 1)] }, HeartbeatDropCause.BadPeerList },
        { "peer heard with incarnation 0", Valid with { Hears = [new HeardPeer("FGVM02TM22000001", 0)] }, HeartbeatDropCause.BadPeerList },
        { "17 peers heard", Valid with { Hears = Enumerable.Range(0, 17).Select(i => new HeardPeer($"FGVM02TM220000{i:00}", 1)).ToList() }, HeartbeatDropCause.BadPeerList },
        { "checksum upper case", Valid with { SyncedConfigChecksum = "0123456789ABCDEF0123456789ABCDEF" }, HeartbeatDropCause.BadChecksum },
        { "checksum short", Valid with { SyncedConfigChecksum = "0123" }, HeartbeatDropCause.BadChecksum },
    };

    [Fact]
    public void A_well_formed_heartbeat_passes_on_the_record_and_through_the_wire()
    {
        Assert.Null(FgcpHeartbeatValidation.Validate(Valid));
        Assert.Null(FgcpHeartbeatValidation.Validate(Valid with { PrimarySerial = null, State = HaState.Hello, Priority = 0, GroupId = 1023 }));
        Assert.Null(FgcpHeartbeatValidation.Validate(Valid with { Priority = 255, Hostname = "", GroupName = "" }));
        var (hb, drop) = FgcpHeartbeatValidation.Decode(Datagram(Valid));
        Assert.Null(drop);
        Assert.Equal(Valid.Serial, hb!.Serial);
    }

    [Theory]
    [MemberData(nameof(Spoiled))]
    public void A_spoiled_field_is_dropped_with_its_cause_on_the_record(string field, FgcpHeartbeat spoiled, HeartbeatDropCause cause)
    {
        var drop = FgcpHeartbeatValidation.Validate(spoiled);
        Assert.True(drop is not null, $"{field}: accepted");
        Assert.Equal(cause, drop!.Cause);
        // The description never carries a control character, whatever the field held.
        Assert.DoesNotContain(drop.Detail, c => char.IsControl(c) || c is '\u2028');
    }

    [Theory]
    [MemberData(nameof(Spoiled))]
    public void A_spoiled_field_is_dropped_with_its_cause_when_read_from_a_datagram(string field, FgcpHeartbeat spoiled, HeartbeatDropCause cause)
    {
        var (hb, drop) = FgcpHeartbeatValidation.Decode(Datagram(spoiled));
        Assert.True(hb is null, $"{field}: decoded as a heartbeat");
        Assert.Equal(cause, drop!.Cause);
    }

    [Fact]
    public void Every_truncation_of_a_heartbeat_is_dropped_as_truncated_never_thrown()
    {
        var whole = Datagram(Valid);
        for (var length = 4; length < whole.Length; length++)
        {
            var (hb, drop) = FgcpHeartbeatValidation.Decode(whole.AsSpan(0, length));
            Assert.Null(hb);
            Assert.True(drop!.Cause == HeartbeatDropCause.Truncated, $"{length} bytes: {drop.Cause} ({drop.Detail})");
        }
    }

    [Fact]
    public void Not_fgcp_oversize_and_corrupt_datagrams_are_dropped_with_their_cause()
    {
        Assert.Equal(HeartbeatDropCause.NotFgcp, FgcpHeartbeatValidation.Decode("FG"u8).Drop!.Cause);
        Assert.Equal(HeartbeatDropCause.NotFgcp, FgcpHeartbeatValidation.Decode("HELLO WORLD"u8).Drop!.Cause);
        Assert.Equal(HeartbeatDropCause.Oversize, FgcpHeartbeatValidation.Decode(new byte[FgcpHeartbeatValidation.MaxDatagramBytes + 1]).Drop!.Cause);
        Assert.Equal(HeartbeatDropCause.Corrupt, FgcpHeartbeatValidation.Decode([.. Datagram(Valid), 0]).Drop!.Cause); // trailing byte
        // A length field of -1 where the serial's length is.
        var negativeLength = Datagram(Valid);
        negativeLength.AsSpan(FgcpHeartbeatEnvelope.HeaderBytes, 4).Fill(0xff);
        Assert.Equal(HeartbeatDropCause.Corrupt, FgcpHeartbeatValidation.Decode(negativeLength).Drop!.Cause);
    }

    [Fact]
    public void Random_corruption_of_every_byte_never_throws()
    {
        var whole = Datagram(Valid);
        for (var i = 0; i < whole.Length; i++)
            foreach (var value in new byte[] { 0x00, 0x0a, 0x7f, 0x80, 0xff })
            {
                var bytes = (byte[])whole.Clone();
                bytes[i] = value;
                var (hb, drop) = FgcpHeartbeatValidation.Decode(bytes);
                Assert.True(hb is null ^ drop is null, $"byte {i} = {value:x2}");
                if (hb is not null) Assert.Null(FgcpHeartbeatValidation.Validate(hb));
            }
    }

    [Fact]
    public void Every_cause_has_a_counter_name()
    {
        var names = Enum.GetValues<HeartbeatDropCause>().Select(FgcpHeartbeatValidation.CounterName).ToList();
        Assert.DoesNotContain("unknown", names);
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.All(names, n => Assert.Matches("^[a-z_]+$", n));
    }

    private static byte[] Datagram(FgcpHeartbeat hb) => FgcpHeartbeatEnvelope.Seal(hb, FgcpHeartbeatProtection.None);
}
