using ClusterActors.Protocol.Ike;

namespace ClusterActors.Protocol.Config;

/// <summary>`set type` of `config vpn ipsec phase1-interface`: a static peer, a dialup server, or a peer found by DNS.</summary>
public enum Phase1Type { Static, Dynamic, Ddns }

/// <summary>`set dpd` of a phase1: no probes, probes when the tunnel is idle, or probes only when traffic goes unanswered.</summary>
public enum DpdMode { Disable, OnIdle, OnDemand }

/// <summary>`set peertype` of a phase1: which peer IDs it accepts (one: only `set peerid`).</summary>
public enum PeerType { Any, One, Dialup, Peer, Peergrp }

/// <summary>
/// FortiOS's words for the config values the code branches on. One table per enum: the schema accepts exactly these
/// words (an unknown one is a located error, "file:line: … expected one of: …"), the model holds the enum, and `show`
/// prints the word back (the config tree keeps the words).
/// </summary>
public static class ConfigWords
{
    private static readonly Dictionary<Type, (object Value, string Word)[]> Tables = new()
    {
        [typeof(Phase1Type)] = [(Phase1Type.Static, "static"), (Phase1Type.Dynamic, "dynamic"), (Phase1Type.Ddns, "ddns")],
        [typeof(DpdMode)] = [(DpdMode.Disable, "disable"), (DpdMode.OnIdle, "on-idle"), (DpdMode.OnDemand, "on-demand")],
        [typeof(PeerType)] = [(PeerType.Any, "any"), (PeerType.One, "one"), (PeerType.Dialup, "dialup"), (PeerType.Peer, "peer"), (PeerType.Peergrp, "peergrp")],
        // `set nattraversal`: the enum is the IKE side's (src/Protocol/Ike/NatDetection.cs), which acts on it.
        [typeof(NatTraversal)] = [(NatTraversal.Enable, "enable"), (NatTraversal.Disable, "disable"), (NatTraversal.Forced, "forced")],
    };

    private static (object Value, string Word)[] Table<T>() where T : struct, Enum => Tables[typeof(T)];

    /// <summary>The words FortiOS accepts, in the order its CLI lists them.</summary>
    public static IReadOnlyList<string> Of<T>() where T : struct, Enum => Table<T>().Select(e => e.Word).ToArray();

    /// <summary>What FortiOS prints for <paramref name="value"/>.</summary>
    public static string Word<T>(T value) where T : struct, Enum =>
        Table<T>().First(e => e.Value.Equals(value)).Word;

    public static bool TryParse<T>(string word, out T value) where T : struct, Enum
    {
        foreach (var e in Table<T>())
        {
            if (e.Word != word) continue;
            value = (T)e.Value;
            return true;
        }
        value = default;
        return false;
    }

    /// <summary>For words the schema has already validated: an unknown one here is a defect of the schema, not input.</summary>
    public static T Parse<T>(string word) where T : struct, Enum =>
        TryParse<T>(word, out var value) ? value : throw new InvalidOperationException($"'{word}' is not a {typeof(T).Name} word: the schema and ConfigWords disagree");
}
