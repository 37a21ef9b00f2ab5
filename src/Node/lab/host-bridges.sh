#!/usr/bin/env bash
# The lab's segments are Docker `internal` networks, and Docker drops every packet on an internal bridge whose source
# or destination lies outside the bridge's subnet (DOCKER-ISOLATION-STAGE-1, applied to bridged frames as well when
# br_netfilter is loaded: net.bridge.bridge-nf-call-iptables = 1). The scenario routes across segments (the client's
# IKE and ESP to lb1 192.168.202.35, the units' replies from it, PC1's traffic to the Server inside ESP …), so those
# frames must cross each bridge as a switch would carry them. This accepts frames that stay on one lab bridge (in and
# out the same ca-* bridge) in DOCKER-USER, which Docker consults first and never flushes; nothing is routed by the host.
#   src/Node/lab/host-bridges.sh add [BRIDGE …]      after `docker-compose up` (idempotent)
#   src/Node/lab/host-bridges.sh remove [BRIDGE …]   after `docker-compose down`
# BRIDGE: the lab's ca-* bridges; default the seed lab's (docker-compose.yml). `clusteractors lab up` names its own.
set -euo pipefail
BRIDGES=(ca-wan ca-c1-port2 ca-c2-port2 ca-c1-port3 ca-c2-port3 ca-c1-hb ca-c2-hb ca-fgsp ca-server)
action=${1:-add}
if [ $# -gt 1 ]; then BRIDGES=("${@:2}"); fi
command -v iptables >/dev/null || { echo "host-bridges: no iptables on this host: nothing to do" >&2; exit 0; }
iptables -S DOCKER-USER >/dev/null 2>&1 || { echo "host-bridges: no DOCKER-USER chain (is dockerd running?)" >&2; exit 1; }
for b in "${BRIDGES[@]}"; do
    rule=(-i "$b" -o "$b" -m comment --comment clusteractors-lab -j ACCEPT)
    case "$action" in
        add) iptables -C DOCKER-USER "${rule[@]}" 2>/dev/null || iptables -I DOCKER-USER "${rule[@]}" ;;
        remove) while iptables -C DOCKER-USER "${rule[@]}" 2>/dev/null; do iptables -D DOCKER-USER "${rule[@]}"; done ;;
        *) echo "host-bridges: add or remove, not '$action'" >&2; exit 2 ;;
    esac
done
