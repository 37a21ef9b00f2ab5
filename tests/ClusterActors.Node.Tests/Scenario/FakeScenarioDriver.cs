using ClusterActors.Actors.Unit;
using ClusterActors.Node.Scenario;

namespace ClusterActors.Node.Tests.Scenario;

/// <summary>An in-memory lab: scripted CLI outputs per unit and command, every call recorded.</summary>
internal sealed class FakeScenarioDriver : IScenarioDriver
{
    private readonly Dictionary<string, Queue<Func<Task<CliResult>>>> _outputs = new();

    public List<string> Calls { get; } = new();
    public IReadOnlyList<string> Units { get; } = ["DC2_VM1", "DC2_VM2", "DC2_VM3", "DC2_VM4"];
    public HashSet<string> Down { get; } = new();
    public Func<string>? OnDial { get; set; }
    public Exception? StartAllFails { get; set; }
    public bool Disposed { get; private set; }

    /// <summary>Answers for `UNIT> COMMAND`, one per call; the last one keeps answering.</summary>
    public FakeScenarioDriver Answer(string unit, string command, params CliResult[] results)
    {
        foreach (var r in results) Queue(unit, command).Enqueue(() => Task.FromResult(r));
        return this;
    }

    /// <summary>The unit never answers this command (an Ask that would time out).</summary>
    public FakeScenarioDriver Hang(string unit, string command)
    {
        Queue(unit, command).Enqueue(() => new TaskCompletionSource<CliResult>().Task);
        return this;
    }

    private Queue<Func<Task<CliResult>>> Queue(string unit, string command)
    {
        var key = $"{unit}> {command}";
        if (!_outputs.TryGetValue(key, out var q)) _outputs[key] = q = new();
        return q;
    }

    public Task StartAll()
    {
        Calls.Add("start-all");
        return StartAllFails is null ? Task.CompletedTask : Task.FromException(StartAllFails);
    }

    public Task<CliResult> Cli(string unit, string command)
    {
        Calls.Add($"{unit}> {command}");
        if (Down.Contains(unit)) return Task.FromException<CliResult>(new InvalidOperationException($"{unit} is not running"));
        if (!_outputs.TryGetValue($"{unit}> {command}", out var q) || q.Count == 0) return Task.FromResult(new CliResult("", 0));
        return (q.Count > 1 ? q.Dequeue() : q.Peek())();
    }

    public Task<string> Dial()
    {
        Calls.Add("dial");
        return OnDial is null ? Task.FromException<string>(new NotSupportedException("no client")) : Task.FromResult(OnDial());
    }

    public Task Kill(string unit)
    {
        Calls.Add($"kill {unit}");
        if (!Down.Add(unit)) return Task.FromException(new InvalidOperationException($"{unit} is not running"));
        return Task.CompletedTask;
    }

    public Task Start(string unit)
    {
        Calls.Add($"start {unit}");
        if (!Down.Remove(unit)) return Task.FromException(new InvalidOperationException($"{unit} is already running"));
        return Task.CompletedTask;
    }

    public Task Link(string unit, string port, bool up)
    {
        Calls.Add($"link {unit} {port} {(up ? "up" : "down")}");
        return Task.CompletedTask;
    }

    public Task<string> Impair(string unit, string port, ClusterActors.Actors.DataPlane.ImpairmentSpec? spec)
    {
        Calls.Add($"impair {unit} {port} {spec?.ToString() ?? "clear"}");
        return Task.FromResult($"{unit} {port} impaired");
    }

    public Task<string> TrafficStart(int packetsPerSecond, int payloadSize)
    {
        Calls.Add($"traffic start {packetsPerSecond} {payloadSize}");
        return Task.FromResult($"traffic started: {packetsPerSecond} pps");
    }

    public Task<string> TrafficStop()
    {
        Calls.Add("traffic stop");
        return Task.FromResult("traffic stopped");
    }

    public Task<string> TrafficReport()
    {
        Calls.Add("traffic report");
        return Task.FromResult("sent 10, answered 10, lost 0");
    }

    public Task<string> PcapStart()
    {
        Calls.Add("pcap start");
        return Task.FromResult("capturing");
    }

    public Task<string> PcapSave(string directory)
    {
        Calls.Add($"pcap save {directory}");
        return Task.FromResult($"saved to {directory}");
    }

    public Task<string> Router()
    {
        Calls.Add("router");
        return Task.FromResult("192.168.202.35/32 ecmp\n");
    }

    public ValueTask DisposeAsync()
    {
        Disposed = true;
        return ValueTask.CompletedTask;
    }
}
