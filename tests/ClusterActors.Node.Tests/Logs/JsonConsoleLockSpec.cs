using ClusterActors.Node.Hosting.Logs;

namespace ClusterActors.Node.Tests.Logs;

/// <summary>
/// `--log-format json` never waits for the console's lock (src/Node/Hosting/Logs/README.md, "The silent start"): a
/// unit's host thread printed its "up" line, holding <see cref="Console.Out"/> (the synchronized line writer), and
/// waited for the JSON sink, while an Akka thread inside the sink wrote through the console's stream, whose every write
/// on Unix takes the lock of Console.Out: the unit deadlocked and logged nothing more (1 start in 40, twice in CI).
/// Here a thread holds Console.Out as the host's line does, and Akka's logger and the host's stderr must still write.
/// The two lines go to this test process's own standard output and error.
/// </summary>
[Collection(JsonConsoleCollection.Name)]
public sealed class JsonConsoleLockSpec
{
    [Fact]
    public void Akkas_lines_and_the_hosts_stderr_are_written_while_another_thread_holds_the_console()
    {
        using var logs = JsonUnitLogs.Install("DC2_VM1", "FGVM02TM22000001");
        var held = new ManualResetEventSlim();
        var release = new ManualResetEventSlim();
        var holder = new Thread(() =>
        {
            lock (Console.Out) // what TextWriter.Synchronized does while the host writes a line
            {
                held.Set();
                release.Wait(TimeSpan.FromSeconds(30));
            }
        }) { IsBackground = true };
        holder.Start();
        Assert.True(held.Wait(TimeSpan.FromSeconds(10)));
        try
        {
            var akka = Task.Factory.StartNew(() => new SerilogAkkaLogger().Tell(
                new Akka.Event.Info("json-console-lock-spec", typeof(JsonConsoleLockSpec), "an Akka line while the console is held"), Akka.Actor.ActorRefs.NoSender),
                TaskCreationOptions.LongRunning);
            var host = Task.Factory.StartNew(() => Console.Error.WriteLine("json-console-lock-spec: a host stderr line while the console is held"),
                TaskCreationOptions.LongRunning);
            Assert.True(akka.Wait(TimeSpan.FromSeconds(5)), "Akka's line waited for the lock of Console.Out");
            Assert.True(host.Wait(TimeSpan.FromSeconds(5)), "the host's stderr line waited for the lock of Console.Out");
        }
        finally
        {
            release.Set();
            holder.Join(TimeSpan.FromSeconds(10));
        }
    }
}

/// <summary>Specs that replace the process's console writers: alone, so that no other class writes through them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class JsonConsoleCollection
{
    public const string Name = "json-console";
}
