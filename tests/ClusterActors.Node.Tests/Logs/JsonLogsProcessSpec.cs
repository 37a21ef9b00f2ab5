using System.Diagnostics;
using System.Net;
using System.Text.Json;
using ClusterActors.Node.Hosting;
using ClusterActors.Protocol.Config;
using Xunit.Abstractions;

namespace ClusterActors.Node.Tests.Logs;

/// <summary>
/// One `clusteractors node --log-format json` OS process, as a log pipeline reads it: every line it writes is one JSON
/// object with the documented fields (src/Node/Hosting/Logs/README.md), Akka's lines and the host's alike, the HA
/// events selectable by EventKind, and no secret of its config anywhere.
/// </summary>
[Collection(RealProcessesCollection.Name)]
public sealed class JsonLogsProcessSpec(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "clusteractors-jsonlogs-" + Guid.NewGuid().ToString("N")[..8]);
    private UnitProcess? _unit;

    public void Dispose()
    {
        if (_unit is not null)
        {
            output.WriteLine($"--- log:\n{_unit.Log}");
            _unit.Dispose();
        }
        try { Directory.Delete(_dir, true); } catch { /* best effort */ }
    }

    [Fact]
    public async Task Every_line_of_a_json_unit_is_one_clef_object_with_its_identity_and_no_secret()
    {
        const string unit = "DC2_VM1";
        var serial = LoopbackLab.ScenarioConfig(unit).SerialNumber!;
        Directory.CreateDirectory(_dir);
        var certs = Path.Combine(_dir, "certs");
        LabCertificateAuthority.Create().WriteTo(certs, [(unit, serial)]);
        // hello-holddown 5: alone, the unit is primary after 5 s, so that an HA event is in the log.
        var scenario = FortiConfig.ParseFile(Path.Combine(AppContext.BaseDirectory, "scenarios", "seed", unit + ".conf"));
        var changed = scenario.Value!.Apply("config system ha\nset hello-holddown 5\nend", "spec");
        Assert.True(changed.Ok, string.Join("\n", changed.Errors));
        var configFile = Path.Combine(_dir, unit + ".conf");
        File.WriteAllText(configFile, changed.Value!.ToText());
        var admin = LoopbackLab.FreeTcpPort();
        var wiring = Path.Combine(_dir, unit + ".hocon");
        File.WriteAllText(wiring, $$"""
            clusteractors.unit {
              akka = "127.0.0.1:{{LoopbackLab.FreeTcpPort()}}"
              admin = "127.0.0.1:{{admin}}"
              contacts = []
              hbdev.port4 { bind = "127.0.0.1:{{LoopbackLab.FreeUdpPort()}}", peers = ["127.0.0.1:{{LoopbackLab.FreeUdpPort()}}"] }
              certs = "{{certs}}"
            }
            """);
        _unit = new UnitProcess($"node --config \"{configFile}\" --hocon \"{wiring}\" --data \"{Path.Combine(_dir, unit)}\" --log-format json",
            new IPEndPoint(IPAddress.Loopback, admin));
        _unit.Start();

        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(60) && !_unit.Log.Contains("\"HaRole\":\"Primary\"")) await Task.Delay(100);
        // The log's tail in the message: a start that went wrong says why right where the failure is read.
        // The process's own state too: a CI trial's unit logged nothing after "Cluster Node … Started up successfully"
        // for 60 s (it starts in 6 s here, alone or beside three CPU burners), and only its log was there to read.
        if (!_unit.Log.Contains("\"HaRole\":\"Primary\""))
            Assert.Fail($"no HA event saying Primary within 60 s; the process: {await _unit.Diagnose()}; last lines:\n"
                        + string.Join("\n", _unit.Log.Split('\n').TakeLast(15)));
        _unit.Kill9();

        var lines = _unit.Log.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
        var events = new List<JsonElement>();
        foreach (var line in lines)
        {
            JsonElement e;
            try
            {
                e = JsonDocument.Parse(line).RootElement.Clone();
            }
            catch (JsonException)
            {
                throw new Xunit.Sdk.XunitException($"not one JSON object: {line}");
            }
            Assert.Equal(JsonValueKind.Object, e.ValueKind);
            Assert.True(DateTimeOffset.TryParse(e.GetProperty("@t").GetString(), out _), line);
            Assert.False(string.IsNullOrEmpty(e.GetProperty("@m").GetString()), line);
            // CLEF: no @l is Information; any other level is named.
            if (e.TryGetProperty("@l", out var level))
                Assert.Contains(level.GetString(), new[] { "Verbose", "Debug", "Warning", "Error", "Fatal" });
            Assert.Equal(unit, e.GetProperty("Hostname").GetString());
            Assert.Equal(serial, e.GetProperty("Serial").GetString());
            Assert.Contains(e.GetProperty("Origin").GetString(), new[] { "akka", "host" });
            events.Add(e);
        }

        // Akka's own lines, with the actor that logged them.
        Assert.Contains(events, e => e.GetProperty("Origin").GetString() == "akka"
                                     && e.GetProperty("LogSource").GetString()!.Contains("/user/fortigate/fgcp"));
        // The host's own line, rendered as the text format prints it.
        Assert.Contains(events, e => e.GetProperty("Origin").GetString() == "host"
                                     && e.GetProperty("@m").GetString()!.StartsWith($"{unit} ({serial}) up: admin 127.0.0.1:{admin}"));
        // The HA events, selectable without parsing the message.
        Assert.Contains(events, e => e.TryGetProperty("EventKind", out var k) && k.GetString() == "ha"
                                     && e.GetProperty("HaEvent").GetString() == "HaRoleObserved" && e.GetProperty("HaPrimarySerial").GetString() == serial);
        // The seed config's secrets: the IPsec PSK and the HA password in clear, the admin password ENC.
        Assert.DoesNotContain("scenario-psk", _unit.Log);
        Assert.DoesNotContain("fgcp-DC2_VM", _unit.Log);
        Assert.DoesNotContain("PB2AAGGoC5wLN1rlEdA2", _unit.Log); // the admin password, ENC as in the config
    }
}
