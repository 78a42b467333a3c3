#!/usr/bin/env bash
# Make sure a Docker engine runs here, from Debian's packages only (no registry is reachable).
# Idempotent: installs what is missing, starts dockerd when it is not running, waits for it.
#   .ci/docker.sh            # then `docker info` works
# The daemon's log goes to ${DOCKERD_LOG:-/tmp/dockerd.log}. Needs root (CI runs as root).
set -euo pipefail

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "docker.sh: ${missing[*]} missing and this is not root; install them with" \
             "\`sudo apt-get install -y ${missing[*]}\` (or run this script as root)" >&2
        exit 1
    fi
    echo "docker.sh: installing ${missing[*]} from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || apt-get update
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if docker info >/dev/null 2>&1; then
    echo "docker.sh: Docker engine already running ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    echo "docker.sh: the Docker daemon is not reachable and this is not root; start it with" \
         "\`sudo systemctl start docker\` (or \`sudo dockerd &\`), check with \`docker info\`" >&2
    exit 1
fi
if ! pgrep -x dockerd >/dev/null 2>&1; then
    log="${DOCKERD_LOG:-/tmp/dockerd.log}"
    echo "docker.sh: starting dockerd (log: $log)"
    # its own session, so it outlives this script and the CI step's process group
    setsid dockerd >"$log" 2>&1 </dev/null &
fi

for _ in $(seq 1 150); do
    if docker info >/dev/null 2>&1; then
        echo "docker.sh: Docker engine ready ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"
        exit 0
    fi
    sleep 0.2
done
echo "docker.sh: dockerd did not come up in 30 s; last lines of its log:" >&2
tail -n 30 "${DOCKERD_LOG:-/tmp/dockerd.log}" >&2 || true
exit 1
