using System.Buffers.Binary;
using System.Text;

namespace ClusterActors.Protocol.Serialization;

/// <summary>Little-endian, length-prefixed primitives; the layout of each message is fixed by its codec.</summary>
public sealed class WireWriter
{
    private readonly MemoryStream _buffer = new();

    public void U8(byte v) => _buffer.WriteByte(v);
    public void Bool(bool v) => U8(v ? (byte)1 : (byte)0);

    public void I32(int v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, v);
        _buffer.Write(b);
    }

    public void U32(uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        _buffer.Write(b);
    }

    public void I64(long v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, v);
        _buffer.Write(b);
    }

    public void U64(ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        _buffer.Write(b);
    }

    public void Bytes(ReadOnlySpan<byte> v)
    {
        I32(v.Length);
        _buffer.Write(v);
    }

    public void Str(string v) => Bytes(Encoding.UTF8.GetBytes(v));

    public void OptStr(string? v)
    {
        Bool(v is not null);
        if (v is not null) Str(v);
    }

    public void List<T>(IReadOnlyCollection<T> items, Action<WireWriter, T> write)
    {
        I32(items.Count);
        foreach (var item in items) write(this, item);
    }

    public byte[] ToArray() => _buffer.ToArray();
}

public sealed class WireReader(byte[] data)
{
    /// <summary>No list or string in this protocol comes near this; a larger length is corruption, not data.</summary>
    private const int MaxLength = 16 * 1024 * 1024;

    private int _pos;

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || _pos + n > data.Length)
            throw new WireFormatException($"truncated message: wanted {n} bytes at offset {_pos}, {data.Length - _pos} left");
        var span = data.AsSpan(_pos, n);
        _pos += n;
        return span;
    }

    public byte U8() => Take(1)[0];

    public bool Bool() => U8() switch
    {
        0 => false,
        1 => true,
        var b => throw new WireFormatException($"corrupt boolean {b} at offset {_pos - 1}")
    };

    public int I32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));
    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    public long I64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    private int Length()
    {
        var n = I32();
        if (n < 0 || n > MaxLength) throw new WireFormatException($"corrupt length {n} at offset {_pos - 4}");
        return n;
    }

    public byte[] Bytes() => Take(Length()).ToArray();
    public string Str() => Encoding.UTF8.GetString(Take(Length()));
    public string? OptStr() => Bool() ? Str() : null;

    public IReadOnlyList<T> List<T>(Func<WireReader, T> read)
    {
        var n = Length();
        var list = new List<T>(Math.Min(n, 1024));
        for (var i = 0; i < n; i++) list.Add(read(this));
        return list;
    }

    public T Enum<T>() where T : struct, Enum
    {
        var raw = U8();
        var value = (T)System.Enum.ToObject(typeof(T), raw);
        if (!System.Enum.IsDefined(value)) throw new WireFormatException($"corrupt {typeof(T).Name} value {raw}");
        return value;
    }

    public void EnsureConsumed(string manifest)
    {
        if (_pos != data.Length)
            throw new WireFormatException($"{data.Length - _pos} trailing bytes after '{manifest}'");
    }
}
