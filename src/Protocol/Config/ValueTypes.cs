using System.Globalization;
using System.Text;

namespace ClusterActors.Protocol.Config;

/// <summary>What a parsed value turned into: canonical words, plus the secret when the setting is one.</summary>
internal sealed record ParsedValue(string[] Words, Secret? Secret = null);

/// <summary>Which other part of the config a value's words must name; checked after the whole input is read.</summary>
internal enum RefKind { None, Interface, HbDevPairs, Phase1 }

/// <summary>
/// A setting's value syntax. Parse gets the raw tokens after the setting name (at least one) and either
/// returns canonical words or adds located errors and returns null.
/// </summary>
internal abstract class ValueType
{
    public abstract string Expected { get; }
    public virtual bool IsList => false;
    public virtual RefKind Ref => RefKind.None;
    public abstract ParsedValue? Parse(Token key, IReadOnlyList<Token> values, List<ConfigError> errors);
    public abstract string Render(IReadOnlyList<string> words, Secret? secret);

    protected bool Single(IReadOnlyList<Token> values, List<ConfigError> errors)
    {
        if (values.Count == 1) return true;
        errors.Add(values[1].Error("too many values", Expected));
        return false;
    }

    public static string Quote(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (var c in s)
        {
            if (c is '"' or '\\') sb.Append('\\');
            sb.Append(c);
        }
        return sb.Append('"').ToString();
    }
}

internal sealed class IntType(long min, long max) : ValueType
{
    public long Min => min;
    public long Max => max;
    public override string Expected => $"integer {min}-{max}";

