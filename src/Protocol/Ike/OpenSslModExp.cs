using System.Runtime.InteropServices;

namespace ClusterActors.Protocol.Ike;

/// <summary>
/// Modular exponentiation for the MODP groups by OpenSSL's libcrypto (<c>BN_mod_exp_mont_consttime</c>), the library
/// .NET's own cryptography already loads on Linux and the one strongSwan's openssl plugin and charon use. Why not
/// <see cref="System.Numerics.BigInteger.ModPow(System.Numerics.BigInteger, System.Numerics.BigInteger, System.Numerics.BigInteger)"/>:
/// measured on this project's machine, a 2048-bit modulus and a 256-bit exponent cost 6.2 ms there and 0.42 ms here
/// (two per IKE_SA_INIT), and BigInteger's is not constant time in the private exponent. .NET has no finite-field DH
/// API to call instead (only <see cref="System.Security.Cryptography.ECDiffieHellman"/>).
/// <para>
/// The library is looked up once (libcrypto.so.3, then the unversioned name). Where it is missing (another OS, a
/// stripped image) <see cref="Available"/> is false and <see cref="ModpGroup"/> computes with BigInteger as before:
/// slower, same bytes (ModExpSpec compares the two).
/// </para>
/// </summary>
internal static unsafe class OpenSslModExp
{
    private static readonly delegate* unmanaged<nint> BnCtxNew;
    private static readonly delegate* unmanaged<nint, void> BnCtxFree;
    private static readonly delegate* unmanaged<byte*, int, nint, nint> BnBin2Bn;
    private static readonly delegate* unmanaged<nint, byte*, int, int> BnBn2BinPad;
    private static readonly delegate* unmanaged<nint> BnNew;
    private static readonly delegate* unmanaged<nint, void> BnFree;
    private static readonly delegate* unmanaged<nint, void> BnClearFree;
    private static readonly delegate* unmanaged<nint> BnMontCtxNew;
    private static readonly delegate* unmanaged<nint, nint, nint, int> BnMontCtxSet;
    private static readonly delegate* unmanaged<nint, nint, nint, nint, nint, nint, int> BnModExpMontConstTime;

    /// <summary>Whether libcrypto was found with every function used here.</summary>
    public static bool Available { get; }

    static OpenSslModExp()
    {
        if (!(NativeLibrary.TryLoad("libcrypto.so.3", out var lib) || NativeLibrary.TryLoad("libcrypto.so", out lib))) return;
        nint F(string name) => NativeLibrary.TryGetExport(lib, name, out var f) ? f : 0;
        var fs = new[]
        {
            F("BN_CTX_new"), F("BN_CTX_free"), F("BN_bin2bn"), F("BN_bn2binpad"), F("BN_new"), F("BN_free"),
            F("BN_clear_free"), F("BN_MONT_CTX_new"), F("BN_MONT_CTX_set"), F("BN_mod_exp_mont_consttime"),
        };
        if (fs.Any(f => f == 0)) return;
        BnCtxNew = (delegate* unmanaged<nint>)fs[0];
        BnCtxFree = (delegate* unmanaged<nint, void>)fs[1];
        BnBin2Bn = (delegate* unmanaged<byte*, int, nint, nint>)fs[2];
        BnBn2BinPad = (delegate* unmanaged<nint, byte*, int, int>)fs[3];
        BnNew = (delegate* unmanaged<nint>)fs[4];
        BnFree = (delegate* unmanaged<nint, void>)fs[5];
        BnClearFree = (delegate* unmanaged<nint, void>)fs[6];
        BnMontCtxNew = (delegate* unmanaged<nint>)fs[7];
        BnMontCtxSet = (delegate* unmanaged<nint, nint, nint, int>)fs[8];
        BnModExpMontConstTime = (delegate* unmanaged<nint, nint, nint, nint, nint, nint, int>)fs[9];
        Available = true;
    }

    /// <summary>
    /// A modulus made once per group and kept for the process: the BIGNUM and its Montgomery context, which
    /// BN_mod_exp_mont_consttime only reads, so every thread may use them at once.
    /// </summary>
    internal sealed class Modulus
    {
        internal readonly nint Bn;
        internal readonly nint Mont;
        internal readonly int Length;

        internal Modulus(byte[] bigEndian)
        {
            if (!Available) throw new InvalidOperationException("libcrypto is not available");
            Length = bigEndian.Length;
            nint ctx = BnCtxNew();
            try
            {
                fixed (byte* m = bigEndian) Bn = BnBin2Bn(m, bigEndian.Length, 0);
                Mont = BnMontCtxNew();
                if (Bn == 0 || Mont == 0 || BnMontCtxSet(Mont, Bn, ctx) != 1)
                    throw new InvalidOperationException("libcrypto could not set up the modulus");
            }
            finally { BnCtxFree(ctx); }
        }
    }

    /// <summary>
    /// base^exponent mod the modulus, big-endian, left-padded to the modulus length. Constant time in the exponent.
    /// The caller has checked that base lies in (1, p-1); the exponent's copy inside libcrypto is cleared when freed.
    /// </summary>
    public static byte[] ModPow(ReadOnlySpan<byte> baseValue, ReadOnlySpan<byte> exponent, Modulus modulus)
    {
        var result = new byte[modulus.Length];
        nint ctx = 0, a = 0, p = 0, r = 0;
        try
        {
            ctx = BnCtxNew();
            fixed (byte* b = baseValue) a = BnBin2Bn(b, baseValue.Length, 0);
            fixed (byte* e = exponent) p = BnBin2Bn(e, exponent.Length, 0);
            r = BnNew();
            if (ctx == 0 || a == 0 || p == 0 || r == 0)
                throw new InvalidOperationException("libcrypto could not allocate a BIGNUM");
            if (BnModExpMontConstTime(r, a, p, modulus.Bn, ctx, modulus.Mont) != 1)
                throw new InvalidOperationException("libcrypto's modular exponentiation failed");
            fixed (byte* o = result)
                if (BnBn2BinPad(r, o, result.Length) != result.Length)
                    throw new InvalidOperationException("the result does not fit the modulus length");
            return result;
        }
        finally
        {
            if (r != 0) BnClearFree(r);
            if (p != 0) BnClearFree(p);
            if (a != 0) BnFree(a);
            if (ctx != 0) BnCtxFree(ctx);
        }
    }
}
