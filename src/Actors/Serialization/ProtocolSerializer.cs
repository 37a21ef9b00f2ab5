using Akka.Actor;
using Akka.Serialization;
using ClusterActors.Protocol.Serialization;

namespace ClusterActors.Actors.Serialization;

/// <summary>
/// The explicit serializer for every ClusterActors message that crosses processes or is journaled: Akka's side of
/// <see cref="WireCodecs"/> (src/Protocol/Serialization), which stays free of Akka.
/// Bound in hocon/serialization.conf to <see cref="IWireMessage"/>; the default JSON serializer never sees our messages.
/// </summary>
public sealed class ProtocolSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>
    /// Fixed id, registered in hocon/serialization.conf; Akka reserves 0-100. Journals store it next to each event's
    /// manifest, so it never changes (moving this class from ClusterActors.Protocol kept it).
    /// </summary>
    public const int Id = 4711;

    public override int Identifier => Id;

    public override string Manifest(object o) =>
        WireCodecs.TryGet(o.GetType(), out var codec)
            ? codec.Manifest
            : throw new ArgumentException($"no wire codec for {o.GetType().FullName}");

    public override byte[] ToBinary(object obj) => WireCodecs.Encode(obj);

    public override object FromBinary(byte[] bytes, string manifest) => WireCodecs.Decode(manifest, bytes);
}
