using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Event;
using Akka.Remote.Transport;
using Akka.Remote.Transport.DotNetty;
using ClusterActors.Actors.Unit;
using Google.Protobuf;

namespace ClusterActors.Node.Hosting;

/// <summary>
/// Akka remoting's mutual TLS for one unit, as Akka.Remote 1.5.73 offers it (DotNettySslSetup: the unit's certificate,
/// `require-mutual-authentication`, and a custom validator that replaces the system-trust-store check), plus what Akka
/// does not do: learning which unit is behind each Akka address (<see cref="UnitIdentities"/>).
/// </summary>
public static class AkkaTlsWiring
{
    /// <summary>
    /// The HOCON that turns TLS on: enable-ssl, mutual authentication, and the <see cref="UnitIdentityAdapter"/> right
    /// above the TCP driver (applied-adapters: the last one is the one above the driver).
    /// </summary>
    public static string Hocon(IEnumerable<string> adaptersBelowAkka) => $$"""
        akka.remote.dot-netty.tcp.enable-ssl = true
        akka.remote.dot-netty.tcp.ssl.require-mutual-authentication = true
        akka.remote.dot-netty.tcp.ssl.suppress-validation = false
        akka.remote.adapters.unitid = "{{typeof(UnitIdentityAdapterProvider).FullName}},{{typeof(UnitIdentityAdapterProvider).Assembly.GetName().Name}}"
        akka.remote.dot-netty.tcp.applied-adapters = [{{string.Concat(adaptersBelowAkka.Select(a => $"\"{a}\", "))}}"{{UnitIdentityAdapter.Scheme}}"]
        """;

    // No space in the type name: Akka reads adapters through HOCON ToString(), which quotes a value with a space.
    /// <summary>The setups that go with <see cref="Hocon"/>: the certificate and validator, and the identity registry.</summary>
    public static (Setup Ssl, UnitIdentitiesSetup Identities) Setups(AkkaTls tls, UnitIdentities identities, Action<string, string> refused)
    {
        var own = AkkaTls.IdentityOf(tls.Certificate)!;
        CertificateValidationCallback validator = (cert, _, remotePeer, errors, _) =>
        {
            // The system trust store's verdict (errors) is ignored: only the lab CA counts, checked by Verify.
            if ((errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0) cert = null;
            var unit = tls.Verify(cert, out var why);
            if (unit is null)
            {
                refused(remotePeer, $"Akka TLS: refused {remotePeer}: {why}");
                return false;
            }
            // Outbound, Akka passes the address it dials; inbound, the client's socket (its Akka handshake comes later).
            switch (TlsPeer.Of(remotePeer))
            {
                case TlsPeer.Dialled d:
                    if (!identities.Bind(d.HostPort, unit))
                        refused(remotePeer, $"Akka TLS: {remotePeer} answered as {unit.Name} ({unit.Serial}), but another unit holds that address: nothing from it is trusted");
                    return true;
                case TlsPeer.Socket s:
                    identities.SocketAuthenticated(s.Key, unit);
                    return true;
                default:
                    // Neither: nothing could ever be attributed to this connection, so it is not worth having.
                    refused(remotePeer, $"Akka TLS: refused {remotePeer}: Akka named the peer in a form this unit does not know");
                    return false;
            }
        };
        return (new DotNettySslSetup(tls.Certificate, false, true, validator), new UnitIdentitiesSetup(identities));
    }
}

public sealed class UnitIdentityAdapterProvider : ITransportAdapterProvider
{
    public Transport Create(Transport wrappedTransport, ExtendedActorSystem system) => new UnitIdentityAdapter(wrappedTransport, system);
}

/// <summary>
/// Sits right above the TLS-TCP driver. For every inbound association it reads the first Akka PDU (the Associate
/// handshake carrying the origin address the peer claims) and binds that origin to the certificate the same socket
/// proved in the TLS handshake. A socket without a proved certificate, a first PDU that is not an Associate, or an
/// origin another certificate already holds is disassociated. Outbound associations are bound by the TLS validator
/// (the address dialled ↔ the server's certificate).
/// </summary>
public sealed class UnitIdentityAdapter : AbstractTransportAdapter, IAssociationEventListener
{
    public const string Scheme = "unitid";
    private static readonly SchemeAugmenter Augmenter = new(Scheme);
    private readonly UnitIdentities _identities;
    private readonly ILoggingAdapter _log;
    private Task<IAssociationEventListener>? _upstream;

