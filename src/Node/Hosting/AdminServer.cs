using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Akka.Actor;
using Akka.Event;
using ClusterActors.Actors.Unit;
using ClusterActors.Actors.UnitConfig;
using ClusterActors.Protocol.Config;

namespace ClusterActors.Node.Hosting;

/// <summary>Limits of the admin endpoint (src/Node/Hosting/README.md, "Admin endpoint").</summary>
public sealed record AdminServerLimits
{
    /// <summary>Connections served at once; one more is answered `refused busy` and closed.</summary>
    public int MaxSessions { get; init; } = 16;

    /// <summary>Longest wait for the next bytes of a request (a client that connects and says nothing).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest a whole request may take to arrive (a client that trickles bytes: slowloris).</summary>
    public TimeSpan ReadTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>After a refusal, how long the rest of what the client sends is read and dropped so it receives the answer.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(2);

    public static AdminServerLimits Default { get; } = new();
}

/// <summary>
/// The unit's admin endpoint: one FortiOS CLI command (or a `config … end` script) per TCP connection, after a login
/// against `config system admin` (AdminProtocol has the wire format). Requests are capped at 64 KiB and read into one
/// pooled buffer of that size, never beyond; sessions are capped; a request must arrive within the idle and read
/// timeouts. Failed logins are logged with the source address and lock the address out as FortiOS does
/// (AdminLoginGuard). The socket is the host's: it lives as long as the unit's process, not an actor.
/// </summary>
public sealed class AdminServer : IDisposable
{
    private readonly TcpListener _listener;
    /// <summary>The unit's current actor: a new one after the host restarts the ActorSystem to rejoin Akka.</summary>
    private readonly Func<IActorRef> _unit;
    private readonly ILoggingAdapter _log;
    private readonly AdminServerLimits _limits;
    private readonly CancellationTokenSource _stop = new();
    private readonly AdminLogin _login;
    private int _sessions;

