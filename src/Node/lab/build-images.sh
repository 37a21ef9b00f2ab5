#!/usr/bin/env bash
# Builds the container lab's images without pulling anything from a registry:
#   clusteractors-base:bookworm    Debian 12 minbase from mmdebstrap, piped into `docker import` (about 35 s)
#   clusteractors:latest           the Dockerfile at the repo root on that base, with `clusteractors` published
#                                  self-contained for linux-x64 on this machine
#   clusteractors-postgres:latest  src/Node/lab/postgres/Dockerfile: the base plus Debian's postgresql
#   clusteractors-strongswan:latest  src/Node/lab/strongswan/Dockerfile: the base plus Debian's strongSwan (charon-systemd,
#                                  swanctl, kernel-libipsec) and ping, for the compose profile `strongswan`
#   clusteractors-prometheus:latest  src/Node/lab/prometheus/Dockerfile: the base plus Debian's prometheus, for the
#                                  compose profile `observability`
# Idempotent: an image that exists is skipped; clusteractors:latest is rebuilt when the sources it is made from
# changed (a hash of them is its label org.clusteractors.source), a profile's image when its folder's files did. --force rebuilds all five.
# Needs docker (a running engine), mmdebstrap and the .NET SDK; Debian packages come from MIRROR and SECURITY_MIRROR
# (defaults: Debian's own), as apt-get on this machine gets them.
set -euo pipefail
cd "$(dirname "$0")/../../.."

BASE_IMAGE=${BASE_IMAGE:-clusteractors-base:bookworm}
APP_IMAGE=${APP_IMAGE:-clusteractors:latest}
PG_IMAGE=${PG_IMAGE:-clusteractors-postgres:latest}
SWAN_IMAGE=${SWAN_IMAGE:-clusteractors-strongswan:latest}
PROM_IMAGE=${PROM_IMAGE:-clusteractors-prometheus:latest}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
PUBLISH_DIR=artifacts/docker/publish
# The Docker 28 client has no buildx here: the classic builder, which the Dockerfiles are written for.
export DOCKER_BUILDKIT=0 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

force=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "build-images: unknown argument '$arg' (only --force)" >&2; exit 2 ;;
    esac
done

