"""SOP "Prosedur Penanganan Penggunaan diluar Ketentuan": the code of its steps.

Step 1 (monitoring) runs every hour and on demand (DAG ``out_of_policy_usage``). It reads who is
connected and what they do in the system of record (:mod:`piak.engines.siak_accounts`: Oracle's
``V$SESSION`` and ``UNIFIED_AUDIT_TRAIL``; on the embedded default the demo database's sessions
and access log) for its window - the hour before the run, or the period the administrator
names - and checks it against the policy (``config/usage_policy.yaml``) and the access register
of SOP "Hak Akses": a registered, unblocked account; the computer registered for it (else one of
the allowed computers); an allowed program; office hours; no unusual volume of actions. The
system's own logins (application server, backup) have their own servers and programs and work
around the clock.

Each account with something new against it becomes one case (``KASUS-<window end>-<ACCOUNT>``)
with its evidence in ``storage/out_of_policy/kasus/<case>/bukti.json``, and only then the chain
of the Kasi, the Kabid and the Kepala Dinas starts - in its own run of DAG
``out_of_policy_case`` (run ``kasus__<case>``), so one unanswered case never holds up the next
hour's monitoring. Evidence already in a case (a session still connected an hour later) does not
open another one. Nothing found: no case, one line in the agenda.

Step 5 blocks the account in the system of record - locked, every session ended - and reads it
again; the agenda records what that second read confirmed. Step 6 archives the case, whatever
the decisions were. Evidence names accounts, computers, programs and tables - never a resident:
the audit trail says which table, never which row. V$SESSION's PROGRAM and MACHINE are reported
by the client and can be forged: evidence for the signers, not proof.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, Field, model_validator

from piak.core import access_register, sealed, settings
from piak.core.config import Duration, Strict, load_model
from piak.core.errors import InvalidRequest
from piak.core.files import write_text_atomic
from piak.workflow.steps import ANSWER_XCOM, answered_by, run_date, run_key, wib

DAYS = ("senin", "selasa", "rabu", "kamis", "jumat", "sabtu", "minggu")
HARI = dict(enumerate(d.capitalize() for d in DAYS))
#: The case DAG, and how its runs are named.
CASE_DAG = "out_of_policy_case"
MAX_WINDOW = timedelta(days=7)
MAX_EVIDENCE = 200
_WHEN = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2})?([+-]\d{2}:?\d{2}|Z)?$")
CASE_PATTERN = r"^KASUS-\d{8}-\d{4}-[A-Z][A-Z0-9_]{1,29}$"
_CASE = re.compile(CASE_PATTERN)
_WIB = ZoneInfo(settings.TIMEZONE)


def _pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"pola tidak sah {value!r}: {exc}") from None
    return value


Pattern = Annotated[str, AfterValidator(_pattern)]


class OfficeHours(Strict):
    days: tuple[str, ...] = DAYS[:5]
    start: time = time(7, 0)
    end: time = time(17, 0)

    @model_validator(mode="after")
    def _valid(self) -> OfficeHours:
        if unknown := [d for d in self.days if d not in DAYS]:
            raise ValueError(f"days: hari tidak dikenal {', '.join(unknown)} ({', '.join(DAYS)})")
        if self.start >= self.end:
            raise ValueError("start harus sebelum end")
        return self

    def contain(self, moment: datetime, holidays: tuple[date, ...]) -> bool:
        local = moment.astimezone(_WIB)
        return (
            DAYS[local.weekday()] in self.days
            and local.date() not in holidays
            and self.start <= local.time() < self.end
        )


class ServiceAccount(Strict):
    machines: tuple[Pattern, ...]
    programs: tuple[Pattern, ...]


class UsagePolicy(Strict):
    """``config/usage_policy.yaml``."""

    schedule: str | None = "0 * * * *"
    window: Duration = timedelta(hours=1)
    office_hours: OfficeHours = OfficeHours()
    holidays: tuple[date, ...] = ()
    allowed_programs: tuple[Pattern, ...]
    allowed_machines: tuple[Pattern, ...]
    max_actions: int = Field(default=300, ge=1)
    service_accounts: dict[str, ServiceAccount] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names(self) -> UsagePolicy:
        from piak.engines.siak_accounts import account_name

        for name in self.service_accounts:
            if account_name(name) != name:
                raise ValueError(f"service_accounts.{name}: tulis dengan huruf besar")
        return self


def policy_file() -> Path:
    return settings.config_file("PIAK_USAGE_POLICY_FILE", "usage_policy.yaml")


def load_policy(path: Path | None = None) -> UsagePolicy:
    return load_model(path or policy_file(), UsagePolicy, "kebijakan penggunaan")


def _matches(patterns: tuple[str, ...] | list[str], value: str | None) -> bool:
    return any(re.search(p, value or "", re.IGNORECASE) for p in patterns)


# -- the trigger form (on demand) ---------------------------------------------------------

TRIGGER_FORM: dict[str, dict[str, Any]] = {
    "dari": {
        "type": ["null", "string"],
        "pattern": _WHEN.pattern,
        "title": "Dari (WIB)",
        "description": "Awal periode yang diperiksa, contoh 2026-06-29 08:00. Kosongkan: "
        "satu jendela pemantauan sebelum 'sampai'.",
    },
    "sampai": {
        "type": ["null", "string"],
        "pattern": _WHEN.pattern,
        "title": "Sampai (WIB)",
        "description": "Akhir periode, contoh 2026-06-29 17:00. Kosongkan: saat ini.",
    },
}
TRIGGER_DEFAULTS: dict[str, Any] = {"dari": None, "sampai": None}


def _moment(field: str, value: Any) -> datetime | None:
    text = str(value or "").strip()
    if not text:
        return None
    if not _WHEN.match(text):
        raise InvalidRequest(f"{field}: {text[:40]!r} bukan waktu (contoh 2026-06-29 08:00)")
    moment = datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=_WIB)


def window(context: Any, policy: UsagePolicy) -> tuple[datetime, datetime]:
    """The period one monitoring run looks at: the form's, else the window before the run."""
    params = dict(context.get("params") or {})
    start, end = _moment("dari", params.get("dari")), _moment("sampai", params.get("sampai"))
    end = end or run_date(context)
    start = start or end - policy.window
    if start >= end:
        raise InvalidRequest("dari: harus sebelum 'sampai'")
    if end - start > MAX_WINDOW:
        raise InvalidRequest("dari: periode paling panjang 7 hari")
    return start, end


