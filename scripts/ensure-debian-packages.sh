#!/usr/bin/env bash
# Install the Debian packages given as arguments when they are missing.
# As root: apt-get update (once) and install, waiting for the dpkg/apt lock when another apt or
# dpkg holds it (unattended upgrades on a freshly booted machine). Otherwise: print exactly what
# to run, exit 1.
#   PIAK_APT_LOCK_WAIT  seconds to wait for the lock (default 600); then fail with a message.
set -euo pipefail
missing=()
for package in "$@"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "Missing Debian packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

wait_seconds=${PIAK_APT_LOCK_WAIT:-600}
locks=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock)

# Prints the first apt/dpkg lock another process holds (apt and dpkg take them with
# fcntl(F_SETLK); Python's lockf asks the same way, without waiting).
apt_locked() {
  local lock
  for lock in "${locks[@]}"; do
    [[ -e $lock ]] || continue
    if ! python3 - "$lock" <<'PY' 2>/dev/null; then
import fcntl, sys
with open(sys.argv[1], "r+") as handle:
    fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
PY
      echo "$lock"
      return 0
    fi
  done
  return 1
}

with_lock_wait() {
  local deadline=$((SECONDS + wait_seconds)) said=""
  while true; do
    if holder=$(apt_locked); then
      if ((SECONDS >= deadline)); then
        echo "Another apt/dpkg still holds $holder after ${wait_seconds} s; giving up." >&2
        echo "Wait for it to finish (ps aux | grep -E 'apt|dpkg'), then run this again." >&2
        exit 1
      fi
      if [[ -z $said ]]; then
        echo "Waiting for another apt/dpkg to release $holder (up to ${wait_seconds} s)" >&2
        said=1
      fi
      sleep 2
      continue
    fi
    # Between our check and apt taking the lock another process may get it: apt then waits
    # for it itself (DPkg::Lock::Timeout) instead of failing.
    "$@" -o DPkg::Lock::Timeout="$((deadline - SECONDS > 0 ? deadline - SECONDS : 1))" && return 0
    local status=$?
    apt_locked >/dev/null || return $status
  done
}

echo "Installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
with_lock_wait apt-get update -qq
with_lock_wait apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