    public override ParsedValue? Parse(Token key, IReadOnlyList<Token> values, List<ConfigError> errors)
    {
        if (!Single(values, errors)) return null;
        var t = values[0];
        if (!IsInteger(t.Text)) { errors.Add(t.Error("not an integer", Expected)); return null; }
        if (!long.TryParse(t.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
        {
            errors.Add(t.Error("value out of range", Expected));
            return null;
        }
        return new ParsedValue([v.ToString(CultureInfo.InvariantCulture)]);
    }

    public static bool IsInteger(string s) =>
        s.Length > 0 && (s[0] == '-' ? s.Length > 1 && s.Skip(1).All(char.IsAsciiDigit) : s.All(char.IsAsciiDigit));

    public override string Render(IReadOnlyList<string> words, Secret? secret) => words[0];
}

internal sealed class StringType(int maxLength, int minLength = 0, Func<string, string?>? check = null) : ValueType
{
    public override string Expected => minLength > 0 ? $"string of {minLength}-{maxLength} characters" : $"string of at most {maxLength} characters";

    public override ParsedValue? Parse(Token key, IReadOnlyList<Token> values, List<ConfigError> errors)
    {
        if (!Single(values, errors)) return null;
        var t = values[0];
        if (t.Text.Length > maxLength) { errors.Add(t.Error($"string too long ({t.Text.Length} > {maxLength} characters)", Expected)); return null; }
        if (t.Text.Length < minLength) { errors.Add(t.Error($"string too short ({t.Text.Length} < {minLength} characters)", Expected)); return null; }
        if (check?.Invoke(t.Text) is { } problem) { errors.Add(t.Error(problem, Expected)); return null; }
        return new ParsedValue([t.Text]);
    }

    public override string Render(IReadOnlyList<string> words, Secret? secret) => Quote(words[0]);
}

/// <summary>Quoted strings, one or more (VDOM lists and the like).</summary>
internal sealed class StringListType(int maxLength) : ValueType
{
    public override string Expected => $"one or more names of at most {maxLength} characters";
    public override bool IsList => true;

    public override ParsedValue? Parse(Token key, IReadOnlyList<Token> values, List<ConfigError> errors)
    {
        var bad = values.FirstOrDefault(v => v.Text.Length == 0 || v.Text.Length > maxLength);
        if (bad is not null) { errors.Add(bad.Error("invalid name length", Expected)); return null; }
        return new ParsedValue(values.Select(v => v.Text).Distinct().ToArray());
    }

    public override string Render(IReadOnlyList<string> words, Secret? secret) => string.Join(' ', words.Select(Quote));
}

internal class EnumType(IReadOnlyList<string> options, bool allowPrefix = true) : ValueType
{
    public IReadOnlyList<string> Options => options;
    public override string Expected => "one of: " + string.Join(", ", options);

    public override ParsedValue? Parse(Token key, IReadOnlyList<Token> values, List<ConfigError> errors)
    {
        if (!Single(values, errors)) return null;
        var w = ResolveOne(values[0], errors);
        return w is null ? null : new ParsedValue([w]);
    }

    protected string? ResolveOne(Token t, List<ConfigError> errors)
    {
        var m = Abbreviation.Resolve(t.Text, options, allowPrefix);
        if (m.Ok) return m.Value;
        errors.Add(m.Kind == MatchKind.Ambiguous
            ? t.Error($"ambiguous value; candidates: {string.Join(", ", m.Candidates)}", Expected)
            // A numeric near-miss is not a typo worth suggesting (`dhgrp 3` -> `1` would propose a weak group).
            : t.Error("invalid value", Expected, IntType.IsInteger(t.Text) ? null : m.Suggestion));
        return null;
    }

    public override string Render(IReadOnlyList<string> words, Secret? secret) => words[0];
}

/// <summary>Space separated option set (allowaccess, proposal, dhgrp). Duplicates collapse, order is kept.</summary>
internal sealed class MultiEnumType(IReadOnlyList<string> options, bool allowPrefix = true) : EnumType(options, allowPrefix)
{
    public override string Expected => "one or more of: " + string.Join(", ", Options);
    public override bool IsList => true;

    public override ParsedValue? Parse(Token key, IReadOnlyList<Token> values, List<ConfigError> errors)
    {
        var words = new List<string>();
        var ok = true;
        foreach (var t in values)
        {
            var w = ResolveOne(t, errors);
            if (w is null) ok = false;
            else if (!words.Contains(w)) words.Add(w);
        }
        return ok ? new ParsedValue(words.ToArray()) : null;
    }

    public override string Render(IReadOnlyList<string> words, Secret? secret) => string.Join(' ', words);
}

internal static class Ipv4
{
    public static bool TryParse(string s, out uint value)
    {
        value = 0;
        var parts = s.Split('.');
        if (parts.Length != 4) return false;
        foreach (var p in parts)
        {
            if (p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit)) return false;
            var b = int.Parse(p, CultureInfo.InvariantCulture);
            if (b > 255) return false;
            value = (value << 8) | (uint)b;
        }
        return true;
    }

    public static string Format(uint v) => $"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}";

    public static uint MaskOf(int prefix) => prefix == 0 ? 0u : uint.MaxValue << (32 - prefix);

    /// <summary>Prefix length of a contiguous mask, or -1: FortiOS rejects masks like 255.0.255.0.</summary>
    public static int PrefixOf(uint mask)
    {
        var len = System.Numerics.BitOperations.PopCount(mask);
        return MaskOf(len) == mask ? len : -1;
    }
}

internal sealed class IpType : ValueType
{
    public override string Expected => "IPv4 address (a.b.c.d)";

    public override ParsedValue? Parse(Token key, IReadOnlyList<Token> values, List<ConfigError> errors)
    {
        if (!Single(values, errors)) return null;
        if (!Ipv4.TryParse(values[0].Text, out var ip)) { errors.Add(values[0].Error("invalid IPv4 address", Expected)); return null; }
        return new ParsedValue([Ipv4.Format(ip)]);
    }

    public override string Render(IReadOnlyList<string> words, Secret? secret) => words[0];
}

/// <summary>Address plus netmask; accepts `a.b.c.d m.m.m.m` and `a.b.c.d/len`, always stored dotted as FortiOS shows it.</summary>
internal sealed class IpMaskType : ValueType
{
    public override string Expected => "IPv4 address and netmask (a.b.c.d m.m.m.m or a.b.c.d/len)";