    private AdminServer(TcpListener listener, Func<IActorRef> unit, ILoggingAdapter log, AdminServerLimits limits, TimeProvider time)
    {
        _listener = listener;
        _unit = unit;
        _log = log;
        _limits = limits;
        _login = new AdminLogin(new AdminLoginGuard(time));
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndpoint;

    /// <summary>Sessions being served now.</summary>
    public int Sessions => Volatile.Read(ref _sessions);

    /// <summary>Refusals by reason since start (for specs and diagnostics).</summary>
    public IReadOnlyDictionary<AdminRefusal, long> Refusals
    {
        get { lock (_refusals) return new Dictionary<AdminRefusal, long>(_refusals); }
    }

    private readonly Dictionary<AdminRefusal, long> _refusals = new();

    public static AdminServer Start(IPEndPoint endPoint, IActorRef unit, ILoggingAdapter? log = null, AdminServerLimits? limits = null,
        TimeProvider? time = null) => Start(endPoint, () => unit, log, limits, time);

    public static AdminServer Start(IPEndPoint endPoint, Func<IActorRef> unit, ILoggingAdapter? log = null, AdminServerLimits? limits = null,
        TimeProvider? time = null)
    {
        var listener = new TcpListener(endPoint);
        try
        {
            listener.Start();
        }
        catch (SocketException e)
        {
            throw new UsageException($"admin endpoint {endPoint}: {e.Message}");
        }
        var server = new AdminServer(listener, unit, log ?? NoLogger.Instance, limits ?? AdminServerLimits.Default, time ?? TimeProvider.System);
        _ = server.AcceptLoop();
        return server;
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested) { return; }
            catch (SocketException) { continue; }
            catch (ObjectDisposedException) { return; }
            if (Interlocked.Increment(ref _sessions) > _limits.MaxSessions)
            {
                // Not a session: refused at once, and its drain is bounded by MaxDraining, not by the session cap.
                Interlocked.Decrement(ref _sessions);
                _ = RefuseAndClose(client, AdminRefusal.Busy);
                continue;
            }
            _ = Serve(client);
        }
    }

    private void Count(AdminRefusal r)
    {
        lock (_refusals) _refusals[r] = _refusals.GetValueOrDefault(r) + 1;
    }

    private async Task RefuseAndClose(Socket client, AdminRefusal reason)
    {
        try
        {
            Count(reason);
            await Refuse(client, reason);
        }
        finally
        {
            client.Dispose();
        }
    }

    /// <summary>Refusals whose client is still being drained; beyond <see cref="MaxDraining"/> a refused client is closed at once.</summary>
    private int _draining;

    private const int MaxDraining = 64;

    /// <summary>
    /// Sends the refusal, closes our side, then reads and drops whatever the client is still sending (a scratch buffer,
    /// for at most DrainTimeout) so that its kernel does not reset the connection before the answer is read.
    /// </summary>
    private async Task Refuse(Socket client, AdminRefusal reason)
    {
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            cts.CancelAfter(_limits.DrainTimeout);
            await client.SendAsync(AdminProtocol.RefusalAnswer(reason), SocketFlags.None, cts.Token);
            client.Shutdown(SocketShutdown.Send);
            if (Interlocked.Increment(ref _draining) > MaxDraining)
            {
                Interlocked.Decrement(ref _draining);
                return;
            }
            var scratch = ArrayPool<byte>.Shared.Rent(4096);
            try
            {
                while (await client.ReceiveAsync(scratch.AsMemory(0, 4096), SocketFlags.None, cts.Token) > 0) { }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(scratch);
                Interlocked.Decrement(ref _draining);
            }
        }
        catch (Exception) { /* the client went away or kept sending: closed either way */ }
    }

    private async Task Serve(Socket client)
    {
        var source = (client.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
        var buffer = ArrayPool<byte>.Shared.Rent(AdminProtocol.MaxRequestBytes + 1);
        try
        {
            if (_login.Guard.IsLockedOut(source, out _))
            {
                Count(AdminRefusal.LockedOut);
                await Refuse(client, AdminRefusal.LockedOut);
                return;
            }
            var (length, readRefusal) = await ReadRequest(client, buffer);
            if (readRefusal is { } rr)
            {
                Count(rr);
                await Refuse(client, rr);
                return;
            }
            var request = AdminProtocol.TryDecode(buffer.AsSpan(0, length), out var decodeRefusal);
            // The request is no longer needed once decoded: clear it, it may hold a password.
            Array.Clear(buffer, 0, length);
            if (request is null)
            {
                Count(decodeRefusal);
                await Refuse(client, decodeRefusal);
                return;
            }
            var refusal = await Authenticate(request, source);
            if (refusal is { } r)
            {
                Count(r);
                await Refuse(client, r);
                return;
            }
            CliResult result;
            try
            {
                result = await _unit().Ask<CliResult>(new RunCli(request.Command), TimeSpan.FromSeconds(15));
            }
            catch (Exception e) when (e is AskTimeoutException or TaskCanceledException)
            {
                result = new CliResult("the unit did not answer in time\n", 1);
            }
            await client.SendAsync(Encoding.UTF8.GetBytes($"exit {result.ExitCode}\n{result.Output}"), SocketFlags.None, _stop.Token);
            client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception) { /* the client went away; nothing to answer */ }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
            client.Dispose();
            Interlocked.Decrement(ref _sessions);
        }
    }

    /// <summary>
    /// Reads until the client closes its sending side, into <paramref name="buffer"/> only: one byte past the cap means
    /// too large, and nothing more is read. Each read must come within IdleTimeout, the whole within ReadTimeout.
    /// </summary>
    private async Task<(int Length, AdminRefusal? Refusal)> ReadRequest(Socket client, byte[] buffer)
    {
        var total = 0;
        var deadline = DateTime.UtcNow + _limits.ReadTimeout;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) return (total, AdminRefusal.Timeout);
            cts.CancelAfter(left < _limits.IdleTimeout ? left : _limits.IdleTimeout);
            int n;
            try
            {
                n = await client.ReceiveAsync(buffer.AsMemory(total, AdminProtocol.MaxRequestBytes + 1 - total), SocketFlags.None, cts.Token);
            }
            catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
            {
                return (total, AdminRefusal.Timeout);
            }
            if (n == 0) return (total, null);
            total += n;
            if (total > AdminProtocol.MaxRequestBytes) return (total, AdminRefusal.TooLarge);
        }
    }

    private static readonly TimeSpan StartingWait = TimeSpan.FromSeconds(10);

    private async Task<AdminRefusal?> Authenticate(AdminRequest request, IPAddress source)
    {
        if (!request.HasLogin)
        {
            _log.Warning("admin: request without login from {0} refused", source);
            return AdminRefusal.Login;
        }
        // A unit still reading its config journal cannot check a login: wait for it a while (as a command sent then
        // would have waited), then say so.
        ConfigDocument? config = null;
        var until = DateTime.UtcNow + StartingWait;
        while (config is null)
        {
            try
            {
                config = await _unit().Ask<ConfigDocument>(GetUnitConfig.Instance, TimeSpan.FromSeconds(5), _stop.Token);
            }
            catch (Exception) when (DateTime.UtcNow < until && !_stop.IsCancellationRequested)
            {
                await Task.Delay(200, _stop.Token);
            }
            catch (Exception)
            {
                return AdminRefusal.Starting;
            }
        }
        var outcome = await Task.Run(() => _login.Check(config, request.User!, request.Password ?? "", source));
        if (outcome.Ok)
        {
            _login.Guard.Succeeded(source);
            return null;
        }
        var (failures, lockedNow) = _login.Guard.Failed(source, config.Global.AdminLockoutThreshold, config.Global.AdminLockoutDuration);
        // The typed name is logged only when it is an account: a password typed as the user name stays out of the log.
        var who = outcome.KnownUser ? $"user \"{request.User}\"" : "an unknown user";
        _log.Warning("admin: login failed for {0} from {1} ({2}); failure {3} of admin-lockout-threshold {4}", who, source, outcome.Why, failures,
            config.Global.AdminLockoutThreshold);
        if (lockedNow)
            _log.Warning("admin: {0} locked out for {1:0} s after {2} failed logins (admin-lockout-duration)", source,
                config.Global.AdminLockoutDuration.TotalSeconds, failures);
        return AdminRefusal.Login;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}

