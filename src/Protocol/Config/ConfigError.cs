namespace ClusterActors.Protocol.Config;

/// <summary>
/// One located diagnostic. Line and column are 1-based and point at <see cref="Token"/> as written
/// (before abbreviation expansion), so an operator can find it in the file they typed.
/// </summary>
public sealed record ConfigError(string File, int Line, int Column, string Token, string Message, string? Expected = null, string? DidYouMean = null)
{
    // One line, compiler-style, so editors and CI logs can jump to the location.
    public override string ToString()
    {
        var s = $"{File}:{Line}:{Column}: error: {Message}: '{Token}'";
        if (Expected is not null) s += $"; expected {Expected}";
        if (DidYouMean is not null) s += $"; did you mean '{DidYouMean}'?";
        return s;
    }
}

/// <summary>Either a complete value or the full list of errors; never both, so callers cannot use a half-applied config.</summary>
public sealed class ConfigResult<T>
{
    private ConfigResult(T? value, IReadOnlyList<ConfigError> errors) { Value = value; Errors = errors; }

    public bool Ok => Errors.Count == 0;
    public T? Value { get; }
    public IReadOnlyList<ConfigError> Errors { get; }

    public static ConfigResult<T> Success(T value) => new(value, Array.Empty<ConfigError>());

    public static ConfigResult<T> Failure(IReadOnlyList<ConfigError> errors)
    {
        if (errors.Count == 0) throw new ArgumentException("a failure needs at least one error", nameof(errors));
        return new(default, errors.ToArray());
    }

    public override string ToString() => Ok ? $"Ok: {Value}" : string.Join(Environment.NewLine, Errors);
}

/// <summary>Thrown by <c>Show</c> for a path the schema does not know; carries the located error for the CLI to print.</summary>
public sealed class ConfigPathException(ConfigError error) : Exception(error.ToString())
{
    public ConfigError Error { get; } = error;
}

/// <summary>Where a statement or value came from; kept on stored values so late (cross-reference) errors are still located.</summary>
internal sealed record Loc(string File, int Line, int Column, string Token)
{
    public ConfigError Error(string message, string? expected = null, string? didYouMean = null) =>
        new(File, Line, Column, Token, message, expected, didYouMean);
}