    public UnitIdentityAdapter(Transport wrapped, ExtendedActorSystem system) : base(wrapped)
    {
        _identities = UnitIdentities.Of(system);
        _log = Logging.GetLogger(system, "akka-tls");
    }

    protected override SchemeAugmenter SchemeAugmenter => Augmenter;

    protected override Task<IAssociationEventListener> InterceptListen(Address listenAddress, Task<IAssociationEventListener> listenerTask)
    {
        // Kept as a task: an inbound association that arrives before Akka's listener is ready waits for it, not lost.
        _upstream = listenerTask;
        return Task.FromResult<IAssociationEventListener>(this);
    }

    private readonly PerSenderLog _undialable = new(TimeSpan.FromSeconds(60), TimeProvider.System);

    protected override void InterceptAssociate(Address remoteAddress, TaskCompletionSource<AssociationHandle> statusPromise)
    {
        if (!_identities.MayDial(remoteAddress))
        {
            // Not a contact and no lab certificate seen there: never dialled (see UnitIdentities.AllowDial for why).
            if (_undialable.ShouldLog(UnitIdentities.KeyOf(remoteAddress), out var suppressed))
                _log.Warning("Akka TLS: not connecting to {0}: not a configured contact and no lab unit has authenticated there{1}", remoteAddress,
                    suppressed > 0 ? $" ({suppressed} more attempts since)" : "");
            statusPromise.TrySetException(new InvalidAssociationException($"{remoteAddress} is not a known lab unit"));
            return;
        }
        Dial(remoteAddress, statusPromise);
    }

