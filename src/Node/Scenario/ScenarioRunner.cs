using System.Diagnostics;

namespace ClusterActors.Node.Scenario;

/// <summary>
/// Runs scenario steps against a driver and writes a transcript: each step as written on a line of its own, then
/// its output. A step fails when the driver cannot carry it out (it throws) or an `expect` does not match in time;
/// a CLI command the unit rejects is printed and the run goes on, as on FortiOS.
/// Exit codes: 0 every step passed, 1 a step failed, 2 a script line was invalid.
/// </summary>
public sealed class ScenarioRunner(IScenarioDriver driver, TextWriter output)
{
    public const int Passed = 0, StepFailed = 1, ScriptInvalid = 2;

    /// <summary>How long an `expect` waits between two tries of its command.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Echo each step before its output. Off at a terminal, where the user's typing already shows it.</summary>
    public bool EchoSteps { get; init; } = true;

    public string Prompt { get; init; } = "> ";

    /// <summary>A parsed script (a file): stops at the first failed step.</summary>
    public async Task<int> RunAsync(IEnumerable<ScenarioStep> steps, CancellationToken ct = default)
    {
        foreach (var step in steps)
            if (!await RunStepAsync(step, ct))
                return StepFailed;
        return Passed;
    }

    /// <summary>
    /// Steps read one line at a time, as they arrive. From a pipe it behaves like a file (the first bad line or failed
    /// step ends the run); interactively, a bad line is reported on <paramref name="errors"/> and skipped, a failed
    /// step is reported and the session goes on, and the exit code at the end says whether anything failed.
    /// </summary>
    public async Task<int> RunLinesAsync(TextReader input, ScenarioScript script, bool interactive, TextWriter errors, CancellationToken ct = default)
    {
        var failed = false;
        var lineNumber = 0;
        while (true)
        {
            if (interactive)
            {
                await output.WriteAsync(Prompt);
                await output.FlushAsync(ct);
            }
            var line = await input.ReadLineAsync(ct);
            if (line is null) break;
            lineNumber++;
            var parsed = script.ParseLine(line, lineNumber);
            if (parsed.Error is not null)
            {
                await errors.WriteLineAsync(parsed.Error.ToString());
                await errors.FlushAsync(ct);
                if (!interactive) return ScriptInvalid;
                failed = true;
                continue;
            }
            if (parsed.Step is null) continue;
            if (!await RunStepAsync(parsed.Step, ct))
            {
                if (!interactive) return StepFailed;
                failed = true;
            }
        }
        if (interactive) await output.WriteLineAsync();
        return failed ? StepFailed : Passed;
    }

    /// <summary>Runs one step, printing it and its output; false when it failed.</summary>
    public async Task<bool> RunStepAsync(ScenarioStep step, CancellationToken ct = default)
    {
        if (EchoSteps) await output.WriteLineAsync(step.Text);
        try
        {
            switch (step)
            {
                case CliStep cli:
                    await WriteOutput((await driver.Cli(cli.Unit, cli.Command)).Output);
                    return true;
                case DialStep:
                    await WriteOutput(await driver.Dial());
                    return true;
                case KillStep kill:
                    await driver.Kill(kill.Unit);
                    await output.WriteLineAsync($"{kill.Unit} killed");
                    return true;
                case StartStep start:
                    await driver.Start(start.Unit);
                    await output.WriteLineAsync($"{start.Unit} started");
                    return true;
                case LinkStep link:
                    await driver.Link(link.Unit, link.Port, link.Up);
                    await output.WriteLineAsync($"{link.Unit} {link.Port} {(link.Up ? "up" : "down")}");
                    return true;
                case ImpairStep impair:
                    await WriteOutput(await driver.Impair(impair.Unit, impair.Port, impair.Spec));
                    return true;
                case WaitStep wait:
                    await Task.Delay(wait.Duration, ct);
                    return true;
                case ExpectStep expect:
                    return await Expect(expect, ct);
                case TrafficStartStep start:
                    await WriteOutput(await driver.TrafficStart(start.PacketsPerSecond, start.PayloadSize));
                    return true;
                case TrafficStopStep:
                    await WriteOutput(await driver.TrafficStop());
                    return true;
                case TrafficReportStep:
                    await WriteOutput(await driver.TrafficReport());
                    return true;
                case RouterStep:
                    await WriteOutput(await driver.Router());
                    return true;
                case PcapStartStep:
                    await WriteOutput(await driver.PcapStart());
                    return true;
                case PcapSaveStep save:
                    await WriteOutput(await driver.PcapSave(save.Directory));
                    return true;
                default:
                    throw new NotSupportedException($"no runner for {step.GetType().Name}");
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            await output.WriteLineAsync($"{Verb(step)} failed: {e.Message}");
            return false;
        }
        finally
        {
            await output.FlushAsync(ct);
        }
    }

    /// <summary>
    /// Tries the command until its output matches or the time is up; always at least once. A try that outlasts the
    /// remaining time is abandoned, so `within 3s` holds even when a unit does not answer.
    /// </summary>
    private async Task<bool> Expect(ExpectStep expect, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        var last = "";
        while (true)
        {
            var remaining = expect.Within - sw.Elapsed;
            var attempt = driver.Cli(expect.Unit, expect.Command);
            var done = await Task.WhenAny(attempt, Task.Delay(remaining > PollInterval ? remaining : PollInterval, ct));
            if (done == attempt)
            {
                if (attempt.IsCompletedSuccessfully)
                {
                    last = attempt.Result.Output;
                    if (expect.Pattern.IsMatch(last))
                    {
                        await WriteOutput(last);
                        return true;
                    }
                }
                else
                {
                    last = $"{expect.Unit}: {attempt.Exception?.GetBaseException().Message ?? "cancelled"}\n";
                }
            }
            else
            {
                ct.ThrowIfCancellationRequested();
                _ = attempt.ContinueWith(t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
            }
            remaining = expect.Within - sw.Elapsed;
            if (remaining <= TimeSpan.Zero) break;
            await Task.Delay(remaining < PollInterval ? remaining : PollInterval, ct);
        }
        await WriteOutput(last);
        await output.WriteLineAsync($"expect failed: /{expect.Pattern}/ not matched within {ScenarioScript.FormatDuration(expect.Within)}");
        return false;
    }

    /// <summary>Output as the unit printed it; a missing final newline is added so the next step starts its own line.</summary>
    private async Task WriteOutput(string text)
    {
        if (text.Length == 0) return;
        await output.WriteAsync(text);
        if (!text.EndsWith('\n')) await output.WriteLineAsync();
    }

    private static string Verb(ScenarioStep step) => step switch
    {
        CliStep c => c.Unit + ">",
        DialStep => "dial",
        KillStep => "kill",
        StartStep => "start",
        LinkStep => "link",
        ImpairStep => "impair",
        WaitStep => "wait",
        ExpectStep => "expect",
        TrafficStartStep or TrafficStopStep or TrafficReportStep => "traffic",
        RouterStep => "router",
        PcapStartStep or PcapSaveStep => "pcap",
        _ => "step"
    };
}
