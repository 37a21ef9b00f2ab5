using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ClusterActors.Actors.Unit;

namespace ClusterActors.Node.Hosting;

/// <summary>The bootstrap's question sent as a datagram: a fresh nonce, the asker's Akka address and the contact's.</summary>
public sealed record ClusterProbeRequest(byte[] Nonce, string From, string To);

/// <summary>The answer: the request's nonce, whom it answers, the answering unit's Akka address, whether it is a member,
/// its unique address and the live members it sees (as <see cref="ContactView"/>).</summary>
public sealed record ClusterProbeAnswer(byte[] Nonce, string To, string Address, bool IsMember, string UniqueAddress, IReadOnlyList<string> Members);

/// <summary>A datagram whose signature a lab certificate proved: the request or answer, and the unit that signed it.</summary>
public sealed record SignedClusterProbe(object Message, UnitIdentity Signer);

/// <summary>
/// The wire form of the out-of-band cluster probe (src/Node/Hosting/README.md, "Two clusters that downed each other"):
/// <c>"CAP1" kind(1) nonce(16) fields… certificate(u16 length + DER) signature(u16 length + ECDSA P-256/SHA-256)</c>, the
/// signature over a fixed label and every byte before it, by the key of the sender's lab certificate. Pure: never
/// throws on input, <see cref="Open"/> returns null with a reason for anything malformed, unsigned or signed by a
/// certificate the lab CA did not issue.
/// </summary>
public static class ClusterProbeDatagram
{
    public const int MaxDatagram = 8192;
    public const int MaxField = 256;
    public const int MaxMembers = 64;
    public const int NonceLength = 16;
    private const byte KindRequest = 1, KindAnswer = 2;
    private static ReadOnlySpan<byte> Magic => "CAP1"u8;
    private static readonly byte[] Label = "clusteractors cluster-probe v1\0"u8.ToArray();

    public static byte[] Seal(ClusterProbeRequest r, X509Certificate2 certificate, ECDsa key) =>
        Seal(KindRequest, w =>
        {
            w.Write(r.Nonce);
            Str(w, r.From);
            Str(w, r.To);
        }, certificate, key);

    public static byte[] Seal(ClusterProbeAnswer a, X509Certificate2 certificate, ECDsa key) =>
        Seal(KindAnswer, w =>
        {
            w.Write(a.Nonce);
            Str(w, a.To);
            Str(w, a.Address);
            w.Write(a.IsMember ? (byte)1 : (byte)0);
            Str(w, a.UniqueAddress);
            w.Write((byte)Math.Min(a.Members.Count, MaxMembers));
            foreach (var m in a.Members.Take(MaxMembers)) Str(w, m);
        }, certificate, key);

