using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using ClusterActors.Node.LabHarness.Client;

namespace ClusterActors.Node.Drills;

/// <summary>
/// The container lab's strongSwan client (compose service `strongswan`, profile `strongswan`: charon 5.9.8 with
/// kernel-libipsec) in the drills' terms: dialing is `swan-dial` (swanctl --initiate of vpn1's CHILD SA `lan`), the
/// traffic is `ping -D -O -i 1/RATE -I 10.10.1.1 10.10.101.2` from its LAN side through charon's ipsec0, read line by
/// line (<see cref="PingLog"/>), and the client's SAs are `swanctl --list-sas`. Everything goes through `docker exec`.
/// </summary>
/// <param name="suite">The proposals to dial with (<see cref="StrongSwanSuite"/>); null: swanctl.conf's own, the seed's aes128-sha1-modp1024.</param>
public sealed partial class StrongSwanLabClient(TextWriter log, StrongSwanSuite? suite = null)
{
    public const string Container = "strongswan";

    /// <summary>The LAN side the pings come from (swan-run's default LAB_SWAN_LAN).</summary>
    public const string LanAddress = "10.10.1.1";

    public const string Server = "10.10.101.2";

    private const string PidFile = "/run/swan-lab/ping.pid";

    private Process? _ping;
    private Task? _reader;
    private PingLog? _pings;
    private DateTimeOffset _trafficSince;
    private SwanSas? _dialed;

    /// <summary>The container's WAN address (compose): it dials from it, and dc_router places its flow by the same rule as CLIENT1's.</summary>
    public const string WanAddress = "192.168.7.3";

    /// <summary>Dials vpn1 from <see cref="WanAddress"/> (with the suite's proposals, checked in charon's listing) and
    /// returns the CHILD SA's SPIs.</summary>
    public async Task<SwanSas> Dial(CancellationToken ct)
    {
        string[] dial = suite is null ? ["swan-dial", WanAddress] : ["swan-dial", WanAddress, suite.SwanIke, suite.SwanEsp];
        var (exit, output) = await Exec(Container, dial, TimeSpan.FromSeconds(60), check: false);
        var sas = ParseListSas(output);
        if (exit != 0 || sas is not { Up: true })
            throw new InvalidOperationException($"strongSwan did not establish vpn1 (swan-dial exit {exit}): {Tail(output, 12)}");
        if (suite?.Mismatch(output) is { } mismatch)
            throw new InvalidOperationException($"strongSwan established vpn1 but not with {suite.Name}: {mismatch}: {Tail(output, 12)}");
        _dialed = sas;
        await Say($"strongSwan dials from {WanAddress}: {sas}" + (suite is null ? "" : $"; IKE {suite.IkeListed}, ESP {suite.EspListed}"));
        return sas;
    }

    /// <summary>Starts the ping from the LAN side at <paramref name="packetsPerSecond"/> (ping's -i is 1/rate).</summary>
    public void TrafficStart(double packetsPerSecond)
    {
        if (_ping is not null) throw new InvalidOperationException("a ping run is already going");
        var interval = 1.0 / packetsPerSecond;
        _pings = new PingLog(interval * 1000);
        _trafficSince = DateTimeOffset.UtcNow;
        var start = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "exec", Container, "sh", "-c",
                     $"echo $$ > {PidFile}; exec stdbuf -oL ping -D -O -i {interval.ToString("0.######", CultureInfo.InvariantCulture)} -I {LanAddress} {Server}" })
            start.ArgumentList.Add(a);
        var p = _ping = Process.Start(start) ?? throw new InvalidOperationException("cannot run docker exec … ping");
        var pings = _pings;
        _reader = Task.WhenAll(
            Task.Run(async () =>
            {
                while (await p.StandardOutput.ReadLineAsync() is { } line) pings.Add(line);
            }),
            p.StandardError.ReadToEndAsync());
    }

    public TrafficProgress TrafficProgress() => _pings?.Progress() ?? new TrafficProgress(0, 0);

