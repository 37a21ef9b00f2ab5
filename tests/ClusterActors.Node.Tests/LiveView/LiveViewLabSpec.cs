using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.LiveView;

namespace ClusterActors.Node.Tests.LiveView;

/// <summary>
/// The live view on the embedded seed lab, as an operator uses it: the page's stream read over HTTP on a free loopback
/// port, fgcp-failover started by the page's button endpoint, and the page drawn by headless Chromium once the drill
/// has moved the tunnel (the screenshot is the one the READMEs show).
/// </summary>
public sealed class LiveViewLabSpec(LiveViewLabSpec.Lab lab) : IClassFixture<LiveViewLabSpec.Lab>
{
    /// <summary>The page's window in the screenshot.</summary>
    private const int Width = 1600, Height = 1000;

    /// <summary>Where the spec writes the screenshot, relative to the repository root: src/Node/README.md and src/Node/LiveView/README.md show it.</summary>
    public const string Screenshot = "docs/live-view.png";

    [Fact]
    public async Task The_stream_reports_the_drills_kill_the_peers_role_change_and_the_tunnels_new_owner()
    {
        var outcome = await lab.Failover();
        Assert.Equal(HttpStatusCode.Accepted, outcome.Started);
        Assert.Equal(HttpStatusCode.Conflict, outcome.Again); // one drill at a time

        var events = lab.EventsSince(outcome.DrillStartSeq);
        var kill = Assert.Single(events, e => e is { Kind: "fault", Text: "kill -9 DC2_VM1" });
        // The drill's fresh lab comes up with DC2_VM2 secondary; after the kill it becomes primary and owns vpn1_1.
        var promoted = events.Last(e => e is { Kind: "role", Unit: "DC2_VM2" });
        Assert.Equal("DC2_VM2: secondary → primary", promoted.Text);
        var moved = events.Last(e => e.Kind == "tunnel");
        Assert.Equal("DC2_VM2", moved.Owner);
        Assert.EndsWith("→ DC2_VM2", moved.Text);
        Assert.True(kill.Seq < promoted.Seq && kill.Seq < moved.Seq, Describe(events));
        // The drill's verdict line reached the page (its measurements are DrillEndToEndSpec's to judge, not the view's).
        Assert.Contains(events, e => e.Kind == "drill" && (e.Text == "fgcp-failover: PASS" || e.Text.StartsWith("fgcp-failover: FAIL (", StringComparison.Ordinal)));

        var last = lab.LastSnapshot ?? throw new InvalidOperationException("no snapshot on the stream");
        Assert.Equal("up", last.Lab);
        var vm2 = last.Units.Single(u => u.Unit == "DC2_VM2");
        Assert.Equal("primary", vm2.Ha);
        Assert.Equal([new TunnelLive("vpn1_1", "sync-primary")], vm2.Tunnels!);
        Assert.Equal("silent", last.Units.Single(u => u.Unit == "DC2_VM1").Ha);
    }

