using ClusterActors.Benchmarks;

namespace ClusterActors.Node.Tests.Benchmarks;

/// <summary>The bookkeeping ike-vs-strongswan and esp-vs-strongswan print their medians and ratios with.</summary>
public sealed class SideBySideSpec
{
    [Fact]
    public void Rounds_alternate_ours_then_theirs_each_round()
    {
        Assert.Equal([(1, Side.Ours), (1, Side.Theirs), (2, Side.Ours), (2, Side.Theirs), (3, Side.Ours), (3, Side.Theirs)], SideBySide.Schedule(3));
        Assert.Throws<ArgumentOutOfRangeException>(() => SideBySide.Schedule(0));
    }

    [Fact]
    public void Median_of_odd_and_even_counts_leaves_failed_rounds_out()
    {
        Assert.Equal(2.0, SideBySide.Median([3.0, 1.0, 2.0]));
        Assert.Equal(2.5, SideBySide.Median([4.0, 1.0, 3.0, 2.0]));
        Assert.Equal(2.0, SideBySide.Median([double.NaN, double.NaN, 1.0, 3.0]));
        Assert.Equal(1.5, SideBySide.Median([double.PositiveInfinity, 1.0, 2.0]));
        Assert.True(double.IsNaN(SideBySide.Median([])));
        Assert.True(double.IsNaN(SideBySide.Median([double.NaN])));
    }

    [Fact]
    public void Percentile_is_the_nearest_rank()
    {
        var hundred = Enumerable.Range(1, 100).Select(i => (double)i).Reverse().ToList();
        Assert.Equal(95.0, SideBySide.Percentile(hundred, 0.95));
        Assert.Equal(1.0, SideBySide.Percentile(hundred, 0.001));
        Assert.Equal(100.0, SideBySide.Percentile(hundred, 1));
        Assert.Equal(20.0, SideBySide.Percentile([10.0, 20.0], 0.95));
        Assert.True(double.IsNaN(SideBySide.Percentile([], 0.5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => SideBySide.Percentile([1.0], 0));
    }

    [Fact]
    public void Compare_gives_each_sides_median_and_ours_over_theirs()
    {
        var (ours, theirs, ratio) = SideBySide.Compare([(Side.Ours, 4.9), (Side.Theirs, 2.5), (Side.Ours, 5.1), (Side.Theirs, 2.4), (Side.Ours, 5.0), (Side.Theirs, 2.6)]);
        Assert.Equal(5.0, ours, 9);
        Assert.Equal(2.5, theirs, 9);
        Assert.Equal(2.0, ratio, 9);
        Assert.Equal("2.00", SideBySide.FormatRatio(ratio));
    }

    [Fact]
    public void A_ratio_without_both_sides_or_over_zero_is_not_a_number_and_prints_as_n_a()
    {
        Assert.True(double.IsNaN(SideBySide.Compare([(Side.Ours, 1.0)]).Ratio));
        Assert.True(double.IsNaN(SideBySide.Ratio(1, 0)));
        Assert.True(double.IsNaN(SideBySide.Ratio(double.NaN, 1)));
        Assert.Equal("n/a", SideBySide.FormatRatio(SideBySide.Ratio(1, 0)));
        Assert.Equal("0.50", SideBySide.FormatRatio(SideBySide.Ratio(1, 2)));
    }
}