    public override ParsedValue? Parse(Token key, IReadOnlyList<Token> values, List<ConfigError> errors)
    {
        if (values.Count > 2) { errors.Add(values[2].Error("too many values", Expected)); return null; }
        var first = values[0];
        string ipText;
        uint mask;
        if (values.Count == 1)
        {
            var slash = first.Text.IndexOf('/');
            if (slash < 0) { errors.Add(first.Error("missing netmask", Expected)); return null; }
            ipText = first.Text[..slash];
            var lenText = first.Text[(slash + 1)..];
            if (!lenText.All(char.IsAsciiDigit) || lenText.Length is 0 or > 2 || int.Parse(lenText, CultureInfo.InvariantCulture) > 32)
            {
                errors.Add(first.Error("invalid prefix length", "prefix length 0-32"));
                return null;
            }
            mask = Ipv4.MaskOf(int.Parse(lenText, CultureInfo.InvariantCulture));
        }
        else
        {
            ipText = first.Text;
            if (!Ipv4.TryParse(values[1].Text, out mask)) { errors.Add(values[1].Error("invalid netmask", Expected)); return null; }
            if (Ipv4.PrefixOf(mask) < 0) { errors.Add(values[1].Error("invalid netmask (not contiguous)", Expected)); return null; }
        }
        if (!Ipv4.TryParse(ipText, out var ip)) { errors.Add(first.Error("invalid IPv4 address", Expected)); return null; }
        return new ParsedValue([Ipv4.Format(ip), Ipv4.Format(mask)]);
    }

    public override string Render(IReadOnlyList<string> words, Secret? secret) => $"{words[0]} {words[1]}";
}

/// <summary>
/// Plain text (the seed's literal `********` is an 8-character password) or `ENC base64` from our own
/// rendering (under the product key, or the unit's own key when the interpreter was given it). Always rendered as
/// ENC. Errors about a secret never echo any of its tokens: each may be clear text.
/// </summary>
internal sealed class SecretType(int minLength, int maxLength) : ValueType
{
    public override string Expected => $"secret of {minLength}-{maxLength} characters, or ENC <base64>";

    public override ParsedValue? Parse(Token key, IReadOnlyList<Token> values, List<ConfigError> errors) => Parse(key, values, errors, null);

    public ParsedValue? Parse(Token key, IReadOnlyList<Token> values, List<ConfigError> errors, PrivateDataKey? unitKey)
    {
        Secret secret;
        if (values[0].Text == "ENC" && !values[0].Quoted)
        {
            if (values.Count == 1) { errors.Add(values[0].Error("missing value after ENC", "base64 ENC value")); return null; }
            if (values.Count > 2) { errors.Add(Masked(values[2]).Error("too many values", Expected)); return null; }
            if (!Secret.TryFromEncrypted(values[1].Text, unitKey, out var s))
            {
                errors.Add(Masked(values[1]).Error("cannot decrypt ENC value", "ENC produced by this product under its key or this unit's private data key"));
                return null;
            }
            secret = s!;
        }
        else
        {
            if (values.Count > 1) { errors.Add(Masked(values[1]).Error("too many values", Expected)); return null; }
            secret = new Secret(values[0].Text);
        }
        if (secret.Clear.Length < minLength || secret.Clear.Length > maxLength)
        {
            errors.Add(Masked(values[^1]).Error($"secret length must be {minLength}-{maxLength} characters", Expected));
            return null;
        }
        return new ParsedValue([], secret);
    }

    /// <summary>The token may be (part of) the clear text: its place is kept, its text never.</summary>
    public static Token Masked(Token t) => t with { Text = "********" };

    public override string Render(IReadOnlyList<string> words, Secret? secret) => secret!.ToString();
}

/// <summary>
/// `config system admin` / `set password`: typed clear, stored and shown only as the one-way hash `ENC PB2…`
/// (<see cref="AdminPasswordHash"/>). `set password ENC PB2…` takes a hash as shown.
/// </summary>
internal sealed class PasswordHashType(int minLength, int maxLength) : ValueType
{
    public override string Expected => $"password of {minLength}-{maxLength} characters, or ENC PB2<base64>";

