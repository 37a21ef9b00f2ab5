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

internal sealed record LexResult(IReadOnlyList<Statement> Statements, Token? SerialNumber, Token EndOfInput);

internal static class Lexer
{
    public const string SerialHeader = "#serialno=";

    public static LexResult Lex(string text, string file, List<ConfigError> errors)
    {
        var statements = new List<Statement>();
        Token? serial = null;
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
                continue;
            }
            inHeader = false;
            var tokens = LexLine(line, lineNo, file, errors);
            if (tokens.Count > 0) statements.Add(new Statement(tokens));
        }
        var last = lines.Length;
        return new LexResult(statements, serial, new Token("<end of input>", false, last, lines[^1].Length + 1, file));
    }

    private static List<Token> LexLine(string line, int lineNo, string file, List<ConfigError> errors)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < line.Length)
        {
            if (char.IsWhiteSpace(line[i])) { i++; continue; }
            var start = i;
            var sb = new StringBuilder();
            var quoted = false;
            while (i < line.Length && !char.IsWhiteSpace(line[i]))
            {
                var c = line[i];
                if (c is '"' or '\'')
                {
                    quoted = true;
                    var quoteAt = i;
                    i++;
                    var closed = false;
                    while (i < line.Length)
                    {
                        var q = line[i];
                        if (q == '\\' && i + 1 < line.Length) { sb.Append(line[i + 1]); i += 2; continue; }
                        if (q == c) { closed = true; i++; break; }
                        sb.Append(q);
                        i++;
                    }
                    if (!closed)
                    {
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
            tokens.Add(new Token(sb.ToString(), quoted, lineNo, start + 1, file));
        }
        return tokens;
    }
}
