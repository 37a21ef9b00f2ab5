namespace ClusterActors.Protocol.Serialization;

/// <summary>
/// Marker for messages that travel between units or into the journal. hocon/serialization.conf binds it to the
/// Akka serializer in src/Actors/Serialization, which encodes it with <see cref="WireCodecs"/>; this project knows no Akka.
/// </summary>
public interface IWireMessage;