    private void Dial(Address remoteAddress, TaskCompletionSource<AssociationHandle> statusPromise) =>
        WrappedTransport.Associate(remoteAddress).ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully) statusPromise.TrySetResult(new PassThroughHandle(t.Result));
            else statusPromise.TrySetException(t.Exception?.InnerException ?? new InvalidAssociationException("association failed"));
        }, TaskContinuationOptions.ExecuteSynchronously);

    public void Notify(IAssociationEvent ev)
    {
        var wrapped = ev is InboundAssociation inbound ? new InboundAssociation(new InboundHandle(inbound.Association, this)) : ev;
        _upstream?.ContinueWith(t => t.Result.Notify(wrapped), TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously);
    }

    /// <summary>The host part of what the TLS validator names a peer by (an Akka address or a socket endpoint).</summary>
    public static string PeerHost(string remotePeer) => TlsPeer.Of(remotePeer) switch
    {
        TlsPeer.Dialled d => d.HostPort[..d.HostPort.LastIndexOf(':')],
        TlsPeer.Socket s => s.Key[..s.Key.LastIndexOf(':')],
        _ => remotePeer
    };

    private static string? SocketKey(Address socket) =>
        socket.Host is { } h && IPAddress.TryParse(h.Trim('[', ']'), out var ip) && socket.Port is { } p
            ? TlsPeer.SocketKeyOf(new IPEndPoint(ip, p))
            : null;

    /// <summary>Decides the first PDU of an inbound association: true to let the association go on.</summary>
    private bool Admit(AssociationHandle raw, ByteString firstPdu)
    {
        var socket = SocketKey(raw.RemoteAddress);
        var unit = socket is null ? null : _identities.TakeSocket(socket);
        if (unit is null)
        {
            _log.Warning("Akka TLS: association from {0} refused: no certificate was proved on that connection", raw.RemoteAddress);
            return false;
        }
        var origin = AkkaHandshake.Origin(firstPdu.Span);
        if (origin is null)
        {
            _log.Warning("Akka TLS: association from {0} ({1}) refused: its first message is not an Akka handshake", raw.RemoteAddress, unit.Name);
            return false;
        }
        if (!_identities.Bind(origin.Value.HostPort, unit))
        {
            _log.Warning("Akka TLS: {0} ({1}) claims {2}, which another unit's certificate holds: refused, and nothing from {2} is trusted",
                unit.Name, unit.Serial, origin.Value.HostPort);
            return false;
        }
        return true;
    }

    private sealed class PassThroughHandle : AbstractTransportAdapterHandle
    {
        public PassThroughHandle(AssociationHandle wrapped) : base(wrapped, Scheme) =>
            ReadHandlerSource.Task.ContinueWith(t => WrappedHandle.ReadHandlerSource.SetResult(t.Result),
                TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously);

        public override bool Write(ByteString payload) => WrappedHandle.Write(payload);
        public override void Disassociate() => WrappedHandle.Disassociate();
    }

    private sealed class InboundHandle : AbstractTransportAdapterHandle, IHandleEventListener
    {
        private readonly UnitIdentityAdapter _adapter;
        private IHandleEventListener? _upstream;
        private int _state; // 0: handshake not seen, 1: admitted, 2: refused

        public InboundHandle(AssociationHandle wrapped, UnitIdentityAdapter adapter) : base(wrapped, Scheme)
        {
            _adapter = adapter;
            ReadHandlerSource.Task.ContinueWith(t =>
            {
                _upstream = t.Result;
                WrappedHandle.ReadHandlerSource.SetResult(this);
            }, TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously);
        }

        public override bool Write(ByteString payload) => Volatile.Read(ref _state) != 2 && WrappedHandle.Write(payload);
        public override void Disassociate() => WrappedHandle.Disassociate();

        public void Notify(IHandleEvent ev)
        {
            if (ev is InboundPayload payload && Volatile.Read(ref _state) != 1)
            {
                if (Volatile.Read(ref _state) == 2) return;
                if (!_adapter.Admit(WrappedHandle, payload.Payload))
                {
                    Volatile.Write(ref _state, 2);
                    WrappedHandle.Disassociate();
                    return;
                }
                Volatile.Write(ref _state, 1);
            }
            _upstream?.Notify(ev);
        }
    }
}

/// <summary>
/// What Akka.Remote 1.5.73's DotNetty transport names the peer by when it calls the certificate validator, read
/// without trusting its form. Outbound (client side) it is the Akka address being dialled as the driver sees it: the
/// adapters' and the "akka." prefixes are already stripped, e.g. <c>ssl.tcp://fortigate@127.0.0.1:2552</c>, which
/// Akka's own Address.TryParse refuses (it wants "akka…"). Inbound (server side) it is the client's socket, e.g.
/// <c>[::ffff:127.0.0.1]:41882</c>. Reading the outbound form as a socket lost every outbound binding, so a unit
/// learned a peer only if that peer had also dialled it (src/Node/Hosting/README.md, "Secured Akka").
/// </summary>
public abstract record TlsPeer
{
    /// <summary>Outbound: the host:port dialled, written as <see cref="UnitIdentities.KeyOf"/> writes an Akka address.</summary>
    public sealed record Dialled(string HostPort) : TlsPeer;

    /// <summary>Inbound: the client's socket as ip:port, an IPv4-mapped address as IPv4.</summary>
    public sealed record Socket(string Key) : TlsPeer;

    private TlsPeer() { }

