#!/usr/bin/env bash
# A private Docker engine for `make test-compose` (and for trying the compose stack on a machine
# without one): Debian's docker.io, started as root with a data root, exec root, socket and
# configuration of its own. It listens only on its unix socket (no TCP), touches neither the
# host's iptables nor its IP forwarding (containers reach each other on their compose network;
# published ports go through docker-proxy on 127.0.0.1), and takes its networks from an address
# pool that overlaps none of the machine's routes.
#
#   scripts/docker-engine.sh start   # install docker.io when missing, start, wait until it answers
#   scripts/docker-engine.sh env     # prints: export DOCKER_HOST=unix://...
#   scripts/docker-engine.sh stop    # remove every container, network and volume, stop the engine
#   scripts/docker-engine.sh status
#
#   PIAK_DOCKER_ROOT   where the engine lives (default /var/lib/piak-docker). data/ (images and
#                      their layer cache) is kept between runs; everything else goes on stop.
#   PIAK_DOCKER_POOL   address pool of its networks (default: the first /16 of 10.200-10.249
#                      that overlaps no route or address of this machine).
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT=${PIAK_DOCKER_ROOT:-/var/lib/piak-docker}
RUN=$ROOT/run
SOCK=$RUN/docker.sock
PIDFILE=$RUN/dockerd.pid
LOG=$ROOT/dockerd.log
DOCKER=/usr/bin/docker   # the docker.io client (another `docker` may come first on PATH)
START_TIMEOUT=${PIAK_DOCKER_START_TIMEOUT:-90}
STOP_TIMEOUT=30

docker_cli() { "$DOCKER" -H "unix://$SOCK" "$@"; }

running_pid() {
  local pid
  [[ -f $PIDFILE ]] || return 1
  pid=$(<"$PIDFILE")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && [[ $(readlink "/proc/$pid/exe") == */dockerd ]] \
    && echo "$pid"
}

require_root() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "The private Docker engine is started and stopped as root: sudo $0 $*" >&2
    exit 1
  fi
}

# The first /16 in 10.200-10.249 that overlaps no route and no address of this machine.
free_pool() {
  python3 - <<'PY'
import ipaddress, subprocess
used = []
for args in (["ip", "-4", "route", "show", "table", "all"], ["ip", "-4", "-o", "addr", "show"]):
    for line in subprocess.run(args, capture_output=True, text=True, check=True).stdout.splitlines():
        for word in line.split():
            try:
                net = ipaddress.ip_network(word, strict=False)
            except ValueError:
                continue
            if net.prefixlen > 0:
                used.append(net)
for second in range(200, 250):
    pool = ipaddress.ip_network(f"10.{second}.0.0/16")
    if not any(pool.overlaps(net) for net in used):
        print(pool)
        break
else:
    raise SystemExit("no free /16 in 10.200.0.0-10.249.255.255 for the engine's networks")
PY
}

write_config() {
  local pool=$1
  python3 - "$ROOT" "$RUN" "$SOCK" "$PIDFILE" "$pool" > "$ROOT/daemon.json" <<'PY'
import hashlib, json, sys
root, run, sock, pidfile, pool = sys.argv[1:]
print(json.dumps({
    "hosts": [f"unix://{sock}"],
    "data-root": f"{root}/data",
    "exec-root": run,
    "pidfile": pidfile,
    "deprecated-key-path": f"{root}/key.json",
    "containerd-namespace": "piak-" + hashlib.sha256(root.encode()).hexdigest()[:8],
    "containerd-plugins-namespace": "piak-plugins-" + hashlib.sha256(root.encode()).hexdigest()[:8],
    "bridge": "none",
    "iptables": False,
    "ip-forward": False,
    "ip-masq": False,
    "userland-proxy": True,
    "default-address-pools": [{"base": pool, "size": 24}],
    "storage-driver": "overlay2",
    "log-driver": "json-file",
    "log-opts": {"max-size": "10m", "max-file": "2"},
    "features": {"buildkit": False},
}, indent=2))
PY
}

start() {
  require_root start
  if pid=$(running_pid); then
    echo "Docker engine already running (pid $pid, unix://$SOCK)"
    return 0
  fi
  scripts/ensure-debian-packages.sh docker.io
  mkdir -p "$ROOT/data" "$RUN"
  chmod 711 "$ROOT"
  local pool=${PIAK_DOCKER_POOL:-$(free_pool)}
  write_config "$pool"
  : > "$LOG"
  # A session of its own: the engine outlives this script until `stop`.
  setsid /usr/sbin/dockerd --config-file "$ROOT/daemon.json" >> "$LOG" 2>&1 < /dev/null &
  local deadline=$((SECONDS + START_TIMEOUT))
  until docker_cli version > /dev/null 2>&1; do
    if ((SECONDS >= deadline)) || ! kill -0 $! 2>/dev/null; then
      echo "The Docker engine did not start within ${START_TIMEOUT} s; its log ($LOG):" >&2
      tail -n 30 "$LOG" >&2
      stop
      exit 1
    fi
    sleep 0.5
  done
  echo "Docker engine running (pid $(running_pid), unix://$SOCK, networks from $pool)"
}

# Mount points the engine left under its root (overlay layers, network namespaces).
leftover_mounts() {
  awk -v root="$ROOT/" 'index($2, root) == 1 { print $2 }' /proc/self/mounts | sort -r
}

stop() {
  require_root stop
  local pid
  if pid=$(running_pid); then
    local containers
    containers=$(docker_cli ps -aq 2>/dev/null || true)
    if [[ -n $containers ]]; then
      # shellcheck disable=SC2086  # one id per word
      docker_cli rm -fv $containers > /dev/null || true
    fi
    docker_cli network prune -f > /dev/null 2>&1 || true
    docker_cli volume prune -f > /dev/null 2>&1 || true
    kill -TERM "$pid"
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "dockerd (pid $pid) did not stop within ${STOP_TIMEOUT} s: killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  # dockerd's own containerd stops with it; after a kill it may be left: end it by its pid file.
  local containerd_pid=$RUN/containerd/containerd.pid
  if [[ -f $containerd_pid ]] && kill -0 "$(<"$containerd_pid")" 2>/dev/null; then
    kill -TERM "$(<"$containerd_pid")" 2>/dev/null || true
    sleep 2
  fi
  local mount
  for mount in $(leftover_mounts); do
    umount -l "$mount" 2>/dev/null || true
  done
  rm -rf "$RUN"
  # Folders dockerd and its containerd make outside their roots: removed when empty (another
  # engine may be using them).
  rmdir /run/docker/plugins /run/docker /run/containerd/s /run/containerd 2> /dev/null || true
  if [[ -n $(leftover_mounts) ]]; then
    echo "Mounts left under $ROOT:" >&2
    leftover_mounts >&2
    exit 1
  fi
  echo "Docker engine stopped (images kept in $ROOT/data)"
}

status() {
  if pid=$(running_pid); then
    echo "running (pid $pid, unix://$SOCK)"
  else
    echo "stopped"
    return 1
  fi
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) echo "export DOCKER_HOST=unix://$SOCK" ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2
    exit 2
    ;;
esac
