using Akka.Actor;
using Akka.Serialization;

namespace ClusterActors.Protocol.Serialization;

/// <summary>
/// The explicit serializer for every ClusterActors message that crosses processes or is journaled.
/// Bound in hocon/serialization.conf to <see cref="IWireMessage"/>; the default JSON serializer never sees our messages.
/// </summary>
public sealed class ProtocolSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Fixed id, registered in hocon/serialization.conf; Akka reserves 0-100.</summary>
    public const int Id = 4711;

    public override int Identifier => Id;

    public override string Manifest(object o) =>
        WireCodecs.TryGet(o.GetType(), out var codec)
            ? codec.Manifest
            : throw new ArgumentException($"no wire codec for {o.GetType().FullName}");

    public override byte[] ToBinary(object obj) => WireCodecs.Encode(obj);

    public override object FromBinary(byte[] bytes, string manifest) => WireCodecs.Decode(manifest, bytes);
}

/// <summary>Marker for messages that travel between units or into the journal.</summary>
public interface IWireMessage;