# -- the checks -----------------------------------------------------------------------------


def _holder(register: dict[str, Any], username: str) -> dict[str, Any] | None:
    found = access_register.entry_for_account(register, username)
    return found[1] if found else None


def _when(moment: datetime) -> str:
    local = wib(moment)
    return f"{HARI[local.weekday()]} {local:%d-%m-%Y %H:%M} WIB"


def violations(
    policy: UsagePolicy,
    register: dict[str, Any],
    *,
    username: str,
    machine: str | None,
    program: str | None,
    at: datetime,
) -> list[str]:
    """What one session or action of ``username`` breaks (empty: within the policy)."""
    name = username.upper()
    service = policy.service_accounts.get(name)
    if service is not None:
        found = []
        if not _matches(service.machines, machine):
            found.append(f"komputer {machine} bukan server akun sistem {name}")
        if not _matches(service.programs, program):
            found.append(f"program {program} tidak diizinkan untuk akun sistem {name}")
        return found
    holder = _holder(register, name)
    found = []
    if holder is None:
        found.append(f"akun {name} tidak terdaftar di daftar hak akses")
    elif holder.get("status") in access_register.BLOCKED:
        found.append(f"akun {name} berstatus {holder['status']} tetapi dipakai")
    if not _matches(policy.allowed_programs, program):
        found.append(f"program {program} tidak diizinkan")
    machines = [str(m) for m in (holder or {}).get("mesin") or []]
    if machines:
        if (machine or "").lower() not in {m.lower() for m in machines}:
            found.append(f"komputer {machine} bukan komputer yang terdaftar untuk akun {name}")
    elif not _matches(policy.allowed_machines, machine):
        found.append(f"komputer {machine} bukan komputer yang diizinkan")
    if not policy.office_hours.contain(at, policy.holidays):
        found.append(f"di luar jam kerja ({_when(at)})")
    return found


