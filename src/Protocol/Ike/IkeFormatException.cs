namespace ClusterActors.Protocol.Ike;

/// <summary>
/// The only exception the decoder lets out for bad input: callers (the exchanges, the UDP actor) catch this one
/// type and turn it into a drop or a refusal, so anything else escaping is a bug.
/// </summary>
public class IkeFormatException(string message) : Exception(message);

/// <summary>
/// The ICV of an SK payload did not verify. RFC 7296 §2.21.1 says such messages are dropped without reply;
/// it derives from <see cref="IkeFormatException"/> so code that only wants "unusable datagram" catches both.
/// </summary>
public sealed class IkeIntegrityException(string message) : IkeFormatException(message);