    public override ParsedValue? Parse(Token key, IReadOnlyList<Token> values, List<ConfigError> errors)
    {
        if (values[0].Text == "ENC" && !values[0].Quoted)
        {
            if (values.Count != 2) { errors.Add(SecretType.Masked(values[^1]).Error(values.Count == 1 ? "missing value after ENC" : "too many values", "ENC PB2<base64>")); return null; }
            var hash = AdminPasswordHash.TryParse(values[1].Text);
            if (hash is null) { errors.Add(SecretType.Masked(values[1]).Error("not a password hash", "ENC PB2<base64> as `show system admin` prints it")); return null; }
            return new ParsedValue([hash.Encoded]);
        }
        if (values.Count > 1) { errors.Add(SecretType.Masked(values[1]).Error("too many values", Expected)); return null; }
        var clear = values[0].Text;
        if (clear.Length < minLength || clear.Length > maxLength)
        {
            errors.Add(SecretType.Masked(values[0]).Error($"password length must be {minLength}-{maxLength} characters", Expected));
            return null;
        }
        return new ParsedValue([AdminPasswordHash.Create(clear).Encoded]);
    }

    public override string Render(IReadOnlyList<string> words, Secret? secret) => "ENC " + words[0];
}

/// <summary>Interface names; existence is checked after the whole input so `system interface` may come later in the file.</summary>
internal sealed class InterfaceRefType(bool list) : ValueType
{
    public override string Expected => list ? "one or more interface names" : "interface name";
    public override bool IsList => list;
    public override RefKind Ref => RefKind.Interface;

    public override ParsedValue? Parse(Token key, IReadOnlyList<Token> values, List<ConfigError> errors)
    {
        if (!list && !Single(values, errors)) return null;
        var bad = values.FirstOrDefault(v => v.Text.Length is 0 or > 15);
        if (bad is not null) { errors.Add(bad.Error("invalid interface name", "interface name of 1-15 characters")); return null; }
        var dup = values.GroupBy(v => v.Text).Where(g => g.Count() > 1).Select(g => g.Skip(1).First()).FirstOrDefault();
        if (dup is not null) { errors.Add(dup.Error("interface listed twice", Expected)); return null; }
        return new ParsedValue(values.Select(v => v.Text).ToArray());
    }

    public override string Render(IReadOnlyList<string> words, Secret? secret) => string.Join(' ', words.Select(Quote));
}

/// <summary>`set hbdev "port4" 50 "port5" 40`: interface and heartbeat priority pairs.</summary>
internal sealed class HbDevType : ValueType
{
    private static readonly IntType Priority = new(0, 512);
    public override string Expected => "interface name and priority 0-512 pairs";
    public override bool IsList => true;
    public override RefKind Ref => RefKind.HbDevPairs;

    public override ParsedValue? Parse(Token key, IReadOnlyList<Token> values, List<ConfigError> errors)
    {
        var words = new List<string>();
        for (var i = 0; i < values.Count; i += 2)
        {
            var name = values[i];
            if (name.Text.Length is 0 or > 15 || (IntType.IsInteger(name.Text) && !name.Quoted))
            {
                errors.Add(name.Error("invalid interface name", Expected));
                return null;
            }
            if (i + 1 >= values.Count) { errors.Add(name.Error("missing heartbeat priority after interface", Expected)); return null; }
            var prio = Priority.Parse(key, [values[i + 1]], errors);
            if (prio is null) return null;
            if (words.Where((_, k) => k % 2 == 0).Contains(name.Text)) { errors.Add(name.Error("interface listed twice", Expected)); return null; }
            words.Add(name.Text);
            words.Add(prio.Words[0]);
        }
        return new ParsedValue(words.ToArray());
    }

    public override string Render(IReadOnlyList<string> words, Secret? secret)
    {
        var parts = new List<string>();
        for (var i = 0; i < words.Count; i += 2) parts.Add($"{Quote(words[i])} {words[i + 1]}");
        return string.Join(' ', parts);
    }
}

internal sealed class Phase1RefType : ValueType
{
    public override string Expected => "name of a vpn ipsec phase1-interface entry";
    public override RefKind Ref => RefKind.Phase1;

    public override ParsedValue? Parse(Token key, IReadOnlyList<Token> values, List<ConfigError> errors) =>
        Single(values, errors) ? new ParsedValue([values[0].Text]) : null;

    public override string Render(IReadOnlyList<string> words, Secret? secret) => Quote(words[0]);
}
