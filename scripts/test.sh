#!/usr/bin/env bash
# make test: lint, format check, then the whole pytest suite.
#
# Without arguments the suite runs as three pytest processes at once - on two cores most of the
# end-to-end time is real waiting (deadlines, polling a running Airflow), which the other two fill:
#   unit      unit and integration tests (SQLite, PostgreSQL, sshd; no Airflow)
#   e2e-own   end-to-end tests that change what the one shared Airflow has in common (its access
#             file, the SIAK demo database, the backup and hand-over DAGs' deadlines) together
#             with every test that depends on those; this process starts the Airflow
#   e2e-more  the other end-to-end tests, on the same Airflow (tests/e2e/conftest.py)
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
  tests/e2e/test_recovery_dag.py       # swaps the access file, restores the SIAK database
  tests/e2e/test_backup_dag.py         # short hand-over deadlines; reads the SIAK database
  tests/e2e/test_browser_signoff.py    # hand-overs (backup_handover)
  tests/e2e/test_access_rights_dag.py  # writes SIAK accounts
  tests/e2e/test_out_of_policy_dag.py  # locks SIAK accounts
  tests/e2e/test_access_dags.py        # who may trigger what: reads the access file
  tests/e2e/test_helpdesk_signoffs.py  # exactly who is assigned: reads the access file
  tests/e2e/test_monthly_report_dag.py # the mail inbox lives in this process
)
E2E_MORE=(
  tests/e2e/test_helpdesk_dag.py       # short field-check deadlines (helpdesk step 5)
  tests/e2e/test_immediate_answers.py
  tests/e2e/test_browser_pages.py
  tests/e2e/test_office_pages.py
  tests/e2e/test_data_provision_dag.py
  tests/e2e/test_network_dag.py        # its own network file
)
missing=$(comm -23 <(ls tests/e2e/test_*.py | sort) <(printf '%s\n' "${E2E_OWN[@]}" "${E2E_MORE[@]}" | sort))
if [[ -n $missing ]]; then
  echo "scripts/test.sh: put these end-to-end files in E2E_OWN or E2E_MORE: $missing" >&2
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

echo "== pytest (3 processes: unit, e2e-own, e2e-more)"
start=$SECONDS
PIAK_E2E_PUBLISH=$share run e2e-own "${E2E_OWN[@]}"
PIAK_E2E_ATTACH=$share run e2e-more "${E2E_MORE[@]}"
run unit -m "not e2e and not distributed and not load and not compose" --ignore=tests/e2e

# e2e-own stops the shared Airflow only once e2e-more is done; e2e-more stops waiting for it
# when e2e-own ended without publishing one.
signal_when_done() {
  while [[ ! -f $work/$1.rc ]]; do sleep 1; done
  touch "$share/$2"
}
signal_when_done e2e-more done &
signal_when_done e2e-own publisher-ended &
wait

status=0
for name in unit e2e-own e2e-more; do
  rc=$(cat "$work/$name.rc" 2>/dev/null || echo 1)
  echo "== $name: $([[ $rc == 0 ]] && echo passed || echo "FAILED (exit $rc)")"
  [[ $rc == 0 ]] || status=1
done
echo "== pytest took $((SECONDS - start)) s"
rm -rf "$work"
exit "$status"