    private static byte[] Seal(byte kind, Action<BinaryWriter> body, X509Certificate2 certificate, ECDsa key)
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(kind);
            body(w);
            U16(w, certificate.RawData.Length);
            w.Write(certificate.RawData);
        }
        var signed = ms.ToArray();
        var signature = key.SignData([.. Label, .. signed], HashAlgorithmName.SHA256);
        using var all = new MemoryStream();
        all.Write(signed);
        var len = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(len, (ushort)signature.Length);
        all.Write(len);
        all.Write(signature);
        return all.ToArray();
    }

    private static void Str(BinaryWriter w, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        if (bytes.Length > MaxField) throw new ArgumentException($"field longer than {MaxField} bytes", nameof(s));
        U16(w, bytes.Length);
        w.Write(bytes);
    }

    private static void U16(BinaryWriter w, int v)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)v);
        w.Write(b);
    }

    /// <summary>
    /// Reads a datagram and checks its signature against the certificate it carries, and that certificate against the
    /// lab CA (<paramref name="verify"/>: <see cref="AkkaTls.Verify"/>, possibly cached). Null with <paramref name="why"/>
    /// for anything else.
    /// </summary>
    public static SignedClusterProbe? Open(ReadOnlySpan<byte> datagram, Func<X509Certificate2, (UnitIdentity? Unit, string Why)> verify, out string why)
    {
        if (datagram.Length > MaxDatagram) return Fail("too large", out why);
        var r = new Reader(datagram);
        if (!r.Take(4, out var magic) || !magic.SequenceEqual(Magic)) return Fail("not a cluster probe", out why);
        if (!r.Byte(out var kind) || kind is not (KindRequest or KindAnswer)) return Fail("unknown kind", out why);
        if (!r.Take(NonceLength, out var nonceSpan)) return Fail("truncated", out why);
        var nonce = nonceSpan.ToArray();
        object message;
        if (kind == KindRequest)
        {
            if (!r.Str(out var from) || !r.Str(out var to)) return Fail("truncated or bad field", out why);
            message = new ClusterProbeRequest(nonce, from, to);
        }
        else
        {
            if (!r.Str(out var to) || !r.Str(out var address) || !r.Byte(out var isMember) || isMember > 1 || !r.Str(out var unique)
                || !r.Byte(out var count) || count > MaxMembers)
                return Fail("truncated or bad field", out why);
            var members = new List<string>(count);
            for (var i = 0; i < count; i++)
            {
                if (!r.Str(out var m)) return Fail("truncated or bad field", out why);
                members.Add(m);
            }
            message = new ClusterProbeAnswer(nonce, to, address, isMember == 1, unique, members);
        }
        if (!r.U16(out var certLength) || !r.Take(certLength, out var der)) return Fail("truncated certificate", out why);
        var signedLength = r.Position;
        if (!r.U16(out var sigLength) || !r.Take(sigLength, out var signature) || r.Position != datagram.Length) return Fail("bad signature field", out why);
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException)
        {
            return Fail("unreadable certificate", out why);
        }
        using (certificate)
        {
            var (unit, refused) = verify(certificate);
            if (unit is null) return Fail("certificate refused: " + refused, out why);
            using var key = certificate.GetECDsaPublicKey();
            if (key is null) return Fail("certificate has no ECDSA key", out why);
            var data = new byte[Label.Length + signedLength];
            Label.CopyTo(data, 0);
            datagram[..signedLength].CopyTo(data.AsSpan(Label.Length));
            bool valid;
            try
            {
                valid = key.VerifyData(data, signature, HashAlgorithmName.SHA256);
            }
            catch (CryptographicException)
            {
                valid = false;
            }
            if (!valid) return Fail("bad signature", out why);
            why = "";
            return new SignedClusterProbe(message, unit);
        }
    }

    private static SignedClusterProbe? Fail(string reason, out string why)
    {
        why = reason;
        return null;
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        public int Position { get; private set; }

        public bool Take(int n, out ReadOnlySpan<byte> bytes)
        {
            if (n < 0 || _data.Length - Position < n)
            {
                bytes = default;
                return false;
            }
            bytes = _data.Slice(Position, n);
            Position += n;
            return true;
        }

        public bool Byte(out byte b)
        {
            b = 0;
            if (!Take(1, out var s)) return false;
            b = s[0];
            return true;
        }

        public bool U16(out int v)
        {
            v = 0;
            if (!Take(2, out var s)) return false;
            v = BinaryPrimitives.ReadUInt16BigEndian(s);
            return true;
        }

        public bool Str(out string s)
        {
            s = "";
            if (!U16(out var n) || n > MaxField || !Take(n, out var bytes)) return false;
            try
            {
                s = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            }
            catch (ArgumentException)
            {
                return false;
            }
            return !s.Any(char.IsControl);
        }
    }
}

/// <summary>What this unit answers about itself: its Akka address, whether it is a member, its unique address, its live members.</summary>
public sealed record ClusterProbeSelf(string Address, bool IsMember, string UniqueAddress, IReadOnlyList<string> Members);

/// <summary>
/// The host's UDP socket for the out-of-band cluster probe, bound on the Akka endpoint's address and port number (UDP,
/// beside Akka's TCP): it lives as long as the host, across ActorSystem restarts, so a quarantine between two
/// incarnations never silences it. It answers signed requests from lab units with this unit's current membership
/// (<c>self</c>), and hands signed answers to the probes it sent to whoever is attached (the current
/// <see cref="ClusterBootstrap"/>). A request is answered only to the address it claims and was sent from, once per
/// source per 200 ms; nothing from the wire is thrown on: it is dropped and counted per reason (<see cref="Dropped"/>).
/// </summary>
public sealed class ClusterProbeSocket : IDisposable
{
    private readonly UdpClient _udp;
    private readonly AkkaTls _tls;
    private readonly ECDsa _key;
    private readonly Func<ClusterProbeSelf?> _self;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, (byte[] Der, DateTimeOffset At, UnitIdentity? Unit, string Why)> _verified = new();
    private readonly ConcurrentDictionary<string, (string Contact, string HostPort, DateTimeOffset At)> _asked = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _answeredAt = new();
    private readonly ConcurrentDictionary<string, byte> _blocked = new();
    private volatile Action<ContactView>? _onAnswer;

