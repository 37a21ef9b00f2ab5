#!/usr/bin/env bash
# "strongSwan's ping crosses one FGCP failover", for CI: the container lab with the real strongSwan client (compose
# profile `strongswan`) instead of ours, vpn1 dialed with swanctl, ping from strongSwan's LAN side (10.10.1.1) to the
# Server at 100 pps nominal, DC2_VM1 (the tunnel's owner) killed; DC2_VM2 must take the tunnel over with the same SAs
# and the longest gap must stay within hb-interval × hb-lost-threshold + 300 ms (4.3 s with the lab's timers).
# It is `clusteractors drill seed fgcp-failover --mode docker --client strongswan`; this script builds the images
# first and tears the lab down whatever happens (also on Ctrl-C or a crash of the drill). charon runs with DPD
# (LAB_SWAN_DPD, default here 1s): the DPD it sends into the outage is retransmitted to the new owner, and the one after
# the ping's end must be answered, so the IKE SA's message IDs must have survived the failover too (0 turns DPD off).
#   src/Node/lab/strongswan-failover.sh [--runs N] [--rate PPS] [--out DIR]     (other arguments go to the drill)
# The reports land in a folder of their own under --out (START-fgcp-failover/, summary.md in it).
# Exit 0 when every run passed, 1 when one failed (or the tunnel never came up), 2 on a usage error.
# Needs root, docker + docker-compose, the images' tools (build-images.sh) and a Release build of the solution (or
# `clusteractors` on PATH; CLUSTERACTORS_BIN overrides).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
project=clusteractors-drill
bin=${CLUSTERACTORS_BIN:-}
if [ -z "$bin" ]; then
    if [ -x src/Node/bin/Release/net10.0/clusteractors ]; then bin=src/Node/bin/Release/net10.0/clusteractors
    elif command -v clusteractors >/dev/null; then bin=clusteractors
    else echo "strongswan-failover: no clusteractors (dotnet build ClusterActors.sln -c Release, or set CLUSTERACTORS_BIN)" >&2; exit 2; fi
fi

teardown() {
    echo "== lab down (project $project)"
    COMPOSE_PROFILES=strongswan docker-compose -p "$project" -f docker-compose.yml down -t 1 -v >/dev/null 2>&1 || true
    src/Node/lab/host-bridges.sh remove >/dev/null 2>&1 || true
}
trap teardown EXIT

started=$SECONDS
echo "== images"
src/Node/lab/build-images.sh
echo "== drill: $bin drill seed fgcp-failover --mode docker --client strongswan $*"
export CLUSTERACTORS_LAB_ROOT=$root LAB_SWAN_DPD=${LAB_SWAN_DPD:-1s}
unset CLUSTERACTORS_DRILL_KEEP
out=(--out drill-reports/strongswan)
for a in "$@"; do [ "$a" = --out ] && out=(); done
status=0
"$bin" drill seed fgcp-failover --mode docker --client strongswan "${out[@]}" "$@" || status=$?
echo "== strongswan-failover: exit $status after $(( SECONDS - started )) s"
exit "$status"
