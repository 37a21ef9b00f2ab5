using System.Reflection;
using Akka.Cluster;
using Akka.DistributedData;

namespace ClusterActors.Actors.Ipsec;

/// <summary>
/// Who wrote each entry of a Distributed Data LWW dictionary: its register's <c>UpdatedBy</c>. Akka.DistributedData
/// 1.5.73 keeps the underlying ORDictionary&lt;K, LWWRegister&lt;V&gt;&gt; internal, so it is read by reflection (the
/// types and fields read are public in that ORDictionary). When that field is not there (another Akka version), every
/// writer is unknown and an enforcing unit applies nothing from gossip: it fails closed, and
/// <c>ReplicatedWritersSpec</c> says so.
/// </summary>
public static class ReplicatedWriters
{
    public static IEnumerable<(TKey Key, TValue Value, UniqueAddress? Writer)> Entries<TKey, TValue>(LWWDictionary<TKey, TValue> dictionary)
    {
        var underlying = Field<TKey, TValue>.Underlying?.GetValue(dictionary) as ORDictionary<TKey, LWWRegister<TValue>>;
        if (underlying is null)
        {
            foreach (var (k, v) in dictionary.Entries) yield return (k, v, null);
            yield break;
        }
        foreach (var (k, register) in underlying.Entries) yield return (k, register.Value, register.UpdatedBy);
    }

    private static class Field<TKey, TValue>
    {
        public static readonly FieldInfo? Underlying =
            typeof(LWWDictionary<TKey, TValue>).GetField("Underlying", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
    }
}