started=$SECONDS
say() { printf '== %s\n' "$*"; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
elapsed() { echo "$(( SECONDS - $1 )) s"; }

# The sources the app image is made from: tracked and new files (bin/obj and the like are ignored), names and contents;
# the units' configs, the strongSwan client's files and the docs are left out (compose mounts them, nothing bakes them in).
source_hash() {
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        { git ls-files -z -co --exclude-standard -- src hocon Directory.Build.props Directory.Packages.props Dockerfile .dockerignore \
                ':!src/Node/lab/units' ':!src/Node/lab/strongswan' ':!src/Node/lab/prometheus' ':!*.md' \
            | sort -z | xargs -0 sha256sum 2>/dev/null || true; } | sha256sum | cut -c1-16
    else
        echo "unknown-$(date +%s)"   # not a git checkout: always rebuild
    fi
}

command -v docker >/dev/null || { echo "build-images: docker is not installed (.ci/docker-setup installs it)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "build-images: the Docker engine does not answer (.ci/docker-setup starts it)" >&2; exit 1; }

# 1. The base: what the runtime needs (TLS, ICU, time zones) and what the lab needs (ip, arping, ping). The host's
# /etc/resolv.conf and /etc/hostname that mmdebstrap copies in for apt are removed before the import: Docker mounts
# its own in every container. The mirror's Release files may be older than their Valid-Until (a snapshot mirror),
# as the machine's own apt config allows for.
if [ "$force" = 1 ] || ! have_image "$BASE_IMAGE"; then
    command -v mmdebstrap >/dev/null || { echo "build-images: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }
    say "base $BASE_IMAGE: mmdebstrap bookworm minbase from $MIRROR (about 35 s)"
    t=$SECONDS
    mmdebstrap --variant=minbase \
        --include=ca-certificates,libssl3,libicu72,tzdata,iproute2,arping,iputils-ping,nftables \
        --aptopt='Acquire::Check-Valid-Until "false"' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --customize-hook='rm -f "$1/etc/resolv.conf" "$1/etc/hostname"' \
        bookworm - \
        "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb $SECURITY_MIRROR bookworm-security main" \
        | docker import \
            --change 'ENV LANG=C.UTF-8' \
            --change 'LABEL org.clusteractors.image=base' \
            --change 'CMD ["/bin/bash"]' \
            - "$BASE_IMAGE" >/dev/null
    say "base $BASE_IMAGE: built in $(elapsed $t)"
else
    say "base $BASE_IMAGE: exists, skipped"
fi

# 2. The app: published here (the runtime pack comes from NuGet like any package), copied in by the Dockerfile.
hash=$(source_hash)
current=$(docker image inspect -f '{{index .Config.Labels "org.clusteractors.source"}}' "$APP_IMAGE" 2>/dev/null || true)
if [ "$force" = 1 ] || [ "$current" != "$hash" ]; then
    if [ -z "$current" ]; then why="missing"; else why="sources changed ($current -> $hash)"; fi
    [ "$force" = 1 ] && why="--force"
    say "app $APP_IMAGE: $why; dotnet publish src/Node -r linux-x64 --self-contained"
    t=$SECONDS
    rm -rf "$PUBLISH_DIR"
    dotnet publish src/Node -c Release -r linux-x64 --self-contained -o "$PUBLISH_DIR" -nologo -v quiet 2>&1 | sed 's/^/   /'
    say "app $APP_IMAGE: published in $(elapsed $t); docker build (classic builder) on $BASE_IMAGE"
    t=$SECONDS
    docker build -q --build-arg "BASE=$BASE_IMAGE" \
        --label org.clusteractors.image=app --label "org.clusteractors.source=$hash" \
        -t "$APP_IMAGE" . 2>&1 | { grep -v -i -E "legacy builder is deprecated|BuildKit is currently disabled|^ *environment-variable\.$|^$" || true; } | sed 's/^/   /'
    docker image prune -f --filter label=org.clusteractors.image=app >/dev/null
    say "app $APP_IMAGE: built in $(elapsed $t)"
else
    say "app $APP_IMAGE: exists and is up to date (source $hash), skipped"
fi

# 3 and 4. The profiles' images, each the base plus Debian packages from its own Dockerfile: PostgreSQL for `postgres`,
# strongSwan for `strongswan` (packages only; its scripts and conf files are mounted from src/Node/lab/strongswan).
profile_image() { # KIND IMAGE DIR WHAT
    local hash current
    hash=$(cd "$3" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
    current=$(docker image inspect -f '{{index .Config.Labels "org.clusteractors.source"}}' "$2" 2>/dev/null || true)
    if [ "$force" = 1 ] || [ "$current" != "$hash" ]; then
        say "$1 $2: $BASE_IMAGE + $4"
        local t=$SECONDS
        docker build -q --build-arg "BASE=$BASE_IMAGE" --label "org.clusteractors.image=$1" --label "org.clusteractors.source=$hash" \
            -t "$2" "$3" 2>&1 | { grep -v -i -E "legacy builder is deprecated|BuildKit is currently disabled|^ *environment-variable\.$|^$" || true; } | sed 's/^/   /'
        docker image prune -f --filter "label=org.clusteractors.image=$1" >/dev/null
        say "$1 $2: built in $(elapsed $t)"
    else
        say "$1 $2: exists and is up to date (source $hash), skipped"
    fi
}
profile_image postgres "$PG_IMAGE" src/Node/lab/postgres "Debian's postgresql"
profile_image strongswan "$SWAN_IMAGE" src/Node/lab/strongswan "Debian's charon-systemd, strongswan-swanctl, libcharon-extra-plugins, ping"
profile_image prometheus "$PROM_IMAGE" src/Node/lab/prometheus "Debian's prometheus"

# 5. The lab's certificates for Akka remoting's mutual TLS (mounted into every unit by docker-compose.yml): made once,
# kept across rebuilds so running units keep trusting each other; delete artifacts/lab-certs to make new ones.
CERTS_DIR=artifacts/lab-certs
if [ ! -f "$CERTS_DIR/ca.crt" ]; then
    say "certs: clusteractors certs create --out $CERTS_DIR (lab CA + DC2_VM1..4)"
    if [ -x "$PUBLISH_DIR/clusteractors" ]; then "$PUBLISH_DIR/clusteractors" certs create --out "$CERTS_DIR"
    else dotnet run --project src/Node -c Release -- certs create --out "$CERTS_DIR"; fi
    # The units read their key as whatever user the container runs them as: readable inside the lab only.
    chmod 0644 "$CERTS_DIR"/*.key
else
    say "certs: $CERTS_DIR exists, kept"
fi

say "images ready in $(elapsed $started):"
for image in "$BASE_IMAGE" "$APP_IMAGE" "$PG_IMAGE" "$SWAN_IMAGE" "$PROM_IMAGE"; do
    read -r id size < <(docker image inspect -f '{{.Id}} {{.Size}}' "$image")
    printf '   %-30s %s %5d MB\n' "$image" "${id:7:12}" "$(( size / 1000000 ))"
done