    /// <summary>The peer named by <paramref name="remotePeer"/>; null when it is neither form.</summary>
    public static TlsPeer? Of(string? remotePeer)
    {
        if (string.IsNullOrEmpty(remotePeer)) return null;
        var scheme = remotePeer.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0) return IPEndPoint.TryParse(remotePeer, out var ep) ? new Socket(SocketKeyOf(ep)) : null;
        // protocol://system@host:port[/path]; the host may be a bracketed IPv6 literal.
        var rest = remotePeer.AsSpan(scheme + 3);
        var slash = rest.IndexOf('/');
        if (slash >= 0) rest = rest[..slash];
        var at = rest.LastIndexOf('@');
        if (scheme == 0 || at <= 0) return null;
        var hostPort = rest[(at + 1)..];
        var colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(hostPort[(colon + 1)..], System.Globalization.NumberStyles.None, null, out var port) || port is 0 or > 65535)
            return null;
        var host = hostPort[..colon];
        if (host.Contains(':') && !(host[0] == '[' && host[^1] == ']')) return null;
        return new Dialled($"{host}:{port}");
    }

    public static string SocketKeyOf(IPEndPoint ep) => $"{(ep.Address.IsIPv4MappedToIPv6 ? ep.Address.MapToIPv4() : ep.Address)}:{ep.Port}";
}

/// <summary>Reads the origin address out of Akka's Associate PDU (WireFormats.proto: AkkaProtocolMessage.instruction
/// {commandType = ASSOCIATE, handshakeInfo.origin}); null for anything else. Never throws.</summary>
public static class AkkaHandshake
{
    public static (string HostPort, string System)? Origin(ReadOnlySpan<byte> pdu)
    {
        try
        {
            var instruction = Field(pdu, 2);
            if (instruction is null) return null;
            var command = Varint(instruction.Value.Span, 1);
            if (command != 1) return null; // ASSOCIATE
            var info = Field(instruction.Value.Span, 2);
            var origin = info is null ? null : Field(info.Value.Span, 1);
            if (origin is null) return null;
            var system = Field(origin.Value.Span, 1);
            var host = Field(origin.Value.Span, 2);
            var port = Varint(origin.Value.Span, 3);
            if (host is null || port is null or 0 or > 65535) return null;
            var hostText = System.Text.Encoding.UTF8.GetString(host.Value.Span);
            return ($"{hostText}:{port}", system is null ? "" : System.Text.Encoding.UTF8.GetString(system.Value.Span));
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static ReadOnlyMemory<byte>? Field(ReadOnlySpan<byte> message, int number)
    {
        var at = 0;
        while (at < message.Length)
        {
            var key = ReadVarint(message, ref at);
            var (field, wire) = ((int)(key >> 3), (int)(key & 7));
            switch (wire)
            {
                case 0: ReadVarint(message, ref at); break;
                case 1: at += 8; break;
                case 5: at += 4; break;
                case 2:
                    var length = ReadVarint(message, ref at);
                    if (length > (ulong)(message.Length - at)) throw new FormatException();
                    if (field == number) return message.Slice(at, (int)length).ToArray();
                    at += (int)length;
                    break;
                default: throw new FormatException();
            }
            if (at > message.Length) throw new FormatException();
        }
        return null;
    }

    private static ulong? Varint(ReadOnlySpan<byte> message, int number)
    {
        var at = 0;
        while (at < message.Length)
        {
            var key = ReadVarint(message, ref at);
            var (field, wire) = ((int)(key >> 3), (int)(key & 7));
            switch (wire)
            {
                case 0:
                    var value = ReadVarint(message, ref at);
                    if (field == number) return value;
                    break;
                case 1: at += 8; break;
                case 5: at += 4; break;
                case 2:
                    var length = ReadVarint(message, ref at);
                    if (length > (ulong)(message.Length - at)) throw new FormatException();
                    at += (int)length;
                    break;
                default: throw new FormatException();
            }
            if (at > message.Length) throw new FormatException();
        }
        return null;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> message, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (at >= message.Length) throw new FormatException();
            var b = message[at++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw new FormatException();
    }
}
