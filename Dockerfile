# The ClusterActors image: the `clusteractors` executable, published self-contained for linux-x64 on the host
# (no SDK image: the project's machines reach no registry), plus the lab's entrypoint scripts. Build it with
# src/Node/lab/build-images.sh, which publishes into artifacts/docker/publish first.
#
# BASE: by default Microsoft's runtime-deps image for .NET 10 (machines with a registry); the lab script passes
# clusteractors-base:bookworm, a Debian minbase built locally with mmdebstrap (see src/Node/lab/README.md).
# The classic builder is enough (DOCKER_BUILDKIT=0): one stage, no BuildKit syntax.
ARG BASE=mcr.microsoft.com/dotnet/runtime-deps:10.0
FROM ${BASE}
USER root
# The lab needs ip (interface names, lb1, routes) and arping (gratuitous ARP for the cluster's addresses); ping is for
# looking around. The local base has them, so this installs nothing there; runtime-deps gets them from its distro.
RUN if ! command -v ip >/dev/null || ! command -v arping >/dev/null || ! command -v ping >/dev/null; then \
        apt-get update \
        && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iproute2 arping iputils-ping \
        && rm -rf /var/lib/apt/lists/*; \
    fi
COPY artifacts/docker/publish/ /opt/clusteractors/
COPY src/Node/lab/scripts/ /usr/local/bin/
# The units run as `clusteractors` (uid 10001), not root: lab-net sets the interfaces up as root, then lab-user drops to
# that user keeping only NET_ADMIN and NET_RAW, ambient (docker-compose.yml, src/Node/lab/README.md "Least privilege").
# The data directory is the user's, so a new volume mounted there is too.
RUN ln -sf /opt/clusteractors/clusteractors /usr/local/bin/clusteractors && mkdir -p /var/lib/clusteractors /etc/clusteractors \
    && groupadd --system --gid 10001 clusteractors \
    && useradd --system --uid 10001 --gid clusteractors --home-dir /var/lib/clusteractors --no-create-home --shell /usr/sbin/nologin clusteractors \
    && chown clusteractors:clusteractors /var/lib/clusteractors
ENV DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DOTNET_NOLOGO=1
WORKDIR /var/lib/clusteractors
# lab-net names the interfaces after the scenario's ports (LAB_IFACES), then runs the command.
ENTRYPOINT ["/usr/local/bin/lab-net"]
CMD ["clusteractors", "--help"]