    /// <summary>Datagrams dropped, per reason (for the log and the specs).</summary>
    public ConcurrentDictionary<string, long> Dropped { get; } = new();

    /// <summary>Answers received and accepted (signed by a lab unit, to a probe this unit sent).</summary>
    public long Accepted => Interlocked.Read(ref _accepted);

    private long _accepted;

    public IPEndPoint Local { get; }

    private ClusterProbeSocket(UdpClient udp, AkkaTls tls, ECDsa key, Func<ClusterProbeSelf?> self, TimeProvider time)
    {
        _udp = udp;
        _tls = tls;
        _key = key;
        _self = self;
        _time = time;
        Local = (IPEndPoint)udp.Client.LocalEndPoint!;
        _ = Task.Run(ReceiveLoop);
    }

    /// <summary>Binds UDP on <paramref name="bind"/>; null with <paramref name="why"/> when it cannot (no ECDSA key, port taken).</summary>
    public static ClusterProbeSocket? Start(IPEndPoint bind, AkkaTls tls, Func<ClusterProbeSelf?> self, TimeProvider time, out string why)
    {
        var key = tls.Certificate.GetECDsaPrivateKey();
        if (key is null)
        {
            why = "the unit's certificate has no ECDSA key";
            return null;
        }
        try
        {
            var udp = new UdpClient(bind);
            why = "";
            return new ClusterProbeSocket(udp, tls, key, self, time);
        }
        catch (SocketException e)
        {
            key.Dispose();
            why = $"cannot bind UDP {bind}: {e.SocketErrorCode}";
            return null;
        }
    }

    /// <summary>Where accepted answers go (the current bootstrap actor); null detaches.</summary>
    public void Attach(Action<ContactView>? onAnswer) => _onAnswer = onAnswer;

    /// <summary>
    /// The lab's Akka cut (LoopbackLab.SetAkkaPath) cuts this path too: it runs on the same link and port number, so a
    /// real cut of that path drops both. Datagrams to and from a blocked endpoint are dropped.
    /// </summary>
    public void SetBlocked(IPEndPoint peer, bool blocked)
    {
        if (blocked) _blocked[Key(peer)] = 0;
        else _blocked.TryRemove(Key(peer), out _);
    }

    /// <summary>Asks <paramref name="contact"/> (an Akka address, any scheme) whom it sees; the answer comes to the attached handler.</summary>
    public void Ask(string selfAddress, string contact)
    {
        var hostPort = AkkaRejoin.HostPort(contact);
        if (!TryEndpoint(hostPort, out var to) || _blocked.ContainsKey(Key(to))) return;
        var now = _time.GetUtcNow();
        foreach (var old in _asked.Where(a => now - a.Value.At > TimeSpan.FromSeconds(5)).Select(a => a.Key).ToList()) _asked.TryRemove(old, out _);
        if (_asked.Count > 1024) return;
        var nonce = RandomNumberGenerator.GetBytes(ClusterProbeDatagram.NonceLength);
        _asked[Convert.ToHexString(nonce)] = (contact, hostPort, now);
        Send(ClusterProbeDatagram.Seal(new ClusterProbeRequest(nonce, selfAddress, contact), _tls.Certificate, _key), to);
    }

    private void Send(byte[] datagram, IPEndPoint to)
    {
        try
        {
            _udp.Send(datagram, datagram.Length, to);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Count("send failed");
        }
    }

