#!/usr/bin/env bash
# Local stand-ins for the official images, built where no container registry can be reached
# (an air-gapped office, the tests): a Debian bookworm base made by debootstrap from the Debian
# mirror this host's apt uses, then from it (docker/local/*.Dockerfile)
#   piak-local/airflow:3.3.2-python3.11   Debian's Python 3.11 + Airflow from requirements.txt
#                                         and constraints.txt, laid out like apache/airflow
#   piak-local/postgres:15                Debian's PostgreSQL 15
#   piak-local/redis:7                    Debian's Redis 7
# and prints the .env lines that make docker-compose.yaml use them. Images already built are
# kept (Docker's layer cache makes a second run take seconds); PIAK_LOCAL_REBUILD=1 makes the
# Debian base again and rebuilds everything without the cache (newer Debian packages).
#
# As root (debootstrap) with a Docker engine (DOCKER_HOST). The builds use this host's pip
# settings and CA certificates (scripts/docker-host-settings.py) and the network of
# PIAK_BUILD_NETWORK (default: Docker's default; `host` for an engine without a bridge, as the
# private engine of scripts/docker-engine.sh).
#   PIAK_DEBIAN_MIRROR / PIAK_DEBIAN_SECURITY   override the mirrors found in apt's sources
set -euo pipefail
cd "$(dirname "$0")/.."

SUITE=bookworm   # Python 3.11, as apache/airflow:3.3.2-python3.11
PREFIX=${PIAK_LOCAL_IMAGE_PREFIX:-piak-local}
DEBIAN_IMAGE=$PREFIX/debian:$SUITE
AIRFLOW_IMAGE=$PREFIX/airflow:3.3.2-python3.11
POSTGRES_IMAGE=$PREFIX/postgres:15
REDIS_IMAGE=$PREFIX/redis:7
NETWORK=${PIAK_BUILD_NETWORK:-default}
DOCKER=${PIAK_DOCKER_CLI:-docker}

if [[ $(id -u) -ne 0 ]]; then
  echo "debootstrap needs root: sudo $0" >&2
  exit 1
fi
scripts/ensure-debian-packages.sh debootstrap

# The Debian mirror and security mirror of this host's apt sources (one-line or deb822 format).
apt_mirrors() {
  python3 - <<'PY'
import glob, re
codename = ""
for line in open("/etc/os-release", encoding="utf-8"):
    if line.startswith("VERSION_CODENAME="):
        codename = line.split("=", 1)[1].strip().strip('"')
entries = []  # (uris, suites)
files = ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]
for path in files:
    try:
        text = open(path, encoding="utf-8").read()
    except OSError:
        continue
    for line in text.splitlines():
        line = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
        if len(line) >= 3 and line[0] == "deb":
            entries.append(([line[1]], [line[2]]))
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    for stanza in re.split(r"\n\s*\n", open(path, encoding="utf-8").read()):
        fields = {}
        for line in stanza.splitlines():
            if ":" in line and not line.startswith(("#", " ")):
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.split()
        if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
            entries.append((fields.get("uris", []), fields.get("suites", [])))
mirror = security = ""
for uris, suites in entries:
    for suite in suites:
        if uris and suite == codename and not mirror:
            mirror = uris[0]
        if uris and suite == f"{codename}-security" and not security:
            security = uris[0]
print(mirror, security)
PY
}

read -r found_mirror found_security < <(apt_mirrors)
MIRROR=${PIAK_DEBIAN_MIRROR:-$found_mirror}
SECURITY=${PIAK_DEBIAN_SECURITY:-$found_security}
if [[ -z $MIRROR ]]; then
  echo "No Debian mirror found in /etc/apt/sources.list*: set PIAK_DEBIAN_MIRROR" >&2
  exit 1
fi

have_image() { [[ -z ${PIAK_LOCAL_REBUILD:-} ]] && "$DOCKER" image inspect "$1" > /dev/null 2>&1; }

debian_base() {
  if have_image "$DEBIAN_IMAGE"; then
    return 0
  fi
  local work=$WORK/debootstrap
  mkdir -p "$work"
  echo "debootstrap $SUITE from $MIRROR"
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$work/rootfs" "$MIRROR" \
    > "$work/debootstrap.log" 2>&1 || {
    tail -n 20 "$work/debootstrap.log" >&2
    return 1
  }
  local rootfs=$work/rootfs
  rm -f "$rootfs/etc/apt/sources.list"
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$MIRROR" "$SUITE" "$SUITE"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    if [[ -n $SECURITY ]]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' "$SECURITY" "$SUITE"
      printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
    fi
  } > "$rootfs/etc/apt/sources.list.d/debian.sources"
  # As Debian's own container images: no services started by package scripts, no recommends.
  printf '#!/bin/sh\nexit 101\n' > "$rootfs/usr/sbin/policy-rc.d"
  chmod 755 "$rootfs/usr/sbin/policy-rc.d"
  echo 'APT::Install-Recommends "false";' > "$rootfs/etc/apt/apt.conf.d/90piak-no-recommends"
  # The host's extra CA certificates (an https mirror behind an intercepting proxy).
  if compgen -G "docker/host/ca-certificates/*.crt" > /dev/null; then
    mkdir -p "$rootfs/usr/local/share/ca-certificates/piak-host"
    cp docker/host/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/piak-host/"
    chroot "$rootfs" update-ca-certificates > /dev/null
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/*
  tar --numeric-owner -C "$rootfs" --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* -c . \
    | "$DOCKER" import --change 'CMD ["bash"]' - "$DEBIAN_IMAGE" > /dev/null
  rm -rf "$rootfs"
  echo "built $DEBIAN_IMAGE"
}

build() {
  local image=$1 dockerfile=$2
  local cache=()
  [[ -n ${PIAK_LOCAL_REBUILD:-} ]] && cache=(--no-cache)
  local log=$WORK/$(basename "$dockerfile").log started=$SECONDS
  "$DOCKER" build "${cache[@]}" --network "$NETWORK" --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" \
    -f "$dockerfile" -t "$image" . > "$log" 2>&1 || {
    echo "Building $image failed:" >&2
    tail -n 40 "$log" >&2
    return 1
  }
  echo "built $image ($((SECONDS - started)) s)"
}

WORK=$(mktemp -d /var/tmp/piak-local-images.XXXXXX)
cleanup() {
  # a failed debootstrap may leave its /proc and /sys mounted in the root file system
  local mount
  for mount in $(awk -v root="$WORK/" 'index($2, root) == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$mount" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

python3 scripts/docker-host-settings.py
debian_base
build "$POSTGRES_IMAGE" docker/local/postgres.Dockerfile
build "$REDIS_IMAGE" docker/local/redis.Dockerfile
build "$AIRFLOW_IMAGE" docker/local/airflow.Dockerfile
cat <<EOF
# The local bases; put these lines into .env (docker-compose.yaml reads them):
PIAK_AIRFLOW_BASE_IMAGE=$AIRFLOW_IMAGE
PIAK_POSTGRES_IMAGE=$POSTGRES_IMAGE
PIAK_REDIS_IMAGE=$REDIS_IMAGE
EOF
