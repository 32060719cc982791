"""What the access tests share: a valid trigger form per DAG, the test Airflows' access file
(the project's ``config/access.yaml`` plus the people the tests need), and the comparison of a
FAB deployment's roles and DAG permissions with the configuration."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: A form each DAG's trigger accepts (what happens after the first task is not the point).
TRIGGER_CONF: dict[str, dict[str, Any]] = {
    "helpdesk": {
        "pelapor": "Siti Aminah",
        "asal": "Kecamatan Contoh Barat",
        "kontak": "0812-3456-7890",
        "kategori": "Aplikasi SIAK",
        "uraian": "Aplikasi SIAK tidak bisa mencetak KK sejak pagi.",
    },
    "backup_database": {},
    "backup_handover": {"set_name": "siak_20260101T2300"},
    "backup_freshness": {},
    "database_recovery": {"set_name": "siak_20260101T2300"},
    "restore_drill": {},
    "data_provision": {
        "nama_pemohon": "Budi Santoso",
        "instansi": "Badan Pusat Statistik Kabupaten Contoh",
        "nomor_surat": "005/BPS/XI/2026",
        "tanggal_surat": "2026-11-20",
        "keperluan": "penyusunan publikasi Kabupaten Contoh Dalam Angka",
        "kontak": "0812-3456-7890",
        "jenis_data": "agregat",
        "kecamatan": ["99.01.01"],
        "tanggal_data": "2026-06-30",
        "format": "csv",
    },
    "access_rights": {
        "asal": "Kecamatan Contoh Barat",
        "nomor_surat": "800/99/KEC/2026",
        "anggota": "9901019999999999;Bukan Penduduk;Operator;operator_siak",
    },
    "network_maintenance": {
        "pelapor": "Siti Aminah",
        "lokasi": "Kantor Kecamatan Contoh Barat",
        "alamat_pc": "127.0.0.1",
        "uraian": "Aplikasi SIAK tidak bisa dibuka",
    },
    "out_of_policy_usage": {},
    "out_of_policy_case": {"case_id": "KASUS-20260101-0900-UJI0001"},
    "monthly_report": {"bulan": "2026-01"},
}
#: Who triggers each DAG in the tests (a holder of one of its trigger roles).
HOLDER = {
    "helpdesk": "jfu",
    "data_provision": "jfu",
    "network_maintenance": "jfu",
    "access_rights": "kasi",
}
#: Holds no role that may trigger any DAG.
OUTSIDER = "petugas"
#: Extra people of the test Airflows: one holding several roles (a small office), a deputy and
#: an acting Kabid who is also Kasi. At start-up they are only administrators; tests that need
#: more give it to them (:func:`access_yaml` with ``office=True``).
EXTRA = ("serba", "wakil", "plt")


def holder(dag_id: str) -> str:
    return HOLDER.get(dag_id, "administrator")


def access_yaml(today: date, *, office: bool = False) -> str:
    """The project's access file plus :data:`EXTRA`; with ``office``: ``serba`` also holds kasi
    and kabid, ``wakil`` stands in for ``kabid`` (Plh.) and ``plt`` holds kasi and kabid with an
    exception for successive sign-offs in ``database_recovery``, from yesterday to tomorrow."""
    data = yaml.safe_load((ROOT / "config" / "access.yaml").read_text(encoding="utf-8"))
    users = data["users"]
    for login, user in users.items():  # reminders are mailed to each person's own address
        user["email"] = f"{login}@disdukcapil.example"
    for login in EXTRA:
        users[login] = {"name": login.capitalize(), "roles": ["administrator"]}
    if office:
        users["serba"]["roles"] = ["administrator", "kasi", "kabid"]
        users["plt"]["roles"] = ["kasi", "kabid"]
        window = {"from": today - timedelta(days=1), "to": today + timedelta(days=1)}
        data["delegations"] = [
            {"absent": "kabid", "deputy": "wakil", "title": "Plh.", "reason": "dinas luar"} | window
        ]
        data["exceptions"] = [
            {
                "user": "plt",
                "allow": ["successive"],
                "dags": ["database_recovery"],
                "reason": "Plt. Kabid merangkap Kasi (uji)",
            }
            | window
        ]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def fab_state(airflow: Any) -> dict[str, set[tuple[str, str]]]:
    """Role name -> its (action, resource) pairs, as the FAB API of ``airflow`` lists them."""
    response = airflow.request("admin", "GET", "/auth/fab/v1/roles", params={"limit": 100})
    response.raise_for_status()
    return {
        role["name"]: {
            (p["action"]["name"], p["resource"]["name"])
            for p in role.get("actions", role.get("permissions", []))
        }
        for role in response.json()["roles"]
    }


def expected_fab_state(config: Any) -> dict[str, set[tuple[str, str]]]:
    """What ``config`` makes of every office and deputy role: the office permissions and, per
    DAG, its ``access_control``."""
    from piak.core import access
    from piak.core.roles import ROLES
    from piak.web import auth

    state = {
        name: set(auth.OFFICE_PERMISSIONS if name in ROLES else auth.DEPUTY_PERMISSIONS)
        for name in access.fab_roles()
    }
    prefixes = {"DAGs": "DAG:", "DAG Runs": "DAG Run:"}
    for dag_id in config.dags:
        for role, resources in config.fab_access_control(dag_id).items():
            for resource, actions in resources.items():
                state[role] |= {(action, prefixes[resource] + dag_id) for action in actions}
    return state
