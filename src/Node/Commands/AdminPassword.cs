using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Commands;

/// <summary>
/// Where `clusteractors cli` gets the administrator's password, first found wins: `--password-file FILE` (its first
/// line), then CLUSTERACTORS_PASSWORD, then a prompt on the terminal without echo. None: the request goes without a
/// login and the unit refuses it (exit 3).
/// </summary>
public static class AdminPassword
{
    public static string? Read(string? passwordFile, string? environment, bool canPrompt, TextWriter prompt)
    {
        if (passwordFile is not null)
        {
            try
            {
                using var reader = new StreamReader(passwordFile);
                return (reader.ReadLine() ?? "").TrimEnd('\r');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The reason, not the file's content.
                throw new UsageException($"--password-file {passwordFile}: {e.Message}");
            }
        }
        if (!string.IsNullOrEmpty(environment)) return environment;
        if (!canPrompt) return null;
        prompt.Write("Password: ");
        prompt.Flush();
        var typed = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter) break;
            if (key.Key == ConsoleKey.Backspace) { if (typed.Length > 0) typed.Length--; continue; }
            if (!char.IsControl(key.KeyChar)) typed.Append(key.KeyChar);
        }
        prompt.WriteLine();
        return typed.ToString();
    }
}
