using ClusterActors.Protocol.Config;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// The unit's own private data key (`config system global` / `set private-data-encryption enable`): generated at the
/// unit's first start and kept in <see cref="FileName"/> in its data folder, beside the SQLite journal, readable by the
/// unit's user only (0600). FortiOS 7.6.1+ likewise generates a random key on enable; ours exists from the first start
/// so that enabling never has to re-encrypt what is already written. Losing the file loses the secrets written under it
/// (as on FortiOS): the journal's ENC values under it no longer decrypt and those changes are skipped at replay.
/// </summary>
public static class PrivateDataKeyFile
{
    public const string FileName = "private-data.key";

    public static PrivateDataKey LoadOrCreate(string dataDir)
    {
        Directory.CreateDirectory(dataDir);
        var path = Path.Combine(dataDir, FileName);
        if (File.Exists(path))
        {
            var text = File.ReadAllText(path);
            return PrivateDataKey.FromHex(text)
                   ?? throw new UsageException($"{path} is not a private data key (64 hexadecimal digits); move it aside to generate a new one, " +
                                               "which makes ENC values written under the old one unreadable");
        }
        var key = PrivateDataKey.Generate();
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using (var f = new FileStream(path, options))
        using (var w = new StreamWriter(f))
            w.Write(key.ToHex() + "\n");
        return key;
    }
}