    private async Task ReceiveLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            UdpReceiveResult received;
            try
            {
                received = await _udp.ReceiveAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // e.g. an ICMP error for an earlier send
            }
            try
            {
                Handle(received.Buffer, received.RemoteEndPoint);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Count("unexpected: " + e.GetType().Name); // never let a datagram end the loop
            }
        }
    }

    private void Handle(byte[] datagram, IPEndPoint from)
    {
        if (_blocked.ContainsKey(Key(from)))
        {
            Count("path cut");
            return;
        }
        var signed = ClusterProbeDatagram.Open(datagram, Verify, out var why);
        if (signed is null)
        {
            Count(why.StartsWith("certificate refused", StringComparison.Ordinal) ? "certificate refused" : why);
            return;
        }
        switch (signed.Message)
        {
            case ClusterProbeRequest request:
                // Answered only to the address it claims to come from, and only when it was sent from there and meant for
                // this unit: a replayed or redirected request gets nothing back to anybody else.
                if (AkkaRejoin.HostPort(request.From) != Key(from))
                {
                    Count("request from another address than it claims");
                    return;
                }
                if (!IsLocal(AkkaRejoin.HostPort(request.To)))
                {
                    Count("request for another unit");
                    return;
                }
                var now = _time.GetUtcNow();
                if (_answeredAt.TryGetValue(Key(from), out var last) && now - last < TimeSpan.FromMilliseconds(200))
                {
                    Count("rate limited");
                    return;
                }
                if (_answeredAt.Count > 4096) _answeredAt.Clear();
                _answeredAt[Key(from)] = now;
                if (_self() is not { } self)
                {
                    Count("no ActorSystem to answer for");
                    return;
                }
                Send(ClusterProbeDatagram.Seal(new ClusterProbeAnswer(request.Nonce, request.From, self.Address, self.IsMember, self.UniqueAddress, self.Members),
                    _tls.Certificate, _key), from);
                break;
            case ClusterProbeAnswer answer:
                if (!_asked.TryRemove(Convert.ToHexString(answer.Nonce), out var asked))
                {
                    Count("answer to no probe of ours");
                    return;
                }
                if (asked.HostPort != Key(from) || AkkaRejoin.HostPort(answer.Address) != asked.HostPort)
                {
                    Count("answer from another address than asked");
                    return;
                }
                Interlocked.Increment(ref _accepted);
                _onAnswer?.Invoke(new ContactView(asked.Contact, answer.IsMember, answer.UniqueAddress, answer.Members));
                break;
        }
    }

    /// <summary>The lab CA's verdict on a certificate, remembered for a minute by its DER bytes (a chain build per datagram would be a cost anyone could impose).</summary>
    private (UnitIdentity? Unit, string Why) Verify(X509Certificate2 certificate)
    {
        var id = Convert.ToHexString(SHA256.HashData(certificate.RawData));
        var now = _time.GetUtcNow();
        if (_verified.TryGetValue(id, out var known) && now - known.At < TimeSpan.FromMinutes(1)) return (known.Unit, known.Why);
        var unit = _tls.Verify(certificate, out var why);
        if (_verified.Count > 256) _verified.Clear();
        _verified[id] = (certificate.RawData, now, unit, why);
        return (unit, why);
    }

    private void Count(string reason) => Dropped.AddOrUpdate(reason, 1, (_, n) => n + 1);

    private static string Key(IPEndPoint ep) => TlsPeer.SocketKeyOf(ep);

    /// <summary>Whether host:port names this socket (bound to a wildcard address: any address with its port).</summary>
    private bool IsLocal(string hostPort) =>
        Local.Address.Equals(IPAddress.Any) || Local.Address.Equals(IPAddress.IPv6Any)
            ? TryEndpoint(hostPort, out var ep) && ep.Port == Local.Port
            : hostPort == Key(Local);

    private static bool TryEndpoint(string hostPort, out IPEndPoint endpoint)
    {
        var colon = hostPort.LastIndexOf(':');
        endpoint = null!;
        if (colon <= 0 || !IPAddress.TryParse(hostPort[..colon].Trim('[', ']'), out var ip) || !int.TryParse(hostPort[(colon + 1)..], out var port)
            || port is <= 0 or > 65535)
            return false;
        endpoint = new IPEndPoint(ip, port);
        return true;
    }

    public void Dispose()
    {
        _onAnswer = null;
        _stop.Cancel();
        _udp.Dispose();
        _key.Dispose();
    }
}
