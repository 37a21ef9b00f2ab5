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