    [Fact]
    public async Task Headless_chromium_draws_the_page_after_the_drill_moved_the_tunnel_and_the_screenshot_goes_to_the_readme()
    {
        var chromium = RequiredTool.Path("chromium");
        await lab.Failover();
        // PC1 sends again after the drill: wait until the new owner's rate shows, so the picture has it.
        await LoopbackLab.Eventually(() => Task.FromResult(lab.LastSnapshot?.Units.Single(u => u.Unit == "DC2_VM2").Pps is > 0), TimeSpan.FromSeconds(10), "");

        var profile = Directory.CreateTempSubdirectory("clusteractors-live-view-chromium-").FullName;
        try
        {
            string[] common = ["--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run", $"--user-data-dir={profile}", $"--window-size={Width},{Height}"];
            if (Environment.IsPrivilegedProcess) common = [.. common, "--no-sandbox"]; // Chromium refuses to run as root with its sandbox
            // The DOM as the page's script left it: the units table shows the new owner.
            var dom = await Run(chromium, [.. common, "--dump-dom", lab.Url]);
            Assert.True(dom.Exit == 0, dom.Error);
            var row = dom.Output[dom.Output.IndexOf("id=\"unit-DC2_VM2\"", StringComparison.Ordinal)..];
            row = row[..row.IndexOf("</tr>", StringComparison.Ordinal)];
            Assert.Contains("ha-primary", row);
            Assert.Contains("vpn1_1 sync-primary", row);

            var png = Path.Combine(profile, "live-view.png");
            var shot = await Run(chromium, [.. common, $"--screenshot={png}", lab.Url]);
            Assert.True(shot.Exit == 0 && File.Exists(png), $"chromium exited {shot.Exit}: {shot.Error}");
            var bytes = await File.ReadAllBytesAsync(png);
            Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], bytes[..8]);
            Assert.Equal((Width, Height), (BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20))));
            // An empty page of this size compresses to a few kB; the drawn topology, tables and events to well over 100.
            Assert.True(bytes.Length > 100_000, $"the screenshot is {bytes.Length} bytes: the page drew next to nothing");

            var target = Path.Combine(RepoRoot(), Screenshot);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(png, target, overwrite: true);
        }
        finally
        {
            Directory.Delete(profile, true);
        }
    }

    private static string Describe(IEnumerable<LiveEvent> events) => string.Join("\n", events.Select(e => $"{e.Seq} {e.Kind} {e.Text}"));

    private static async Task<(int Exit, string Output, string Error)> Run(string exe, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await p.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{exe} {string.Join(' ', psi.ArgumentList)} did not finish within 60 s");
        }
        return (p.ExitCode, await output, await error);
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "ClusterActors.sln"))) return d.FullName;
        throw new InvalidOperationException("the repository root (ClusterActors.sln) is not above " + AppContext.BaseDirectory);
    }

    /// <summary>What the button endpoint answered, and where the drill's events start.</summary>
    public sealed record FailoverOutcome(HttpStatusCode Started, HttpStatusCode Again, long DrillStartSeq);

    /// <summary>
    /// `lab view` of the seed on a free loopback port (as the command builds it: graphviz's SVG, the hub, Kestrel), with
    /// a reader of its event stream from the start; fgcp-failover is run once through the button endpoint, for both specs.
    /// </summary>
    public sealed class Lab : IAsyncLifetime
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly List<LiveEvent> _events = new();
        private readonly string _reports = Directory.CreateTempSubdirectory("clusteractors-live-view-reports-").FullName;
        private LiveViewHub? _hub;
        private LiveViewServer? _server;
        private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };
        private Task _reader = Task.CompletedTask;
        private Task<FailoverOutcome>? _failover;
        private readonly object _gate = new();
        private LabSnapshot? _last;

        public string Url => _server!.Address.ToString();

        public LabSnapshot? LastSnapshot
        {
            get { lock (_gate) return _last; }
        }

        public IReadOnlyList<LiveEvent> EventsSince(long seq)
        {
            lock (_gate) return _events.Where(e => e.Seq >= seq).ToList();
        }

        public async Task InitializeAsync()
        {
            RequiredTool.Check("dot");
            var topology = Scenarios.Topology("seed");
            _hub = new LiveViewHub(topology, rate: 100, reportsDir: _reports);
            _server = await LiveViewServer.StartAsync(_hub, new IPEndPoint(IPAddress.Loopback, 0), TopologySvg.Render(topology), CancellationToken.None);
            Assert.True(IPAddress.IsLoopback(IPAddress.Parse(_server.Address.Host)));
            var stream = await _http.GetAsync(new Uri(_server.Address, "events"), HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
            _reader = Task.Run(() => Read(stream, _stop.Token));
            _hub.Start();
            await _hub.Started.WaitAsync(TimeSpan.FromSeconds(90));
            await LoopbackLab.Eventually(() => Task.FromResult(LastSnapshot?.Lab == "up"), TimeSpan.FromSeconds(10), "");
        }

        /// <summary>The stream as a browser's EventSource reads it: `event:` and `data:` lines up to a blank line.</summary>
        private async Task Read(HttpResponseMessage response, CancellationToken ct)
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
            string? name = null, data = null;
            try
            {
                while (await reader.ReadLineAsync(ct) is { } line)
                {
                    if (line.StartsWith("event: ", StringComparison.Ordinal)) name = line["event: ".Length..];
                    else if (line.StartsWith("data: ", StringComparison.Ordinal)) data = line["data: ".Length..];
                    else if (line.Length == 0 && name is not null && data is not null)
                    {
                        lock (_gate)
                        {
                            if (name == "snapshot") _last = LiveViewModel.SnapshotFromJson(data);
                            else if (name == "event") _events.Add(LiveViewModel.EventFromJson(data)!);
                        }
                        name = data = null;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // the fixture ends
            }
        }

        public Task<FailoverOutcome> Failover()
        {
            lock (_gate) return _failover ??= RunFailover();
        }

        private async Task<FailoverOutcome> RunFailover()
        {
            long from;
            lock (_gate) from = _events.Count == 0 ? 0 : _events[^1].Seq + 1;
            var started = await Post("drills/fgcp-failover");
            var again = await Post("drills/fgcp-failover");
            await _hub!.DrillDone.WaitAsync(TimeSpan.FromSeconds(150));
            // The drill's last line reaches the stream right after it ends.
            await LoopbackLab.Eventually(() => Task.FromResult(EventsSince(from).Any(e => e.Kind == "drill" && (e.Text.StartsWith("fgcp-failover: PASS") || e.Text.StartsWith("fgcp-failover: FAIL")))),
                TimeSpan.FromSeconds(5), "");
            await LoopbackLab.Eventually(() => Task.FromResult(LastSnapshot?.Lab == "up"), TimeSpan.FromSeconds(5), "");
            return new FailoverOutcome(started, again, from);
        }

        private async Task<HttpStatusCode> Post(string path)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_server!.Address, path));
            request.Headers.Add(LiveViewPage.DrillHeader, "drill");
            using var response = await _http.SendAsync(request);
            return response.StatusCode;
        }

        public async Task DisposeAsync()
        {
            await _stop.CancelAsync();
            if (_hub is not null) await _hub.DisposeAsync();
            if (_server is not null) await _server.DisposeAsync();
            await _reader;
            _http.Dispose();
            Directory.Delete(_reports, true);
        }
    }
}
