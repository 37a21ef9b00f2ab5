using ClusterActors.Actors.Ipsec;
using ClusterActors.Protocol.Ipsec;

namespace ClusterActors.Actors.Tests.Ipsec;

/// <summary>
/// The phase1's IKE SPI index on synthetic records, no actor system: live SAs are found by their SPIs, deleted and
/// DPD-flushed ones leave it (it grew with every tunnel that ever existed), a record that comes back is found again.
/// </summary>
public sealed class IkeSaIndexSpec
{
    private static TunnelRecord Tunnel(ulong spiI, ulong spiR)
    {
        var r = TunnelOwnershipSpec.Record();
        return r with { Key = TunnelRecord.KeyOf(r.Phase1, spiI, spiR), Ike = r.Ike with { SpiI = spiI, SpiR = spiR } };
    }

    [Fact]
    public void A_live_IKE_SA_is_found_by_its_SPIs_and_only_by_both()
    {
        var index = new IkeSaIndex();
        var r = Tunnel(0x1111, 0x2222);
        index.Applied(null, r);
        Assert.Equal(r.Key, index.KeyOf(0x1111, 0x2222));
        Assert.Null(index.KeyOf(0x1111, 0x3333));
        Assert.Null(index.KeyOf(0x9999, 0x2222));
    }

    [Fact]
    public void An_IKE_SA_deleted_by_the_client_or_flushed_by_DPD_leaves_the_index()
    {
        var index = new IkeSaIndex();
        var r = Tunnel(0x1111, 0x2222);
        index.Applied(null, r);
        // Both write the record again with Deleted set (IpsecPhase1Actor.Deleted, CheckIdleTunnels).
        var deleted = r with { Deleted = true, SyncSeq = r.SyncSeq + 1 };
        index.Applied(r, deleted);
        Assert.Null(index.KeyOf(0x1111, 0x2222));
        Assert.Equal(0, index.Count);
        // The tombstone synced again from another unit (push, then Distributed Data) does not bring it back.
        index.Applied(deleted, deleted with { SyncSeq = deleted.SyncSeq + 1 });
        Assert.Equal(0, index.Count);
    }

    [Fact]
    public void A_hub_whose_clients_all_left_indexes_nothing()
    {
        var index = new IkeSaIndex();
        var records = Enumerable.Range(1, 10_000).Select(i => Tunnel((ulong)i, (ulong)i << 20)).ToList();
        foreach (var r in records) index.Applied(null, r);
        Assert.Equal(10_000, index.Count);
        foreach (var r in records) index.Applied(r, r with { Deleted = true, SyncSeq = r.SyncSeq + 1 });
        Assert.Equal(0, index.Count);
    }

    [Fact]
    public void A_deleted_record_that_a_later_claim_brings_back_is_found_again()
    {
        var index = new IkeSaIndex();
        var r = Tunnel(0x1111, 0x2222);
        var deleted = r with { Deleted = true, SyncSeq = 2 };
        index.Applied(null, deleted); // a unit that first hears of the tunnel as deleted
        Assert.Null(index.KeyOf(0x1111, 0x2222));
        index.Applied(deleted, r with { Generation = 2, OwnerSerial = "FGVM02TM22000002" });
        Assert.Equal(r.Key, index.KeyOf(0x1111, 0x2222));
    }

    [Fact]
    public void A_record_never_removes_another_records_SPIs()
    {
        var index = new IkeSaIndex();
        var a = Tunnel(0x1111, 0x2222);
        var b = Tunnel(0x3333, 0x4444);
        index.Applied(null, a);
        index.Applied(null, b);
        // A record under another key that carries a's SPIs (never written by this code, but sync input) and is deleted.
        index.Applied(null, b with { Key = "vpn1/other", Ike = a.Ike, Deleted = true });
        Assert.Equal(a.Key, index.KeyOf(0x1111, 0x2222));
        Assert.Equal(b.Key, index.KeyOf(0x3333, 0x4444));
    }
}
