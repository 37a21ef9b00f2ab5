using System.Net;
using ClusterActors.Node.Hosting;
using ClusterActors.Node.Hosting.Metrics;
using ClusterActors.Actors.Telemetry;

namespace ClusterActors.Node.Tests.Metrics;

/// <summary>Where a unit's metrics endpoint comes from (`clusteractors.unit.metrics`), and what a bad one does.</summary>
public sealed class MetricsEndpointOptionsSpec : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("metrics-options-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private UnitOptions Resolve(string unit, string? hocon = null)
    {
        var files = new List<string>();
        if (hocon is not null)
        {
            files.Add(Path.Combine(_dir, "unit.hocon"));
            File.WriteAllText(files[0], hocon);
        }
        var config = Path.Combine(AppContext.BaseDirectory, "scenarios", "seed", unit + ".conf");
        return hocon is null
            ? UnitOptionsResolver.Resolve(new UnitOptionsResolver.Request(Scenario: "seed", Unit: unit, DataDir: Path.Combine(_dir, unit), InsecureAkka: true))
            : UnitOptionsResolver.Resolve(new UnitOptionsResolver.Request(ConfigFile: config, DataDir: Path.Combine(_dir, unit), HoconFiles: files, InsecureAkka: true));
    }

    [Theory]
    [InlineData("DC2_VM1", 25601)]
    [InlineData("DC2_VM4", 25604)]
    public void The_seed_units_serve_on_loopback_port_2560N(string unit, int port) =>
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, port), Resolve(unit).Metrics);

    [Fact]
    public void A_unit_with_no_metrics_key_serves_none_and_one_with_a_key_serves_there()
    {
        Assert.Null(Resolve("DC2_VM1", "clusteractors.unit { admin = \"127.0.0.1:0\" }").Metrics);
        Assert.Equal(IPEndPoint.Parse("0.0.0.0:9100"), Resolve("DC2_VM1", "clusteractors.unit.metrics = \"0.0.0.0:9100\"").Metrics);
    }

    [Fact]
    public void A_metrics_value_that_is_no_endpoint_is_one_line_naming_the_key()
    {
        var e = Assert.Throws<UsageException>(() => Resolve("DC2_VM1", "clusteractors.unit.metrics = \"localhost:9100\""));
        Assert.Equal("clusteractors.unit.metrics: 'localhost:9100' is not HOST:PORT with a numeric IP address", e.Message);
    }

    [Fact]
    public void A_port_already_taken_fails_the_start_with_one_line_naming_the_endpoint()
    {
        var port = LoopbackLab.FreeTcpPort();
        using var first = new UnitMetrics("DC2_VM1", "FGVM02TM22000001", new UnitCounters());
        first.Serve(new IPEndPoint(IPAddress.Loopback, port));
        using var second = new UnitMetrics("DC2_VM2", "FGVM02TM22000002", new UnitCounters());
        var e = Assert.Throws<UsageException>(() => second.Serve(new IPEndPoint(IPAddress.Loopback, port)));
        Assert.StartsWith($"metrics endpoint 127.0.0.1:{port}: cannot listen", e.Message);
    }
}
