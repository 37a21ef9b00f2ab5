using ClusterActors.Node.Commands;

return await CommandLine.Build().Parse(args).InvokeAsync();
