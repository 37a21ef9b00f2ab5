namespace ClusterActors.MultiNode.Tests;

/// <summary>Multi-node specs run one at a time: timing assertions need the two cores to themselves.</summary>
[CollectionDefinition("multi-node", DisableParallelization = true)]
public sealed class MultiNodeCollection;
