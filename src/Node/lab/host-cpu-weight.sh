#!/usr/bin/env bash
# Gives the lab's containers, taken together, the CPU weight of as many ordinary host processes as the lab has
# containers, instead of the weight of one.
#
# Why: with Docker's cgroupfs driver every container's cgroup sits under one parent, `docker`, whose cpu.shares is the
# kernel's default 1024, the weight of a single nice-0 task. The scheduler shares a CPU between the parent group and
# each runnable task of the root group: on a 2-core machine with eight busy host threads (a build, a test run), the
# four units, the router, the client and the Server together got about a ninth of the CPU, and the drills' timing
# (heartbeats every 200 ms, failover within 300 ms of FGCP detection) failed as the machine got busy (measured: 1 or 2
# of 5 drills passed, the units took 15 s to start; the embedded lab, whose threads are host threads, did not suffer).
# This is fairness, not priority: 1024 per lab container (LAB_CONTAINERS, default 7: four units, dc_router, the client,
# the Server), so each container competes as one host process would; within the parent each container keeps Docker's
# default 1024. Idempotent; run as root after dockerd is up (.ci/docker-setup and the docker drill lab call it).
#   src/Node/lab/host-cpu-weight.sh          set it (creates the parent cgroup if dockerd has not yet)
#   src/Node/lab/host-cpu-weight.sh --show   print the parent's weight
# cgroup v1 (cpu.shares, this project's machines) and v2 with the cgroupfs driver (cpu.weight, same ratio: 100 per
# container). With the systemd driver the containers are scopes in system.slice, beside every other service: nothing
# is changed and a line says so.
set -euo pipefail

containers=${LAB_CONTAINERS:-7}
v1=/sys/fs/cgroup/cpu/docker
v2=/sys/fs/cgroup/docker
say() { echo "host-cpu-weight: $*"; }

if [ -d /sys/fs/cgroup/cpu ] && [ -f /sys/fs/cgroup/cpu/cpu.shares ]; then
    file=$v1/cpu.shares value=$(( containers * 1024 ))
    [ -d "$v1" ] || mkdir "$v1"
elif [ -f /sys/fs/cgroup/cgroup.controllers ] && [ -d "$v2" ]; then
    file=$v2/cpu.weight value=$(( containers * 100 ))
    [ -f "$file" ] || { say "no cpu controller in $v2: left as it is"; exit 0; }
else
    say "no cgroupfs 'docker' parent (systemd cgroup driver?): left as it is"
    exit 0
fi

if [ "${1:-}" = "--show" ]; then
    echo "$file $(cat "$file")"
    exit 0
fi
current=$(cat "$file")
if [ "$current" != "$value" ]; then
    echo "$value" > "$file"
    say "$file $current -> $value ($containers containers)"
fi
