#!/usr/bin/env bash
# make test-compose: docker-compose.yaml built and started for real, then checked
# (tests/compose_stack). As root: a private Docker engine (scripts/docker-engine.sh) with local
# bases built from Debian's packages and PyPI (scripts/build-local-images.sh; no registry is
# needed), the stack in a throwaway compose project; `docker-compose down -v` and the engine's
# stop leave nothing running, also when a step fails or the run is interrupted. Image layers
# stay in the engine's data root (PIAK_DOCKER_ROOT, default /var/lib/piak-docker) for the next run.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
  echo "make test-compose starts a private Docker engine and needs root: sudo make test-compose" >&2
  exit 1
fi
scripts/ensure-debian-packages.sh docker.io docker-compose debootstrap
trap 'scripts/docker-engine.sh stop' EXIT
trap 'exit 130' INT TERM
started=$SECONDS
scripts/docker-engine.sh start
eval "$(scripts/docker-engine.sh env)"
export DOCKER_HOST
# The private engine has no bridge network of its own: builds use the host's network.
export PIAK_BUILD_NETWORK=host PIAK_DOCKER_CLI=/usr/bin/docker
images=$(scripts/build-local-images.sh)
# shellcheck disable=SC2046  # the printed NAME=value lines
export $(grep -E '^PIAK_[A-Z_]+_IMAGE=' <<< "$images")
echo "== local bases ready after $((SECONDS - started)) s"
export PYTHONPATH="$PWD/include${PYTHONPATH:+:$PYTHONPATH}"
status=0
.venv/bin/python -m pytest tests/compose_stack -p no:cacheprovider --durations=0 "$@" || status=$?
echo "== make test-compose: $((SECONDS - started)) s"
exit "$status"
