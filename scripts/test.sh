#!/usr/bin/env bash
# make test: lint, format check, then the whole pytest suite.
#
# Without arguments the suite runs as five pytest processes at once - on two cores most of the
# end-to-end time is real waiting (deadlines, a person's answer, polling a running Airflow),
# which the others fill:
#   unit      unit and integration tests (SQLite, PostgreSQL, sshd; no Airflow)
#   e2e-own   end-to-end tests on the one shared Airflow; this process starts it and stops it
#             once the other lanes are done
#   e2e-b, e2e-c, e2e-d   the other end-to-end tests, attached to the same Airflow
# Tests that change what the Airflow shares hold a lock for it - recovery runs (a backup waits
# for them), the access file, the SIAK database: Airflow.holding in tests/e2e/conftest.py - and
# those that depend on it hold it shared; so do sign-off deadlines a test swaps for one step
# (Airflow.deadlines). Within a lane, files run in the order listed (tests waiting for a lock
# another lane holds early come late).
# With arguments: one pytest process with those arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/include${PYTHONPATH:+:$PYTHONPATH}"
# The suite starts hundreds of Python processes that import the package: compile it once.
unset PYTHONDONTWRITEBYTECODE
echo "== ruff check"
.venv/bin/ruff check .
echo "== ruff format --check"
.venv/bin/ruff format --check .
if (($#)); then
  echo "== pytest"
  exec .venv/bin/python -m pytest "$@"
fi

E2E_OWN=(
  tests/e2e/test_recovery_dag.py
  tests/e2e/test_access_rights_dag.py
  tests/e2e/test_access_dags.py
)
E2E_B=(
  tests/e2e/test_backup_dag.py         # short hand-over deadlines (backup_handover step 7)
  tests/e2e/test_browser_signoff.py    # hand-overs: their usual deadlines, after the swap
  tests/e2e/test_monthly_report_dag.py
)
E2E_C=(
  tests/e2e/test_helpdesk_dag.py       # short field-check deadlines (helpdesk step 5)
  tests/e2e/test_helpdesk_signoffs.py  # helpdesk runs
  tests/e2e/test_data_provision_dag.py
  tests/e2e/test_office_pages.py
)
E2E_D=(
  tests/e2e/test_immediate_answers.py
  tests/e2e/test_network_dag.py        # its own network file
  tests/e2e/test_browser_pages.py
  tests/e2e/test_out_of_policy_dag.py
)
ATTACHED=(e2e-b e2e-c e2e-d)
listed=("${E2E_OWN[@]}" "${E2E_B[@]}" "${E2E_C[@]}" "${E2E_D[@]}")
missing=$(comm -23 <(ls tests/e2e/test_*.py | sort) <(printf '%s\n' "${listed[@]}" | sort))
if [[ -n $missing ]]; then
  echo "scripts/test.sh: put these end-to-end files in one of the E2E_ lanes: $missing" >&2
  exit 2
fi

work=$(mktemp -d /tmp/piak-test.XXXXXX)
share=$work/shared-airflow
mkdir -p "$share"
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
}
trap 'stop_all; exit 130' INT TERM

# One pytest process in its own process group (so an interrupt stops all of it), its output
# prefixed with its name; its exit code in $work/<name>.rc.
run() {
  local name=$1
  shift
  setsid bash -c '
    name=$1; work=$2; shift 2
    .venv/bin/python -m pytest -p no:cacheprovider --basetemp "$work/$name" "$@" \
      > >(sed -u "s/^/[$name] /") 2>&1
    echo $? > "$work/$name.rc"
  ' _ "$name" "$work" "$@" &
  pids+=($!)
}

echo "== pytest (5 processes: unit, e2e-own, ${ATTACHED[*]})"
start=$SECONDS
PIAK_E2E_PUBLISH=$share run e2e-own "${E2E_OWN[@]}"
PIAK_E2E_ATTACH=$share run e2e-b "${E2E_B[@]}"
PIAK_E2E_ATTACH=$share run e2e-c "${E2E_C[@]}"
PIAK_E2E_ATTACH=$share run e2e-d "${E2E_D[@]}"
run unit -m "not e2e and not distributed and not load and not compose" --ignore=tests/e2e

# e2e-own stops the shared Airflow only once every attached lane is done; an attached lane stops
# waiting for it when e2e-own ended without publishing one.
signal_when_done() {
  local flag=$1
  shift
  for name in "$@"; do
    while [[ ! -f $work/$name.rc ]]; do sleep 1; done
  done
  touch "$share/$flag"
}
signal_when_done done "${ATTACHED[@]}" &
signal_when_done publisher-ended e2e-own &
wait

status=0
for name in unit e2e-own "${ATTACHED[@]}"; do
  rc=$(cat "$work/$name.rc" 2>/dev/null || echo 1)
  echo "== $name: $([[ $rc == 0 ]] && echo passed || echo "FAILED (exit $rc)")"
  [[ $rc == 0 ]] || status=1
done
echo "== pytest took $((SECONDS - start)) s"
rm -rf "$work"
exit "$status"