    /// <summary>SIGINT to the ping (it prints its totals and exits), its report, and what charon did meanwhile.</summary>
    public async Task<EchoReport> TrafficStop()
    {
        var p = _ping ?? throw new InvalidOperationException("no ping run is going");
        await Exec(Container, ["sh", "-c", $"kill -INT $(cat {PidFile})"], TimeSpan.FromSeconds(15), check: false);
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            try { await p.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException)
            {
                try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            }
        }
        if (_reader is { } reader) await reader.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        p.Dispose();
        _ping = null;
        var (report, inFlight) = _pings!.Report(TimeSpan.FromMilliseconds(200));
        var totals = _pings.Totals is { } t ? $"ping: {t.Transmitted} transmitted, {t.Received} received" : "ping printed no totals";
        var actual = report.SendingTime > TimeSpan.Zero ? (report.Sent - 1) / report.SendingTime.TotalSeconds : 0;
        await Say($"strongSwan {totals} (sent at {actual.ToString("0", CultureInfo.InvariantCulture)} pps: ping's timer granularity); {report.Format()}"
                  + (inFlight > 0 ? $" ({inFlight} in flight at the stop left out)" : ""));
        var sas = ParseListSas((await Exec(Container, ["swanctl", "--list-sas"], TimeSpan.FromSeconds(15), check: false)).Output);
        await Say(sas is null ? "strongSwan: no SA left" : $"strongSwan: {sas}; {Compare(_dialed, sas)}");
        var (_, charon) = await Run("docker", ["logs", "--since", _trafficSince.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture), Container],
            TimeSpan.FromSeconds(15), check: false);
        var notable = CharonEvents(charon);
        await Say(notable.Count == 0
            ? "charon during the run: no IKE exchange (no retransmit, DPD, rekey or new SA)"
            : "charon during the run:\n" + string.Join("\n", notable.Select(l => "    " + l)));
        if (Dpd is not null) await DpdAnswered();
        return report;
    }

    /// <summary>charon's dpd_delay for vpn1 when the lab runs it with DPD (LAB_SWAN_DPD, e.g. 1s; compose passes it to swan-run).</summary>
    public static string? Dpd => Environment.GetEnvironmentVariable("LAB_SWAN_DPD") is { Length: > 0 } d && d != "0" && d != "0s" ? d : null;

    /// <summary>
    /// With DPD on, the ping's end leaves the tunnel idle, so charon sends a DPD (an empty INFORMATIONAL) within
    /// dpd_delay, after any still retransmitted from the outage: the unit that owns the tunnel now must answer with the
    /// message ID the old one had reached (the IKE SA's synced state). Waits for charon's "parsed INFORMATIONAL response";
    /// a give-up, a deleted IKE SA or a new IKE_SA_INIT fails the run.
    /// </summary>
    private async Task DpdAnswered()
    {
        var since = DateTimeOffset.UtcNow;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(500);
            var (_, text) = await Run("docker", ["logs", "--since", since.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture), Container],
                TimeSpan.FromSeconds(15), check: false);
            var lines = text.Split('\n').Select(l => l.TrimEnd()).ToList();
            if (lines.FirstOrDefault(l => DpdFailed().IsMatch(l)) is { } failed)
                throw new DrillStepException($"strongSwan's DPD after the failover failed: {failed.Trim()}");
            if (lines.FirstOrDefault(l => l.Contains("parsed INFORMATIONAL response", StringComparison.Ordinal)) is { } answered)
            {
                await Say($"strongSwan's DPD (dpd_delay {Dpd}) answered by the tunnel's new owner after the run: {answered.Trim()}");
                var sas = ParseListSas((await Exec(Container, ["swanctl", "--list-sas"], TimeSpan.FromSeconds(15), check: false)).Output);
                await Say(sas is null ? "strongSwan: no SA left after the DPD" : $"strongSwan after the DPD: {sas}; {Compare(_dialed, sas)}");
                return;
            }
        }
        throw new DrillStepException($"strongSwan's DPD (dpd_delay {Dpd}) got no answer within 20 s after the run");
    }

    [GeneratedRegex(@"giving up|deleting IKE_SA|IKE_SA_INIT request|destroying IKE_SA")]
    private static partial Regex DpdFailed();

    /// <summary>The client's counters for the runner (<see cref="IDrillLab.Client"/>): its SPIs and whether vpn1 is up.</summary>
    public ClientView Counters()
    {
        var (_, text) = Exec(Container, ["swanctl", "--list-sas"], TimeSpan.FromSeconds(15), check: false).GetAwaiter().GetResult();
        var sas = ParseListSas(text);
        return new ClientView(null, null, sas?.ChildIn ?? 0, sas?.ChildOut ?? 0, sas?.Up ?? false);
    }

    /// <summary>"same IKE SA and CHILD SA as dialed (no re-negotiation)" or what changed.</summary>
    public static string Compare(SwanSas? before, SwanSas after)
    {
        if (before is null) return "nothing dialed to compare with";
        var ike = before.IkeInitiatorSpi == after.IkeInitiatorSpi && before.IkeResponderSpi == after.IkeResponderSpi;
        var child = before.ChildIn == after.ChildIn && before.ChildOut == after.ChildOut;
        return (ike, child) switch
        {
            (true, true) => "same IKE SA and CHILD SA as dialed: no re-negotiation",
            (true, false) => "same IKE SA, new CHILD SA (re-negotiated or rekeyed)",
            (false, _) => "new IKE SA: strongSwan re-negotiated",
        };
    }

    /// <summary>charon's log lines that say an exchange happened (ignoring the routine ones of a quiet tunnel).</summary>
    public static IReadOnlyList<string> CharonEvents(string log) =>
        log.Split('\n').Select(l => l.TrimEnd()).Where(l => CharonEvent().IsMatch(l) && !l.Contains("[CFG]", StringComparison.Ordinal)).Take(40).ToList();

    [GeneratedRegex(@"retransmit|giving up|DPD|INFORMATIONAL|CREATE_CHILD_SA|IKE_SA_INIT|IKE_AUTH|rekey|reauth|deleting|closing|establish|MOBIKE|NAT", RegexOptions.IgnoreCase)]
    private static partial Regex CharonEvent();

    /// <summary>`swanctl --list-sas`: vpn1's IKE SA (state, SPIs) and its CHILD SA `lan` (state, in/out SPIs); null without vpn1.</summary>
    public static SwanSas? ParseListSas(string text)
    {
        var ike = IkeLine().Match(text);
        if (!ike.Success) return null;
        var child = ChildLine().Match(text, ike.Index);
        uint Spi(string dir) => Regex.Match(text[ike.Index..], $@"(?m)^\s+{dir}\s+([0-9a-f]{{8}})") is { Success: true } m
            ? uint.Parse(m.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture) : 0;
        return new SwanSas(int.Parse(ike.Groups[1].Value, CultureInfo.InvariantCulture), ike.Groups[2].Value, ike.Groups[3].Value, ike.Groups[4].Value,
            child.Success ? int.Parse(child.Groups[1].Value, CultureInfo.InvariantCulture) : 0, child.Success ? child.Groups[2].Value : "none",
            Spi("in"), Spi("out"));
    }

    [GeneratedRegex(@"(?m)^vpn1: #(\d+), (\w+), IKEv2, ([0-9a-f]+)_i\*? ([0-9a-f]+)_r")]
    private static partial Regex IkeLine();

    [GeneratedRegex(@"(?m)^\s+lan: #(\d+), reqid \d+, (\w+)")]
    private static partial Regex ChildLine();

    private async Task Say(string line)
    {
        await log.WriteLineAsync("  " + line);
        await log.FlushAsync();
    }

    private static string Tail(string text, int lines) =>
        string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(lines));

    private static Task<(int Exit, string Output)> Exec(string container, IEnumerable<string> args, TimeSpan timeout, bool check = true) =>
        Run("docker", ["exec", container, .. args], timeout, check);

    private static Task<(int Exit, string Output)> Run(string file, IEnumerable<string> args, TimeSpan timeout, bool check) =>
        DockerDrillLab.Run(file, args, timeout, check);
}

/// <summary>strongSwan's view of vpn1: the IKE SA (unique id, state, initiator/responder SPIs) and the CHILD SA `lan`.</summary>
public sealed record SwanSas(int IkeId, string IkeState, string IkeInitiatorSpi, string IkeResponderSpi, int ChildId, string ChildState, uint ChildIn, uint ChildOut)
{
    public bool Up => IkeState == "ESTABLISHED" && ChildState == "INSTALLED";

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"IKE_SA vpn1 #{IkeId} {IkeState} spi {IkeInitiatorSpi}_i {IkeResponderSpi}_r; CHILD_SA lan #{ChildId} {ChildState} in {ChildIn:x8} out {ChildOut:x8}");
}