def findings(
    policy: UsagePolicy,
    register: dict[str, Any],
    sessions: list[Any],
    events: list[Any],
    start: datetime,
    end: datetime,
) -> dict[str, list[dict[str, Any]]]:
    """Account -> its findings in the window: sessions connected at its end and actions in it
    that break the policy, and an unusual volume of actions."""
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for session in sessions:
        if session.status == "KILLED" or session.logon_time >= end:
            continue
        broken = violations(
            policy, register, username=session.username, machine=session.machine,
            program=session.program, at=session.logon_time,
        )  # fmt: skip
        if broken:
            key = f"sesi:{session.ref}@{session.logon_time.isoformat()}"
            found[session.username.upper()].append(
                {"jenis": "sesi", "kunci": key, "pelanggaran": broken, **session.evidence()}
            )
    actions: Counter[str] = Counter()
    for event in events:
        if event.action not in ("LOGON", "LOGOFF"):
            actions[event.username.upper()] += 1
        broken = violations(
            policy, register, username=event.username, machine=event.machine,
            program=event.program, at=event.at,
        )  # fmt: skip
        if broken:
            found[event.username.upper()].append(
                {
                    "jenis": "aktivitas",
                    "kunci": event.key,
                    "pelanggaran": broken,
                    **event.evidence(),
                }
            )
    for name, count in actions.items():
        if count > policy.max_actions and name not in policy.service_accounts:
            found[name].append(
                {
                    "jenis": "volume",
                    "kunci": f"volume:{name}:{start.isoformat()}/{end.isoformat()}",
                    "pelanggaran": [
                        f"{count} aktivitas dalam {_span(start, end)} (batas {policy.max_actions})"
                    ],
                    "jumlah": count,
                }
            )
    return dict(found)