/// <summary>
/// Checks one login against `config system admin`: the account exists, has a password, the password matches its PBKDF2
/// hash (AdminPasswordHash.Verify: the whole derivation runs, the comparison is fixed-time; an unknown user is checked
/// against a hash nothing matches, so it takes as long), and the source address is inside one of its trusthosts.
/// A verified (user, password, hash) triple is remembered as an HMAC under a per-process random key, so scripted
/// repeats of a good login cost one HMAC, not one PBKDF2; a failure is never remembered.
/// </summary>
public sealed class AdminLogin(AdminLoginGuard guard)
{
    public sealed record Outcome(bool Ok, bool KnownUser, string Why);

    private const int CacheSize = 64;
    private readonly byte[] _cacheKey = RandomNumberGenerator.GetBytes(32);
    private readonly LinkedList<byte[]> _verified = new();

    public AdminLoginGuard Guard { get; } = guard;

    public Outcome Check(ConfigDocument config, string user, string password, IPAddress source)
    {
        var account = config.Admins.FirstOrDefault(a => a.Name == user);
        var hash = account?.Password ?? AdminPasswordHash.Unmatchable;
        var matches = Verified(user, password, hash);
        if (account is null) return new(false, false, "no such administrator");
        if (account.Password is null) return new(false, true, "the account has no password");
        if (!matches) return new(false, true, "wrong password");
        if (!account.Trusts(source)) return new(false, true, "source address not in the account's trusthosts");
        return new(true, true, "ok");
    }

    private bool Verified(string user, string password, AdminPasswordHash hash)
    {
        var tag = HMACSHA256.HashData(_cacheKey, Encoding.UTF8.GetBytes($"{user}\0{password}\0{hash.Encoded}"));
        lock (_verified)
            if (_verified.Any(v => CryptographicOperations.FixedTimeEquals(v, tag))) return true;
        if (!hash.Verify(password)) return false;
        lock (_verified)
        {
            _verified.AddFirst(tag);
            if (_verified.Count > CacheSize) _verified.RemoveLast();
        }
        return true;
    }
}

/// <summary>The client side of the admin endpoint, used by `clusteractors cli`, the drills and the tests.</summary>
public static class AdminClient
{
    /// <summary>Runs <paramref name="command"/> logged in as <paramref name="credentials"/> (none: no login line, for the lab client's control port).</summary>
    /// <exception cref="AdminRefusedException">The unit refused: nothing ran.</exception>
    public static async Task<CliResult> RunAsync(IPEndPoint node, string command, TimeSpan timeout, AdminCredentials? credentials)
    {
        using var cts = new CancellationTokenSource(timeout);
        using var client = new TcpClient();
        await client.ConnectAsync(node, cts.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(AdminProtocol.Encode(command, credentials?.User, credentials?.Password), cts.Token);
        client.Client.Shutdown(SocketShutdown.Send);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var status = await reader.ReadLineAsync(cts.Token) ?? throw new IOException("the unit closed the connection without answering");
        if (status.StartsWith("refused ", StringComparison.Ordinal))
        {
            var reason = AdminProtocol.FromWord(status[8..]) ?? AdminRefusal.Malformed;
            var message = await reader.ReadLineAsync(cts.Token);
            throw new AdminRefusedException(node, reason, message ?? AdminProtocol.Message(reason));
        }
        if (!status.StartsWith("exit ", StringComparison.Ordinal) || !int.TryParse(status[5..], out var code))
            throw new IOException("unexpected answer from the unit");
        var output = await reader.ReadToEndAsync(cts.Token);
        return new CliResult(output, code);
    }

    /// <summary>The lab's administrator (<see cref="AdminCredentials.Lab"/>): what the drills, specs and benchmarks log in as.</summary>
    public static Task<CliResult> RunAsync(IPEndPoint node, string command, TimeSpan timeout) =>
        RunAsync(node, command, timeout, AdminCredentials.Lab);
}
