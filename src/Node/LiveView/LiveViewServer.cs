using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ClusterActors.Node.LiveView;

/// <summary>
/// `lab view`'s web server: Kestrel with four minimal-API routes (src/Node/LiveView/README.md).
/// GET / the page; GET /events the server-sent events (a snapshot per poll, an event per change); GET /snapshot the
/// last snapshot as JSON; POST /drills/NAME starts a drill (202), refused while one runs or the lab comes up (409), for
/// a drill the topology has no roles for (404), or without the page's header (403).
/// </summary>
public sealed class LiveViewServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LiveViewServer(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>Where it listens, e.g. http://127.0.0.1:8080/ (the port the system chose when 0 was asked).</summary>
    public Uri Address { get; }

    public static async Task<LiveViewServer> StartAsync(LiveViewHub hub, IPEndPoint listen, string svg, CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(listen));
        // The command owns Ctrl-C and SIGTERM (LiveViewCommand): the host's ConsoleLifetime would take both for itself and,
        // with no app.Run() waiting on it, swallow them, leaving the view running.
        builder.Services.AddSingleton<IHostLifetime, CommandOwnsSignals>();
        // A stream open in a browser must not hold the view's stop for the host's default 30 s.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        Map(app, hub, svg);
        await app.StartAsync(ct);
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new LiveViewServer(app, new Uri(bound.EndsWith('/') ? bound : bound + "/"));
    }

    private static void Map(WebApplication app, LiveViewHub hub, string svg)
    {
        var stopping = app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        app.MapGet("/", () => Results.Content(LiveViewPage.Render(hub, svg), "text/html; charset=utf-8"));
        app.MapGet("/snapshot", () => hub.Snapshot is { } s ? Results.Text(LiveViewModel.ToJson(s), "application/json") : Results.NoContent());
        app.MapGet("/drills", () => Results.Json(hub.Drills));
        app.MapGet("/events", async (HttpContext http) =>
        {
            using var ends = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, stopping);
            var after = AfterOf(http.Request.Headers["Last-Event-ID"].ToString()) ?? AfterOf(http.Request.Query["after"].ToString());
            http.Response.ContentType = "text/event-stream";
            http.Response.Headers.CacheControl = "no-cache";
            using var page = hub.Subscribe(after);
            try
            {
                await http.Response.WriteAsync(": clusteractors lab view\n\n", ends.Token);
                await http.Response.Body.FlushAsync(ends.Token);
                await foreach (var frame in page.Frames.ReadAllAsync(ends.Token))
                {
                    await http.Response.WriteAsync(frame, ends.Token);
                    await http.Response.Body.FlushAsync(ends.Token);
                }
            }
            catch (OperationCanceledException)
            {
                // the page went away, or the view stops
            }
        });
        app.MapPost("/drills/{name}", (HttpContext http, string name) =>
        {
            if (string.IsNullOrEmpty(http.Request.Headers[LiveViewPage.DrillHeader].ToString()))
                return Results.Text($"a drill is started from the page (header {LiveViewPage.DrillHeader})", statusCode: StatusCodes.Status403Forbidden);
            return hub.StartDrill(name, out var why) switch
            {
                LiveViewHub.DrillStart.Started => Results.Text($"{name} started: its progress follows in the events", statusCode: StatusCodes.Status202Accepted),
                LiveViewHub.DrillStart.Busy => Results.Text(why, statusCode: StatusCodes.Status409Conflict),
                _ => Results.Text(why, statusCode: StatusCodes.Status404NotFound),
            };
        });
    }

    private sealed class CommandOwnsSignals : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>The sequence number a reconnecting page had (Last-Event-ID, or ?after=); null when absent or not a number.</summary>
    public static long? AfterOf(string? text) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
