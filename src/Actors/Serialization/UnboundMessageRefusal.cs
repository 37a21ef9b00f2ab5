using System.Collections.Concurrent;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Akka.Serialization;

namespace ClusterActors.Actors.Serialization;

/// <summary>
/// Stands where Akka's default JSON (Newtonsoft) serializer stood (hocon/serialization.conf): a message bound to no
/// serializer of its own is refused instead of being written as JSON, and JSON that arrives (serializer id 1) finds no
/// serializer and is dropped by remoting, never decoded. What crosses between units or into the journal is an
/// <see cref="Protocol.Serialization.IWireMessage"/> (our codecs) or one of Akka's own messages (its Protobuf serializers).
/// </summary>
/// <remarks>
/// Refusing is what the sender's remoting does with the exception: it logs "Serialization failed for message" and
/// drops that one message, the association stays up. A journal write of an unbound event fails the same way, loudly.
/// Each refused type is logged once here (the type only, never the content: a message may hold keys).
/// </remarks>
public sealed class UnboundMessageRefusal : Serializer
{
    /// <summary>Fixed id, registered in hocon/serialization.conf next to ProtocolSerializer's 4711.</summary>
    public const int Id = 4712;

    private readonly ConcurrentDictionary<Type, long> _refused = new();

    public UnboundMessageRefusal(ExtendedActorSystem system) : base(system)
    {
    }

    /// <summary>Akka passes the old serializer's settings block (<c>akka.actor.serialization-settings.json</c>); ignored.</summary>
    public UnboundMessageRefusal(ExtendedActorSystem system, Config _) : base(system)
    {
    }

    public override int Identifier => Id;

    public override bool IncludeManifest => false;

    /// <summary>How many messages of each type were refused since this ActorSystem started.</summary>
    public IReadOnlyDictionary<Type, long> Refused => _refused;

    public override byte[] ToBinary(object obj)
    {
        var type = obj.GetType();
        if (_refused.AddOrUpdate(type, 1, (_, n) => n + 1) == 1)
            system.Log.Warning("refused to serialize {0}: it is bound to no serializer (only wire messages and Akka's own cross between units or into the journal)",
                type.FullName);
        throw new SerializationException($"{type.FullName} is bound to no serializer: not sent, not journaled");
    }

    public override object FromBinary(byte[] bytes, Type type) =>
        throw new SerializationException("payloads of the refused default serializer are never decoded");
}
