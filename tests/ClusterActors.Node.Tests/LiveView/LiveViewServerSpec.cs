using System.Net;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.LiveView;

namespace ClusterActors.Node.Tests.LiveView;

/// <summary>
/// The view's routes with no lab started: the page, the stream's first frames, and the button endpoint refusing what
/// is not the page's own request (another site's form, an unknown drill) before it touches any lab.
/// </summary>
public sealed class LiveViewServerSpec : IAsyncLifetime
{
    private LiveViewHub _hub = null!;
    private LiveViewServer _server = null!;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };

    public async Task InitializeAsync()
    {
        _hub = new LiveViewHub(Scenarios.Topology("seed"));
        _server = await LiveViewServer.StartAsync(_hub, new IPEndPoint(IPAddress.Loopback, 0), "<svg id=\"drawn\"></svg>", CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _hub.DisposeAsync();
        _http.Dispose();
    }

    private Uri At(string path) => new(_server.Address, path);

    [Fact]
    public async Task The_page_is_served_on_loopback_with_the_topology_inline()
    {
        Assert.Equal("127.0.0.1", _server.Address.Host);
        using var page = await _http.GetAsync(At(""));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<svg id=\"drawn\"></svg>", await page.Content.ReadAsStringAsync());
        using var none = await _http.GetAsync(At("snapshot"));
        Assert.Equal(HttpStatusCode.NoContent, none.StatusCode); // nothing polled yet
    }

    [Fact]
    public async Task A_post_without_the_pages_header_is_refused_and_starts_nothing()
    {
        // What a form on another site in the operator's browser can send: no custom header without a CORS preflight.
        using var forged = await _http.PostAsync(At("drills/fgcp-failover"), new FormUrlEncodedContent([]));
        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        Assert.Contains(LiveViewPage.DrillHeader, await forged.Content.ReadAsStringAsync());
        Assert.True(_hub.DrillDone.IsCompleted);
        Assert.Empty(_hub.History);
    }

    [Fact]
    public async Task An_unknown_drill_is_404_naming_the_drills_there_are()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, At("drills/fgcp-failovr"));
        request.Headers.Add(LiveViewPage.DrillHeader, "drill");
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("fgcp-failover", await response.Content.ReadAsStringAsync());
        Assert.True(_hub.DrillDone.IsCompleted);
        Assert.Empty(_hub.History);
    }
}

/// <summary>The hub's event list and its pages' queues, without a lab.</summary>
public sealed class LiveViewHubSpec
{
    private static List<string> Drain(LiveViewHub.Subscription page)
    {
        var frames = new List<string>();
        while (page.Frames.TryRead(out var frame)) frames.Add(frame);
        return frames;
    }

    [Fact]
    public async Task A_page_that_does_not_read_loses_its_oldest_frames_and_a_reconnecting_page_gets_only_what_it_missed()
    {
        await using var hub = new LiveViewHub(Scenarios.Topology("seed"));
        using var slow = hub.Subscribe(null);
        for (var i = 1; i <= 1_200; i++) hub.Publish("lab", null, $"line {i}"); // never waits on the page
        var frames = Drain(slow);
        Assert.Equal(LiveViewHub.FramesQueued, frames.Count);
        Assert.StartsWith("id: 201\n", frames[0]);
        Assert.StartsWith("id: 1200\n", frames[^1]);
        Assert.Equal(LiveViewHub.HistoryKept, hub.History.Count);
        Assert.Equal(701, hub.History[0].Seq);

        using var back = hub.Subscribe(1_190);
        Assert.Equal(Enumerable.Range(1_191, 10).Select(n => $"id: {n}\n"), Drain(back).Select(f => f[..(f.IndexOf('\n') + 1)]));
        using var fresh = hub.Subscribe(null);
        Assert.Equal(LiveViewHub.HistoryKept, Drain(fresh).Count);
    }

    [Fact]
    public void Without_graphviz_the_view_says_in_one_line_which_package_to_install()
    {
        var e = Assert.Throws<MissingSystemToolException>(() => TopologySvg.Render(Scenarios.Topology("seed"), _ => null));
        Assert.Equal("dot (Debian package graphviz) is not installed: lab view lays the topology out with graphviz", e.Message);
    }
}

/// <summary>`lab view`'s own errors, before any lab starts: one line, exit 2.</summary>
public sealed class LiveViewCommandSpec
{
    [Theory]
    [InlineData("lab view --listen nope", "clusteractors: --listen: 'nope' is not HOST:PORT with a numeric IP address")]
    [InlineData("lab view --listen 127.0.0.1:70000", "clusteractors: --listen: '127.0.0.1:70000' is not HOST:PORT with a numeric IP address")]
    [InlineData("lab view --rate 0", "clusteractors: --rate is packets per second, from 1 to 20000")]
    public void A_bad_option_is_a_usage_error(string args, string line)
    {
        var (exit, stdout, stderr) = CommandLineSpec.Run(args);
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Equal(line, stderr.TrimEnd('\n'));
    }

    [Fact]
    public void A_port_already_taken_is_one_line_and_no_lab_is_started()
    {
        RequiredTool.Check("dot");
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var at = $"127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";
        var (exit, stdout, stderr) = CommandLineSpec.Run($"lab view --listen {at}");
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith($"clusteractors: cannot listen on {at}: ", stderr);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));
    }
}

/// <summary>`lab view` as a process: SIGTERM stops the page and the lab (Kestrel's host must not swallow the signal).</summary>
public sealed class LiveViewProcessSpec
{
    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    [Fact]
    public async Task Sigterm_stops_the_view_and_its_lab_with_exit_0()
    {
        RequiredTool.Check("dot");
        int port;
        using (var free = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0))
        {
            free.Start();
            port = ((IPEndPoint)free.LocalEndpoint).Port;
        }
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet", $"\"{UnitProcess.Executable}\" lab view --listen 127.0.0.1:{port} --out {Path.GetTempPath()}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = AppContext.BaseDirectory,
        };
        using var p = System.Diagnostics.Process.Start(psi)!;
        try
        {
            var first = await p.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal($"lab view of seed (embedded): http://127.0.0.1:{port}/ (Ctrl-C or SIGTERM stops the view and its lab)", first);
            using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
                Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{port}/")).StatusCode);
            Assert.Equal(0, kill(p.Id, 15)); // SIGTERM, as docker stop and timeout send
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(0, p.ExitCode);
            Assert.Equal("lab view stopped", (await p.StandardOutput.ReadToEndAsync()).Trim());
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
    }
}
