using ClusterActors.Node.Commands;
using ClusterActors.Node.Hosting;

// Before anything loads DotNetty (Akka remoting): its allocator reads the environment once (RuntimeDefaults).
RuntimeDefaults.Apply();
return await CommandLine.Build().Parse(args).InvokeAsync();
