"""Access rights end to end, every way out: proposals checked against the demo SIAK database
and the access register; granted (accounts created in the embedded system of record with the
role named and an expired first password, the signed pacts in the register, the members not
granted told in the notice letter), a block lifted only on the Kadis's explicit decision, and a
return or refusal at each of steps 1-4 ending in its refusal letter. Code steps are recorded as
the Kasi's who confirmed them, although the admin pressed Trigger."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

# its runs write SIAK accounts, which a recovery test restoring the database would undo
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("usual_siak")]

DAG = "access_rights"
GRANT = "Berikan hak akses kepada yang berhak"
UNBLOCK = "Berikan hak akses, termasuk membuka blokir anggota yang diblokir"
CONFIRM = ("confirm_check", "kasi", ["Teruskan ke Kabid"], {})
PROPOSE = ("propose_to_kadis", "kabid", ["Usulkan ke Kepala Dinas"], {})
INSTRUCT = ("instruct_kasi", "kabid", ["Perintahkan Kasi menerbitkan hak akses"], {})


def register(airflow) -> dict:
    path = airflow.piak_home / "storage" / "access_rights" / "register.json"
    return json.loads(path.read_text())


def people(airflow, count: int) -> list[tuple[str, str]]:
    """Active residents who are not staff yet."""
    staff = set(register(airflow))
    with sqlite3.connect(airflow.piak_home / "siak_demo.db") as db:
        rows = db.execute(
            "SELECT NIK, NAMA_LGKP FROM BIODATA_WNI WHERE FLAG_STATUS = '0' "
            "AND TGL_LHR < '2000-01-01' ORDER BY NIK DESC LIMIT ?",
            (count + len(staff),),
        ).fetchall()
    return [r for r in rows if r[0] not in staff][:count]


def conf(letter: str, lines: list[str]) -> dict:
    return {"asal": "Kecamatan Contoh Barat", "nomor_surat": letter, "anggota": "\n".join(lines)}


def test_every_way_out_of_the_proposal(airflow):
    fresh = people(airflow, 5)
    blocked_nik, blocked = next(
        (n, e) for n, e in register(airflow).items() if e["status"] == "diblokir"
    )
    member = [f"{nik};{name};Operator Kecamatan;operator_siak" for nik, name in fresh]
    blocked_line = f"{blocked_nik};{blocked['nama']};Operator SIAK;operator_siak"
    granted = conf("800/15/KEC/2026", [
        member[0] + ";pc-kec-02", member[1].replace("operator_siak", "supervisor"), member[2],
        blocked_line, "9901019999999999;Bukan Penduduk;Operator;operator_ktpel",
    ])  # fmt: skip
    runs = {
        "granted": airflow.trigger(DAG, granted, user="admin"),
        "unblock": airflow.trigger(DAG, conf("800/16/KEC/2026", [blocked_line]), user="kasi"),
        **{
            way: airflow.trigger(DAG, conf(f"800/{20 + n}/KEC/2026", [member[3]]), user="kasi")
            for n, way in enumerate(("returned", "kabid", "kadis", "order"))
        },
    }
    refuse = ("Tolak usulan", {"catatan": "SK tim belum ada"})
    airflow.drive(
        {
            (DAG, runs["granted"]): [
                CONFIRM,
                PROPOSE,
                ("direct_granting", "kadis", [GRANT], {}),
                INSTRUCT,
                ("confirm_signed_pacts", "kasi", ["OK"], {"belum_tanda_tangan": "3"}),
            ],
            (DAG, runs["unblock"]): [
                CONFIRM,
                PROPOSE,
                ("direct_granting", "kadis", [UNBLOCK], {}),
                INSTRUCT,
                ("confirm_signed_pacts", "kasi", ["OK"], {"belum_tanda_tangan": "-"}),
            ],
            (DAG, runs["returned"]): [
                ("confirm_check", "kasi", ["Kembalikan ke pengusul"], {"catatan": "lampirkan SK"}),
            ],
            (DAG, runs["kabid"]): [CONFIRM, ("propose_to_kadis", "kabid", [refuse[0]], refuse[1])],
            (DAG, runs["kadis"]): [
                CONFIRM,
                PROPOSE,
                ("direct_granting", "kadis", [refuse[0]], refuse[1]),
            ],
            (DAG, runs["order"]): [
                CONFIRM,
                PROPOSE,
                ("direct_granting", "kadis", [GRANT], {}),
                ("instruct_kasi", "kabid", ["Tolak usulan"], refuse[1]),
            ],
        }
    )
    for run in runs.values():
        assert airflow.wait_run(DAG, run) == "success"
    agenda = {way: {e.task_id: e for e in airflow.agenda(run)} for way, run in runs.items()}
    now = register(airflow)

    done = agenda["granted"]
    assert "4 dari 5 memenuhi syarat" in done["check_members:pemeriksaan-sistem"].note
    assert done["confirm_check"].actor == "kasi" and done["confirm_check"].step_number == 1
    issued = done["issue_access_rights:akun-diterbitkan"]
    assert issued.actor == "kasi"  # the Kasi confirmed the signed pacts; admin only triggered
    assert issued.note.startswith("2 akun aktif terkonfirmasi di SIAK")
    assert "baris 3: pakta integritas belum ditandatangani" in issued.note
    assert "baris 4: diblokir (KASUS-DEMO): perlu keputusan buka blokir Kepala Dinas" in issued.note
    assert "baris 5: NIK tidak terdaftar di SIAK" in issued.note
    with sqlite3.connect(airflow.piak_home / "siak_demo.db") as db:
        accounts = {r[0]: r[1:] for r in db.execute(
            "SELECT USERNAME, ACCOUNT_STATUS, GRANTED_ROLE FROM SIAK_USERS")}  # fmt: skip
    for (nik, _), role in ((fresh[0], "SIAK_OPERATOR"), (fresh[1], "SIAK_SUPERVISOR")):
        entry = now[nik]
        assert accounts[entry["user_id"]] == ("EXPIRED", role)
        assert entry["status"] == "aktif" and entry["nomor_pakta"].startswith("PI-")
        password = airflow.piak_home / "secrets" / "first_passwords"
        assert len(list(password.glob(f"*/{entry['user_id']}.txt"))) == 1
    assert now[fresh[0][0]]["mesin"] == ["pc-kec-02"] and fresh[2][0] not in now
    assert Path(issued.output_ref).name == "surat_pemberitahuan.pdf"
    assert airflow.task_state(DAG, runs["granted"], "record_refusal") == "skipped"

    lifted = agenda["unblock"]
    assert "diblokir (hanya dengan keputusan buka blokir)" in (
        lifted["check_members:pemeriksaan-sistem"].note
    )
    assert now[blocked_nik]["status"] == "aktif"
    assert accounts[blocked["user_id"]] == ("EXPIRED", "SIAK_OPERATOR")
    assert (
        now[blocked_nik]["riwayat"][-2]["peristiwa"] == "blokir dibuka atas keputusan Kepala Dinas"
    )

    for way, step, who, outcome in (
        ("returned", "confirm_check", "kasi", "returned"),
        ("kabid", "propose_to_kadis", "kabid", "rejected"),
        ("kadis", "direct_granting", "kadis", "rejected"),
        ("order", "instruct_kasi", "kabid", "rejected"),
    ):
        closed = agenda[way]["record_refusal:usulan-ditolak"]
        assert (closed.outcome, closed.actor) == (outcome, who), way
        assert f"({step}, {who})" in closed.note
        assert Path(closed.output_ref).name == "surat_penolakan.pdf"
        assert Path(closed.output_ref).exists()
        assert airflow.task_state(DAG, runs[way], "issue_access_rights") == "skipped"
    assert fresh[3][0] not in now  # nothing issued on any refusal
