using ClusterActors.Node.Hosting;

namespace ClusterActors.Node.Drills;

/// <summary>
/// A proposal family the container lab's strongSwan client dials with (`drill … --client strongswan --suite NAME`): the
/// units' vpn1 gets the FortiOS keywords and DH group, charon the same algorithms by its own names, and the dial is
/// checked against how `swanctl --list-sas` names the outcome, so a run that quietly fell back to another proposal
/// fails. Named by charon's IKE proposal. Issue 12's acceptance names the two: each pings through an FGCP failover in
/// `.ci/lab-drills`; the other families are dialed (without a failover) by StrongSwanClientSpec in namespaces.
/// </summary>
/// <param name="Phase1Proposal">vpn1's phase1 `set proposal`, as FortiOS names it.</param>
/// <param name="DhGroups">vpn1's phase1 `set dhgrp`.</param>
/// <param name="Phase2Proposal">vpn1's phase2 `set proposal`.</param>
/// <param name="SwanEsp">charon's esp_proposals for the CHILD SA `lan`.</param>
/// <param name="IkeListed">The IKE SA's algorithms as `swanctl --list-sas` prints them.</param>
/// <param name="EspListed">The CHILD SA's algorithms as `swanctl --list-sas` prints them.</param>
public sealed record StrongSwanSuite(string Name, string Phase1Proposal, string DhGroups, string Phase2Proposal, string SwanEsp, string IkeListed, string EspListed)
{
    public static readonly IReadOnlyList<StrongSwanSuite> Known =
    [
        new("aes256-sha256-modp2048", "aes256-sha256", "14", "aes256-sha256", "aes256-sha256",
            "AES_CBC-256/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048", "AES_CBC-256/HMAC_SHA2_256_128"),
        new("aes128gcm16-prfsha256-ecp256", "aes128gcm-prfsha256", "19", "aes128gcm", "aes128gcm16",
            "AES_GCM_16-128/PRF_HMAC_SHA2_256/ECP_256", "AES_GCM_16-128"),
    ];

    /// <summary>charon's IKE proposal: the suite's name.</summary>
    public string SwanIke => Name;

    /// <summary>The suite named <paramref name="name"/>; a usage error naming the known ones otherwise.</summary>
    public static StrongSwanSuite Named(string name) =>
        Known.FirstOrDefault(s => s.Name == name)
        ?? throw new UsageException($"unknown --suite '{name}' (known: {string.Join(", ", Known.Select(s => s.Name))}; without --suite, the seed's aes128-sha1-modp1024)");

    /// <summary>The CLI lines giving every unit's vpn1 this suite (phase1 and phase2), so whichever unit owns the tunnel
    /// after a fault runs the same algorithms.</summary>
    public string UnitChange =>
        $"config vpn ipsec phase1-interface\nedit \"vpn1\"\nset proposal {Phase1Proposal}\nset dhgrp {DhGroups}\nnext\nend\n"
        + $"config vpn ipsec phase2-interface\nedit \"vpn1\"\nset proposal {Phase2Proposal}\nnext\nend\n";

    /// <summary>Why <paramref name="listSas"/> (`swanctl --list-sas` after the dial) does not show this suite; null when it does.</summary>
    public string? Mismatch(string listSas) =>
        !listSas.Contains(IkeListed, StringComparison.Ordinal) ? $"the IKE SA is not {IkeListed}"
        : !listSas.Contains("ESP:" + EspListed, StringComparison.Ordinal) ? $"the CHILD SA is not {EspListed}"
        : null;
}
