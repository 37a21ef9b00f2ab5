using System.Net;
using System.Text;

namespace ClusterActors.Node.Hosting;

/// <summary>Why the admin endpoint answered without running anything; the word after `refused` on the wire.</summary>
public enum AdminRefusal
{
    /// <summary>No login, an unknown user, a wrong password or a source address the account does not trust: one answer for all.</summary>
    Login,
    /// <summary>Too many failed logins from this source address: refused until admin-lockout-duration has passed.</summary>
    LockedOut,
    /// <summary>The concurrent-session cap is reached.</summary>
    Busy,
    /// <summary>More than <see cref="AdminProtocol.MaxRequestBytes"/> bytes.</summary>
    TooLarge,
    /// <summary>Not a request this endpoint understands.</summary>
    Malformed,
    /// <summary>The request did not arrive in time (idle or total read timeout).</summary>
    Timeout,
    /// <summary>The unit cannot check a login yet (its config is not read).</summary>
    Starting,
}

/// <summary>A decoded admin request: who logs in and the FortiOS command (or `config … end` script) to run.</summary>
public sealed record AdminRequest(string? User, string? Password, string Command)
{
    public bool HasLogin => User is not null;

    /// <summary>ToString never shows the password.</summary>
    public override string ToString() => $"AdminRequest(user {(User is null ? "none" : "set")}, {Command.Length} characters)";
}

/// <summary>
/// The admin endpoint's wire format, one request per TCP connection, text in UTF-8:
/// <code>
/// request  = [ "login " user " " base64(password) "\n" ] command      (the client then closes its sending side)
/// answer   = "exit " code "\n" output                                   (the command ran; code 0 or 1 as FortiOS)
///          | "refused " reason "\n" message "\n"                        (nothing ran; reason: AdminRefusal in kebab case)
/// </code>
/// A request without the login line is refused by a unit; the lab client's control port (LabClientCommand) uses the
/// same framing and ignores a login line. The decoder is total: any bytes give a request or a refusal, never an exception.
/// Refusal messages are constant text: they never carry any byte of the request.
/// </summary>
public static class AdminProtocol
{
    /// <summary>The largest request read (login line and command); beyond it the read stops and the answer is refused too-large.</summary>
    public const int MaxRequestBytes = 64 * 1024;

    public const int MaxUserLength = 64;

    /// <summary>FortiOS admin passwords are at most 128 characters; base64 of 128 four-byte characters fits.</summary>
    public const int MaxPasswordBytes = 512;

    private const string LoginWord = "login ";

    public static byte[] Encode(string command, string? user = null, string? password = null)
    {
        var head = user is null ? "" : $"{LoginWord}{user} {Convert.ToBase64String(Encoding.UTF8.GetBytes(password ?? ""))}\n";
        return Encoding.UTF8.GetBytes(head + command);
    }

    public static AdminRequest? TryDecode(ReadOnlySpan<byte> bytes, out AdminRefusal refusal)
    {
        refusal = AdminRefusal.Malformed;
        if (bytes.Length > MaxRequestBytes) { refusal = AdminRefusal.TooLarge; return null; }
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        string text;
        try { text = strict.GetString(bytes); }
        catch (DecoderFallbackException) { return null; }
        if (!text.StartsWith(LoginWord, StringComparison.Ordinal)) return new AdminRequest(null, null, text);
        var newline = text.IndexOf('\n');
        var header = newline < 0 ? text : text[..newline];
        var command = newline < 0 ? "" : text[(newline + 1)..];
        var parts = header[LoginWord.Length..].TrimEnd('\r').Split(' ');
        if (parts.Length != 2) return null;
        var user = parts[0];
        if (user.Length is 0 or > MaxUserLength || user.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))) return null;
        if (parts[1].Length > (MaxPasswordBytes + 2) / 3 * 4) return null;
        var buffer = new byte[parts[1].Length];
        if (!Convert.TryFromBase64String(parts[1], buffer, out var n)) return null;
        string password;
        try { password = strict.GetString(buffer, 0, n); }
        catch (DecoderFallbackException) { return null; }
        return new AdminRequest(user, password, command);
    }

    public static string Word(AdminRefusal r) => r switch
    {
        AdminRefusal.Login => "login",
        AdminRefusal.LockedOut => "locked-out",
        AdminRefusal.Busy => "busy",
        AdminRefusal.TooLarge => "too-large",
        AdminRefusal.Timeout => "timeout",
        AdminRefusal.Starting => "starting",
        _ => "malformed",
    };

    public static AdminRefusal? FromWord(string w) =>
        Enum.GetValues<AdminRefusal>().Cast<AdminRefusal?>().FirstOrDefault(r => Word(r!.Value) == w);

    /// <summary>The operator's line for each refusal: constant text, never any of the request.</summary>
    public static string Message(AdminRefusal r) => r switch
    {
        AdminRefusal.Login => "login refused: wrong or missing user name or password, or a source address the account does not trust (config system admin, trusthost1-10)",
        AdminRefusal.LockedOut => "login refused: too many failed logins from this address; try again after admin-lockout-duration (config system global)",
        AdminRefusal.Busy => "the admin endpoint has too many sessions open; try again",
        AdminRefusal.TooLarge => $"request too large: the limit is {MaxRequestBytes} bytes",
        AdminRefusal.Timeout => "the request did not arrive in time",
        AdminRefusal.Starting => "the unit is starting: it cannot check a login until its config is read",
        _ => "malformed request",
    };

    public static byte[] RefusalAnswer(AdminRefusal r) => Encoding.UTF8.GetBytes($"refused {Word(r)}\n{Message(r)}\n");
}

/// <summary>A unit answered the admin endpoint with a refusal: nothing ran.</summary>
public sealed class AdminRefusedException(IPEndPoint unit, AdminRefusal reason, string message)
    : Exception($"the unit at {unit} refused the request: {message}")
{
    public AdminRefusal Reason { get; } = reason;
}

/// <summary>Who the admin client logs in as. ToString never shows the password.</summary>
public sealed record AdminCredentials(string User, string Password)
{
    /// <summary>
    /// The shipped scenario's and the container lab's administrator (src/Node/scenarios/seed/*.conf,
    /// src/Node/lab/units/*.conf: `config system admin` / `edit "admin"`): a documented lab password, not a secret.
    /// </summary>
    public static AdminCredentials Lab { get; } = new("admin", LabPassword);

    public const string LabPassword = "ClusterActors-lab";

    public override string ToString() => $"AdminCredentials({User})";
}