def _span(start: datetime, end: datetime) -> str:
    minutes = int((end - start).total_seconds() // 60)
    return f"{minutes // 60} jam" if minutes % 60 == 0 else f"{minutes} menit"


# -- cases ----------------------------------------------------------------------------------


def root() -> Path:
    return settings.storage() / "out_of_policy"


def case_dir(case_id: str) -> Path:
    if not _CASE.match(case_id):
        raise InvalidRequest(f"case_id: {case_id[:60]!r} bukan nomor kasus (KASUS-...)")
    return root() / "kasus" / case_id


def case_id_for(end: datetime, username: str) -> str:
    return f"KASUS-{wib(end):%Y%m%d-%H%M}-{username.upper()}"


def summary(case_id: str, username: str, items: list[dict[str, Any]], register: dict) -> dict:
    """What the signers see of a case: account, its holder's post, what was broken, counts."""
    holder = _holder(register, username) or {}
    kinds = Counter(i["jenis"] for i in items)
    broken = Counter(v for i in items for v in i["pelanggaran"])
    times = sorted(
        i.get("at") or i.get("logon_time") or "" for i in items if i["jenis"] != "volume"
    )
    return {
        "case_id": case_id,
        "account": username,
        "holder": f"{holder.get('jabatan', '-')} - {holder.get('unit', '-')}"
        if holder
        else "tidak terdaftar di daftar hak akses",
        "violations": [f"{text} ({n}x)" if n > 1 else text for text, n in broken.most_common()],
        "sessions": [
            f"{i['sid']},{i['serial']} dari {i['machine']} ({i['program']})"
            for i in items
            if i["jenis"] == "sesi"
        ],
        "counts": dict(kinds),
        "first": times[0] if times else None,
        "last": times[-1] if times else None,
    }


def _seen_file() -> Path:
    return root() / "terlihat.json"


def monitor_usage(context: Any) -> dict[str, Any]:
    """Step 1: read the system of record, check it, open one case per account with new
    evidence (for the Kasi, Kabid and Kadis); nothing found ends the procedure here."""
    from piak.engines import siak_accounts

    policy = load_policy()
    start, end = window(context, policy)
    with siak_accounts.open_store() as store:
        sessions, events = store.sessions(), store.audit_events(start, end)
    register = access_register.load_register()
    found = findings(policy, register, sessions, events, start, end)
    folder = root() / "pemantauan" / run_key(context, "PANTAU")
    seen_path = _seen_file()
    seen = json.loads(seen_path.read_text()) if seen_path.exists() else {}
    cases, known = [], []
    run_id = context["run_id"]
    for username, items in sorted(found.items()):
        case_id = case_id_for(end, username)
        # new: never seen, or seen only by this very run (a retry opens the same case again)
        new = [i for i in items if seen.get(i["kunci"], [case_id, run_id])[1] == run_id]
        if not new:
            known.append(f"{username} (sudah dalam {seen[items[0]['kunci']][0]})")
            continue
        if (open_case := _open_case_of(username, case_id)) is not None:
            write_text_atomic(
                case_dir(open_case) / f"bukti_tambahan_{wib(end):%Y%m%d-%H%M}.json",
                json.dumps({"dari": start.isoformat(), "sampai": end.isoformat(), "bukti": new},
                           indent=2, ensure_ascii=False),
            )  # fmt: skip
            seen.update({i["kunci"]: [open_case, run_id] for i in new})
            known.append(f"{username} (bukti baru ditambahkan ke {open_case}, masih terbuka)")
            continue
        _open_case(case_id, username, new, register, start, end)
        seen.update({i["kunci"]: [case_id, run_id] for i in new})
        cases.append(summary(case_id, username, new, register))
    checked = f"{len(sessions)} sesi dan {len(events)} aktivitas diperiksa ({_period(start, end)})"
    write_text_atomic(
        folder / "temuan.json",
        json.dumps(
            {"dari": start.isoformat(), "sampai": end.isoformat(), "diperiksa": checked,
             "kasus": cases, "sudah_dalam_kasus": known},
            indent=2, ensure_ascii=False,
        ),
    )  # fmt: skip
    if found:
        write_text_atomic(seen_path, json.dumps(seen, indent=1, sort_keys=True))
    context["ti"].xcom_push(
        key="case_runs",
        value=[{"trigger_run_id": f"kasus__{c['case_id']}", "conf": {"case_id": c["case_id"]}}
               for c in cases],
    )  # fmt: skip
    if not cases:
        note = f"{checked}: tidak ada pelanggaran baru" + (f"; {', '.join(known)}" if known else "")
        return {"output_ref": str(folder / "temuan.json"), "note": note, "stop": True}
    opened = "; ".join(f"{c['case_id']}: {', '.join(c['violations'][:3])}" for c in cases)
    return {
        "output_ref": str(folder / "temuan.json"),
        "note": f"{checked}; {len(cases)} kasus dibuka: {opened}",
        "cases": [c["case_id"] for c in cases],
    }


def case_runs(ti: Any) -> list[dict[str, Any]]:
    """The runs of ``out_of_policy_case`` monitoring asked for (what ``open_cases`` maps over)."""
    return list(ti.xcom_pull(task_ids="monitor_usage", key="case_runs") or [])


def _period(start: datetime, end: datetime) -> str:
    return f"{wib(start):%d-%m-%Y %H:%M} - {wib(end):%d-%m-%Y %H:%M} WIB"


def _open_case_of(username: str, other_than: str) -> str | None:
    """The account's case still open (not archived), other than ``other_than``."""
    for folder in sorted((root() / "kasus").glob(f"KASUS-????????-????-{username}")):
        if folder.name != other_than and not (folder / "arsip.md").exists():
            return folder.name
    return None


def _open_case(
    case_id: str,
    username: str,
    items: list[dict[str, Any]],
    register: dict,
    start: datetime,
    end: datetime,
) -> None:
    path = case_dir(case_id) / "bukti.json"
    record = {
        "kasus": case_id,
        "akun": username,
        "dari": start.isoformat(),
        "sampai": end.isoformat(),
        "ringkasan": summary(case_id, username, items, register),
        "jumlah_bukti": len(items),
        "bukti": items[:MAX_EVIDENCE],
    }
    write_text_atomic(path, json.dumps(record, indent=2, ensure_ascii=False))


def _case(context: Any) -> dict[str, Any]:
    case_id = str((context.get("params") or {}).get("case_id") or "")
    path = case_dir(case_id) / "bukti.json"
    if not path.exists():
        raise InvalidRequest(f"case_id: kasus {case_id} tidak ada (belum dibuka pemantauan)")
    return json.loads(path.read_text(encoding="utf-8"))


def present_case(context: Any) -> dict[str, Any]:
    """The case opened by monitoring (step 1), as the Kasi, Kabid and Kadis will see it."""
    case = _case(context)
    shown = case["ringkasan"]
    return {
        "output_ref": str(case_dir(case["kasus"]) / "bukti.json"),
        "note": f"{case['kasus']}: {'; '.join(shown['violations'][:5])}",
        **shown,
    }


def stop_service(context: Any, decision_task: str) -> dict[str, Any]:
    """Step 5: lock the account and end its sessions in the system of record, read again; the
    register marks it blocked by this case. Only what the second read confirmed is reported."""
    from piak.engines import siak_accounts

    case = _case(context)
    kadis = answered_by(context, decision_task)
    with siak_accounts.open_store() as store:
        done = siak_accounts.block(store, case["akun"])
    access_register.update_register(lambda register: _mark_blocked(register, case, kadis))
    killed = ", ".join(done["killed"]) or "tidak ada sesi yang masih terhubung"
    path = write_text_atomic(
        case_dir(case["kasus"]) / "tindakan.json",
        json.dumps({**done, "oleh": kadis}, indent=2, ensure_ascii=False),
    )
    state = "sudah terkunci sebelumnya" if done["already_locked"] else "dikunci"
    return {
        "output_ref": str(path),
        "note": f"akun {done['account']} {state}; terkonfirmasi di SIAK: status "
        f"{done['status']}, sesi diputus: {killed}, tidak ada sesi tersisa",
        "actor": f"sistem (keputusan {kadis})" if kadis else None,
    }


def _mark_blocked(register: dict[str, Any], case: dict[str, Any], by: str | None) -> None:
    found = access_register.entry_for_account(register, case["akun"])
    key, entry = found if found else (f"akun:{case['akun']}", {"user_id": case["akun"]})
    events = list(entry.get("riwayat") or [])
    events.append(access_register.history("akun diblokir", by, case["kasus"]))
    register[key] = {
        **entry,
        "status": "diblokir",
        "diblokir_karena": case["kasus"],
        "riwayat": events[-50:],
    }


def record_case(context: Any, decision_tasks: list[str]) -> dict[str, Any]:
    """Step 6: the case archived with its evidence, every decision and what was done."""
    case = _case(context)
    folder = case_dir(case["kasus"])
    ti = context["ti"]
    shown = case["ringkasan"]
    period = [datetime.fromisoformat(case[k]) for k in ("dari", "sampai")]
    counts = ", ".join(f"{kind} {n}" for kind, n in shown["counts"].items())
    lines = [
        f"# Kasus penggunaan diluar ketentuan {case['kasus']}",
        "",
        f"- Akun: {case['akun']} ({shown['holder']})",
        f"- Periode pemantauan: {_period(period[0], period[1])}",
        f"- Bukti: {case['jumlah_bukti']} ({counts})",
        "",
        "## Pelanggaran",
        *[f"- {v}" for v in shown["violations"]],
        "",
        "## Keputusan",
    ]
    closed_by = None
    for task_id in decision_tasks:
        answer = ti.xcom_pull(task_ids=task_id, key=ANSWER_XCOM)
        if not answer:
            continue
        chosen = ", ".join(answer.get("chosen_options") or [])
        note = (answer.get("params_input") or {}).get("catatan") or "-"
        lines.append(
            f"- {task_id} oleh {answered_by(context, task_id)}: {chosen} (catatan: {note})"
        )
        if chosen.startswith(("Bukan", "Tutup", "Tidak")):
            closed_by = (task_id, answered_by(context, task_id), note)
    action = folder / "tindakan.json"
    lines += ["", "## Tindakan"]
    if action.exists():
        done = json.loads(action.read_text(encoding="utf-8"))
        lines.append(
            f"- Akun {done['account']} terkunci (status {done['status']}); sesi diputus: "
            f"{', '.join(done['killed']) or '-'}; dikonfirmasi dengan membaca ulang SIAK"
        )
        outcome = "layanan dihentikan, akun terkunci terkonfirmasi"
    else:
        lines.append("- Tidak ada: layanan tidak dihentikan")
        step, who, note = closed_by or ("-", "-", "-")
        outcome = f"ditutup tanpa pemblokiran ({step}, {who}: {note})"
    path = write_text_atomic(folder / "arsip.md", "\n".join(lines) + "\n")
    sealed.seal_case(folder, "out_of_policy_usage", case=case["kasus"])
    return {"output_ref": str(path), "note": f"{case['kasus']}: {outcome}"}
