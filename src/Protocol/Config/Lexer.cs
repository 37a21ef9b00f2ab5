using System.Text;

namespace ClusterActors.Protocol.Config;

/// <summary>A word of a statement. <see cref="Quoted"/> matters: a quoted "end" is a value, never a keyword.</summary>
internal sealed record Token(string Text, bool Quoted, int Line, int Column, string File)
{
    public Loc Loc => new(File, Line, Column, Text);
    public ConfigError Error(string message, string? expected = null, string? didYouMean = null) =>
        new(File, Line, Column, Text, message, expected, didYouMean);
}

/// <summary>FortiOS CLI is line oriented: one statement per line.</summary>
internal sealed record Statement(IReadOnlyList<Token> Tokens)
{
    public Token Head => Tokens[0];
    public int Line => Tokens[0].Line;
}

/// <param name="Header">The leading comment block as typed, minus `#serialno=` (a FortiOS backup's `#config-version=…`,
/// `#conf_file_ver=`, `#buildno=`, `#global_vdom=` lines).</param>
/// <param name="ConfigVersion">The value of a leading `#config-version=` line (FortiOS backups start with one).</param>
internal sealed record LexResult(IReadOnlyList<Statement> Statements, Token? SerialNumber, Token EndOfInput,
    IReadOnlyList<string> Header, Token? ConfigVersion);

internal static class Lexer
{
    public const string SerialHeader = "#serialno=";
    public const string ConfigVersionHeader = "#config-version=";

    /// <param name="multiLineQuotes">Lenient mode: a quoted value may run over several lines (certificates and keys in a
    /// FortiOS backup: `set certificate "-----BEGIN …` up to the closing quote). Strict mode keeps quotes to one line,
    /// so a forgotten quote is an error on its own line rather than a swallowed file.</param>
    public static LexResult Lex(string text, string file, List<ConfigError> errors, bool multiLineQuotes = false)
    {
        var statements = new List<Statement>();
        Token? serial = null;
        Token? configVersion = null;
        var header = new List<string>();
        var inHeader = true;
        var lines = text.Replace("\r\n", "\n").Replace('\r', '\n').Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var lineNo = i + 1;
            var trimmed = line.TrimStart();
            if (trimmed.Length == 0) continue;
            if (trimmed[0] == '#')
            {
                // Only the leading comment block is a header; a '#serialno=' later is just a comment,
                // so pasting a config fragment cannot silently re-identify the unit.
                if (inHeader && trimmed.StartsWith(SerialHeader, StringComparison.Ordinal))
                {
                    var col = line.Length - trimmed.Length + SerialHeader.Length + 1;
                    serial = new Token(trimmed[SerialHeader.Length..].Trim(), false, lineNo, col, file);
                }
                else if (inHeader)
                {
                    header.Add(trimmed.TrimEnd());
                    if (trimmed.StartsWith(ConfigVersionHeader, StringComparison.Ordinal))
                        configVersion = new Token(trimmed[ConfigVersionHeader.Length..].Trim(), false, lineNo, line.Length - trimmed.Length + ConfigVersionHeader.Length + 1, file);
                }
                continue;
            }
            inHeader = false;
            var tokens = LexStatement(lines, ref i, file, errors, multiLineQuotes);
            if (tokens.Count > 0) statements.Add(new Statement(tokens));
        }
        var last = lines.Length;
        return new LexResult(statements, serial, new Token("<end of input>", false, last, lines[^1].Length + 1, file), header, configVersion);
    }

    /// <summary>One statement: the words of line <paramref name="lineIndex"/>, and of the lines after it while a quoted value
    /// is open (multi-line quotes only); <paramref name="lineIndex"/> ends on the statement's last line.</summary>
    private static List<Token> LexStatement(string[] lines, ref int lineIndex, string file, List<ConfigError> errors, bool multiLineQuotes)
    {
        var line = lines[lineIndex];
        var lineNo = lineIndex + 1;
        var tokens = new List<Token>();
        var i = 0;
        while (i < line.Length)
        {
            if (char.IsWhiteSpace(line[i])) { i++; continue; }
            var start = i;
            var tokenLineNo = lineNo;
            var sb = new StringBuilder();
            var quoted = false;
            while (i < line.Length && !char.IsWhiteSpace(line[i]))
            {
                var c = line[i];
                if (c is '"' or '\'')
                {
                    quoted = true;
                    var quoteAt = i;
                    var quoteLineNo = lineNo;
                    var quoteLine = line;
                    i++;
                    var closed = false;
                    while (true)
                    {
                        if (i >= line.Length)
                        {
                            // The value goes on: the line break is part of it (PEM text keeps its lines).
                            if (!multiLineQuotes || lineIndex + 1 >= lines.Length) break;
                            lineIndex++;
                            line = lines[lineIndex];
                            lineNo = lineIndex + 1;
                            i = 0;
                            sb.Append('\n');
                            continue;
                        }
                        var q = line[i];
                        if (q == '\\' && i + 1 < line.Length) { sb.Append(line[i + 1]); i += 2; continue; }
                        if (q == c) { closed = true; i++; break; }
                        sb.Append(q);
                        i++;
                    }
                    if (!closed)
                    {
                        if (multiLineQuotes)
                        {
                            errors.Add(new ConfigError(file, quoteLineNo, quoteAt + 1, quoteLine[quoteAt..], "unterminated quoted string", $"closing {c} before end of input"));
                            tokens.Add(new Token(sb.ToString(), true, quoteLineNo, start + 1, file));
                            return tokens;
                        }
                            // Keep the statement (its structure is still useful for later checks); the error alone
                        // guarantees no document comes out of this input.
                        errors.Add(new ConfigError(file, lineNo, quoteAt + 1, line[quoteAt..], "unterminated quoted string", $"closing {c} before end of line"));
                        tokens.Add(new Token(sb.ToString(), true, lineNo, start + 1, file));
                        return tokens;
                    }
                    continue;
                }
                if (c == '\\' && i + 1 < line.Length) { sb.Append(line[i + 1]); i += 2; continue; }
                sb.Append(c);
                i++;
            }
            tokens.Add(new Token(sb.ToString(), quoted, tokenLineNo, start + 1, file));
        }
        return tokens;
    }
}
