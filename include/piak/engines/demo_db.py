"""The demo SIAK database: a realistic, reproducible SQLite copy of SIAK's core tables.

One fictional kabupaten (province code 99, so no demo NIK can be a real person's) with its
kecamatan and kelurahan/desa; families with a head, usually a spouse, children and sometimes a
parent; realistic shares of age, sex, religion, education, occupation, marital status and blood
type. NIK = region (6) + birth date (DDMMYY, +40 on the day for women) + serial (4), unique;
NO_KK = region (6) + issue date (DDMMYY) + serial (4). Same seed, same database. The staff's
SIAK accounts, their sessions and two weeks of access log come from
:mod:`piak.engines.demo_accounts`.

Built with numpy in one pass, written in chunks to a temporary file that replaces ``out`` only
when complete.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from piak.core.config import parse_yaml
from piak.core.errors import PiakError
from piak.core.files import write_text_atomic
from piak.engines import demo_accounts

DATA = Path(__file__).resolve().parents[1] / "data"
#: The demo data is "as of" the last DKB cut-off (30 June).
REFERENCE_DATE = np.datetime64("2026-06-30")
REFERENCE_DAY = date(2026, 6, 30)
ENTRY_START = np.datetime64("2008-01-01")
CHUNK = 50_000
MAX_RESIDENTS = 20_000_000

HEAD, SPOUSE, CHILD, PARENT = 0, 1, 2, 3
MALE, FEMALE = 1, 2

SCHEMA = """
CREATE TABLE SETUP_PROP (NO_PROP INTEGER PRIMARY KEY, NAMA_PROP TEXT NOT NULL);
CREATE TABLE SETUP_KAB (NO_PROP INTEGER NOT NULL, NO_KAB INTEGER NOT NULL, NAMA_KAB TEXT NOT NULL,
  PRIMARY KEY (NO_PROP, NO_KAB));
CREATE TABLE SETUP_KEC (NO_PROP INTEGER NOT NULL, NO_KAB INTEGER NOT NULL, NO_KEC INTEGER NOT NULL,
  NAMA_KEC TEXT NOT NULL, PRIMARY KEY (NO_PROP, NO_KAB, NO_KEC));
CREATE TABLE SETUP_KEL (NO_PROP INTEGER NOT NULL, NO_KAB INTEGER NOT NULL, NO_KEC INTEGER NOT NULL,
  NO_KEL INTEGER NOT NULL, NAMA_KEL TEXT NOT NULL, PRIMARY KEY (NO_PROP, NO_KAB, NO_KEC, NO_KEL));
CREATE TABLE DATA_KELUARGA (
  NO_KK TEXT PRIMARY KEY, NIK_KK TEXT NOT NULL, NAMA_KEP TEXT NOT NULL, ALAMAT TEXT,
  NO_RT INTEGER, NO_RW INTEGER, DUSUN TEXT, TGL_INSERTION TEXT,
  NO_PROP INTEGER NOT NULL, NO_KAB INTEGER NOT NULL, NO_KEC INTEGER NOT NULL,
  NO_KEL INTEGER NOT NULL);
CREATE TABLE BIODATA_WNI (
  NIK TEXT PRIMARY KEY, NO_KK TEXT NOT NULL, NAMA_LGKP TEXT NOT NULL, JENIS_KLMIN INTEGER NOT NULL,
  TMPT_LHR TEXT, TGL_LHR TEXT NOT NULL, GOL_DRH INTEGER, AGAMA INTEGER, STAT_KWN INTEGER,
  STAT_HBKEL INTEGER, PDDK_AKH INTEGER, JENIS_PKRJN INTEGER, PNYDNG_CCT INTEGER,
  NIK_IBU TEXT, NAMA_LGKP_IBU TEXT, NIK_AYAH TEXT, NAMA_LGKP_AYAH TEXT, NO_AKTA_LHR TEXT,
  TGL_KWN TEXT, NO_AKTA_CRAI TEXT, NO_PROP INTEGER NOT NULL, NO_KAB INTEGER NOT NULL,
  NO_KEC INTEGER NOT NULL, NO_KEL INTEGER NOT NULL, FLAG_STATUS TEXT NOT NULL, TGL_ENTRI TEXT);
"""
INDEXES = """
CREATE INDEX IX_BIODATA_NO_KK ON BIODATA_WNI (NO_KK);
CREATE INDEX IX_BIODATA_WILAYAH ON BIODATA_WNI (NO_PROP, NO_KAB, NO_KEC, NO_KEL);
CREATE INDEX IX_KELUARGA_WILAYAH ON DATA_KELUARGA (NO_PROP, NO_KAB, NO_KEC, NO_KEL);
"""
CODE_TABLES = (
    "AGAMA_MASTER",
    "PDDKN_MASTER",
    "PKRJN_MASTER",
    "KWN_MASTER",
    "GOLDRH_MASTER",
    "CCT_MASTER",
    "SHDK",
)

# Shares (code: weight). Religion follows national shares; blood type mostly unknown in SIAK.
RELIGION = {1: 86.9, 2: 7.4, 3: 3.1, 4: 1.7, 5: 0.7, 6: 0.05, 7: 0.15}
BLOOD = {
    1: 6,
    2: 7,
    3: 2,
    4: 9,
    5: 2,
    6: 0.3,
    7: 2.5,
    8: 0.3,
    9: 0.7,
    10: 0.1,
    11: 4,
    12: 0.3,
    13: 65,
}
EDUCATION_ADULT = {1: 4, 2: 9, 3: 24, 4: 18, 5: 31, 6: 1.5, 7: 3, 8: 8, 9: 1.2, 10: 0.3}
EDUCATION_SENIOR = {1: 18, 2: 22, 3: 32, 4: 11, 5: 11, 6: 1, 7: 1.5, 8: 3, 9: 0.4, 10: 0.1}
EDUCATION_YOUNG = {4: 10, 5: 70, 6: 4, 7: 6, 8: 10}
WORK = {
    9: 17, 15: 20, 88: 18, 19: 12, 84: 6, 8: 4, 5: 4, 65: 3, 20: 4, 81: 2, 11: 1.5, 18: 2,
    6: 0.5, 7: 0.5, 72: 0.2, 73: 0.3, 74: 0.6, 26: 1, 27: 0.8, 35: 0.5, 30: 0.4, 16: 0.5, 89: 1,
}  # fmt: skip
FLAG = {"0": 98.5, "1": 1.0, "2": 0.5}


def _weights(table: dict[Any, float]) -> tuple[np.ndarray, np.ndarray]:
    keys = np.array(list(table))
    p = np.array(list(table.values()), dtype=float)
    return keys, p / p.sum()


def _pick(rng: np.random.Generator, table: dict[Any, float], n: int) -> np.ndarray:
    keys, p = _weights(table)
    return keys[rng.choice(len(keys), size=n, p=p)]


@functools.cache
def _data() -> dict[str, Any]:
    return {
        name: parse_yaml((DATA / f"{name}.yaml").read_text(encoding="utf-8"))
        for name in ("codes", "region", "names")
    }


def _villages(region: dict[str, Any]) -> list[dict[str, Any]]:
    """Every kelurahan/desa with its kecamatan and population weight."""
    villages = []
    for index, district in enumerate(region["districts"]):
        urban = index == 0
        for number, name in enumerate(district["villages"], start=1):
            villages.append(
                {
                    "kec": district["code"],
                    "kel": (1000 if urban else 2000) + number,
                    "name": name,
                    "urban": urban,
                    "weight": district["weight"] / len(district["villages"]),
                }
            )
    return villages


def _families(rng: np.random.Generator, residents: int) -> dict[str, np.ndarray]:
    estimate = int(residents / 3.0) + 16
    has_spouse = rng.random(estimate) < 0.78
    head_age = np.clip(np.rint(rng.normal(45, 13, estimate)), 19, 92).astype(np.int16)
    children = rng.poisson(np.where(head_age < 62, 1.9, 0.5))
    children = np.where(head_age < 23, np.minimum(children, 1), np.minimum(children, 7))
    has_parent = (rng.random(estimate) < 0.06) & (head_age < 58)
    size = 1 + has_spouse + children + has_parent
    total = np.cumsum(size)
    count = int(np.searchsorted(total, residents)) + 1
    if count > estimate:  # pragma: no cover - the estimate is generous
        raise RuntimeError("family estimate too small")
    has_spouse, head_age = has_spouse[:count].copy(), head_age[:count]
    children, has_parent = children[:count].copy(), has_parent[:count].copy()
    last = count - 1
    room = residents - (int(total[last - 1]) if last else 0)
    has_parent[last] = False
    has_spouse[last] = bool(has_spouse[last]) and room >= 2
    children[last] = room - 1 - int(has_spouse[last])
    size = 1 + has_spouse + children + has_parent
    head_male = np.where(has_spouse, rng.random(count) < 0.9, rng.random(count) < 0.5)
    head_age = head_age.astype(np.int64)
    spouse_age = np.clip(head_age + np.rint(rng.normal(-3, 4, count)), 17, 95).astype(np.int64)
    youngest = np.where(has_spouse, np.minimum(head_age, spouse_age), head_age)
    married_years = np.where(
        has_spouse, np.clip(youngest - rng.integers(19, 28, count), 0, None), -1
    )
    return {
        "spouse_age": spouse_age,
        "youngest": youngest,
        "married_years": married_years,
        "count": np.int64(count),
        "has_spouse": has_spouse,
        "head_age": head_age,
        "children": children,
        "has_parent": has_parent,
        "size": size,
        "head_sex": np.where(head_male, MALE, FEMALE).astype(np.int8),
    }


def _dates_parts(dates: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    months = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    days = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    return years, months, days


def _serials(prefix: np.ndarray) -> np.ndarray:
    """1, 2, 3... within each equal prefix, in input order: unique NIK / NO_KK serials."""
    order = np.argsort(prefix, kind="stable")
    ordered = prefix[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(prefix)]))
    serial = np.empty(len(prefix), dtype=np.int64)
    serial[order] = np.arange(len(prefix)) - group_start + 1
    if serial.max(initial=0) > 9999:  # pragma: no cover - needs >9999 people per prefix
        raise PiakError("terlalu banyak penduduk dengan wilayah dan tanggal lahir yang sama")
    return serial


def _region_prefix(prop: int, kab: int, kec: np.ndarray) -> np.ndarray:
    return prop * 10**10 + kab * 10**8 + kec.astype(np.int64) * 10**6


def _people(rng: np.random.Generator, fam: dict[str, np.ndarray], residents: int) -> dict:
    data = _data()
    region = data["region"]
    villages = _villages(region)
    count = int(fam["count"])
    size = fam["size"]

    # Family-level attributes
    vweights = np.array([v["weight"] for v in villages])
    village = rng.choice(len(villages), size=count, p=vweights / vweights.sum()).astype(np.int16)
    kec_of = np.array([v["kec"] for v in villages], dtype=np.int64)
    kel_of = np.array([v["kel"] for v in villages], dtype=np.int64)
    religion = _pick(rng, RELIGION, count).astype(np.int8)
    family_name = rng.integers(0, len(data["names"]["family"]), count).astype(np.int16)
    kk_issued = np.datetime64("2010-01-01") + rng.integers(0, 6000, count).astype("timedelta64[D]")
    kk_y, kk_m, kk_d = _dates_parts(kk_issued)
    kec = kec_of[village]
    kk_prefix = _region_prefix(region["province"]["code"], region["regency"]["code"], kec) + (
        kk_d * 10**4 + kk_m * 100 + kk_y % 100
    )
    no_kk = kk_prefix * 10**4 + _serials(kk_prefix)

    # Person-level attributes
    fam_of = np.repeat(np.arange(count), size)
    start = np.cumsum(size) - size
    pos = np.arange(residents) - start[fam_of]
    spouse_here = fam["has_spouse"][fam_of]
    kind = np.full(residents, CHILD, dtype=np.int8)
    kind[pos == 0] = HEAD
    kind[(pos == 1) & spouse_here] = SPOUSE
    kind[fam["has_parent"][fam_of] & (pos == size[fam_of] - 1)] = PARENT

    head_sex = fam["head_sex"][fam_of]
    sex = rng.integers(MALE, FEMALE + 1, residents).astype(np.int8)
    sex = np.where(kind == HEAD, head_sex, sex)
    sex = np.where(kind == SPOUSE, 3 - head_sex, sex)

    head_age = fam["head_age"][fam_of].astype(np.int64)
    age = np.where(kind == SPOUSE, fam["spouse_age"][fam_of], head_age)
    # Children of a couple are born after the wedding; of a single head, when the head was 20-40.
    married_years = fam["married_years"][fam_of]
    child_age = np.where(
        married_years >= 0,
        np.floor(rng.random(residents) * (married_years + 1)).astype(np.int64),
        np.clip(fam["youngest"][fam_of] - rng.integers(20, 41, residents), 0, None),
    )
    age = np.where(kind == CHILD, child_age, age)
    parent_age = np.clip(head_age + rng.integers(22, 36, residents), 0, 100)
    age = np.where(kind == PARENT, parent_age, age).astype(np.int16)
    days_old = age.astype(np.int64) * 365 + rng.integers(0, 365, residents) + age // 4
    birth = REFERENCE_DATE - days_old.astype("timedelta64[D]")
    del days_old, child_age, parent_age, head_age
    by, bm, bd = _dates_parts(birth)

    marital = np.ones(residents, dtype=np.int8)
    single_head = (kind == HEAD) & ~spouse_here
    widowed_or_divorced = rng.choice([1, 3, 4], size=residents, p=[0.25, 0.3, 0.45])
    marital = np.where(kind == SPOUSE, 2, marital)
    marital = np.where((kind == HEAD) & spouse_here, 2, marital)
    marital = np.where(single_head & (age >= 28), widowed_or_divorced, marital)
    marital = np.where(kind == PARENT, np.where(rng.random(residents) < 0.85, 4, 3), marital)
    marital = np.where((kind == CHILD) & (age >= 22) & (rng.random(residents) < 0.04), 3, marital)

    relation = np.select(
        [kind == HEAD, (kind == SPOUSE) & (sex == FEMALE), kind == SPOUSE, kind == CHILD],
        [1, 3, 2, 4],
        default=np.where(rng.random(residents) < 0.7, 7, 8),
    ).astype(np.int8)

    education = np.select(
        [age < 7, age < 13, age < 16, age < 19, age < 23, age < 60],
        [
            np.ones(residents, dtype=np.int64),
            np.full(residents, 2),
            np.full(residents, 3),
            np.full(residents, 4),
            _pick(rng, EDUCATION_YOUNG, residents),
            _pick(rng, EDUCATION_ADULT, residents),
        ],
        default=_pick(rng, EDUCATION_SENIOR, residents),
    ).astype(np.int8)

    work = _pick(rng, WORK, residents)
    homemaker = (sex == FEMALE) & (rng.random(residents) < 0.38)
    adult_job = np.where(homemaker, 2, work)
    senior_roll = rng.random(residents)
    senior_job = np.select(
        [senior_roll < 0.15, senior_roll < 0.55, (sex == FEMALE) & (senior_roll < 0.8)],
        [4, 1, 2],
        default=work,
    )
    occupation = np.select(
        [age < 5, age < 19, age < 23, age < 60],
        [
            np.ones(residents, dtype=np.int64),
            np.full(residents, 3),
            np.where(rng.random(residents) < 0.55, 3, work),
            adult_job,
        ],
        default=senior_job,
    ).astype(np.int8)
    # Teachers, doctors and the like need a degree.
    needs_degree = np.isin(occupation, [5, 64, 65, 72, 75, 76])
    education = np.where(needs_degree & (education < 7), 8, education).astype(np.int8)

    prop, kab = region["province"]["code"], region["regency"]["code"]
    person_kec = kec[fam_of]
    nik_prefix = _region_prefix(prop, kab, person_kec) + (
        (bd + 40 * (sex == FEMALE)) * 10**4 + bm * 100 + by % 100
    )
    nik = nik_prefix * 10**4 + _serials(nik_prefix)

    names = data["names"]
    given = np.where(
        sex == MALE,
        rng.integers(0, len(names["male"]), residents),
        rng.integers(0, len(names["female"]), residents),
    ).astype(np.int16)
    own_family = np.where(
        kind == SPOUSE,
        rng.integers(0, len(names["family"]), residents),
        family_name[fam_of],
    ).astype(np.int16)

    return {
        "village": village,
        "kec_of": kec_of,
        "kel_of": kel_of,
        "villages": villages,
        "no_kk": no_kk,
        "kk_issued": kk_issued,
        "start": start,
        "kind": kind,
        "sex": sex,
        "age": age,
        "birth": birth,
        "marital": marital,
        "relation": relation,
        "education": education,
        "occupation": occupation,
        "religion": religion[fam_of],
        "fam_of": fam_of.astype(np.int32),
        "nik": nik,
        "given": given,
        "own_family": own_family,
        "blood": _pick(rng, BLOOD, residents).astype(np.int8),
        "disability": np.where(
            rng.random(residents) < 0.01, rng.integers(1, 7, residents), 0
        ).astype(np.int8),
        "flag": _pick(rng, FLAG, residents),
        "entered": rng.integers(0, 6750, residents).astype(np.int16),
        "born_here": rng.random(residents) < 0.8,
        "birthplace": rng.integers(0, len(names["birthplaces"]), residents).astype(np.int8),
        "has_birth_cert": rng.random(residents) < 0.78,
        "married_after": rng.integers(19, 29, residents).astype(np.int8),
        "married_years": married_years.astype(np.int16),
        "divorce_cert": rng.random(residents) < 0.5,
        "rt": rng.integers(1, 16, count),
        "rw": rng.integers(1, 9, count),
        "street": rng.integers(0, len(names["streets"]), count),
        "house": rng.integers(1, 250, count),
    }


def _full_names(p: dict[str, Any], index: np.ndarray) -> list[str]:
    names = _data()["names"]
    male = [n.upper() for n in names["male"]]
    female = [n.upper() for n in names["female"]]
    family = [n.upper() for n in names["family"]]
    return [
        f"{(male if s == MALE else female)[g]} {family[f]}"
        for s, g, f in zip(
            p["sex"][index].tolist(),
            p["given"][index].tolist(),
            p["own_family"][index].tolist(),
            strict=True,
        )
    ]


def _parents(p: dict[str, Any], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of mother and father of each person in ``rows`` (-1 when not in the database)."""
    fam = p["fam_of"][rows]
    head = p["start"][fam]
    spouse = np.where(p["kind"][np.minimum(head + 1, len(p["kind"]) - 1)] == SPOUSE, head + 1, -1)
    is_child = p["kind"][rows] == CHILD
    head_female = p["sex"][head] == FEMALE
    mother = np.where(is_child, np.where(head_female, head, spouse), -1)
    father = np.where(is_child, np.where(head_female, spouse, head), -1)
    return mother, father


def _resident_rows(p: dict[str, Any], lo: int, hi: int, prop: int, kab: int) -> list[tuple]:
    rows = np.arange(lo, hi)
    names_all = _data()["names"]
    village = p["village"][p["fam_of"][rows]]
    kec = p["kec_of"][village].tolist()
    kel = p["kel_of"][village].tolist()
    full = _full_names(p, rows)
    mother, father = _parents(p, rows)
    parent_idx = np.unique(np.concatenate([mother[mother >= 0], father[father >= 0]]))
    parent_names = dict(zip(parent_idx.tolist(), _full_names(p, parent_idx), strict=True))
    nik = p["nik"].astype(str)[rows].tolist() if hi - lo == len(p["nik"]) else None
    nik = [str(x) for x in p["nik"][rows].tolist()] if nik is None else nik
    nik_all = p["nik"]
    no_kk = [str(x) for x in p["no_kk"][p["fam_of"][rows]].tolist()]
    birth = p["birth"][rows]
    birth_text = birth.astype(str).tolist()
    married = p["marital"][rows] != 1
    couple = np.isin(p["kind"][rows], [HEAD, SPOUSE]) & (p["married_years"][rows] >= 0)
    wed = np.where(
        couple,
        REFERENCE_DATE
        - ((p["married_years"][rows].astype(np.int64) + 1) * 365 + 30).astype("timedelta64[D]"),
        birth + (p["married_after"][rows].astype(np.int64) * 365).astype("timedelta64[D]"),
    )
    wed_text = np.where(married, wed.astype(str), "").tolist()
    by, bm, bd = _dates_parts(birth)
    akta = [
        f"{prop:02d}{kab:02d}-LT-{d:02d}{m:02d}{y}-{i % 9999 + 1:04d}" if has else None
        for d, m, y, i, has in zip(
            bd.tolist(),
            bm.tolist(),
            by.tolist(),
            rows.tolist(),
            p["has_birth_cert"][rows].tolist(),
            strict=True,
        )
    ]
    divorced = (p["marital"][rows] == 3) & p["divorce_cert"][rows]
    crai = [
        f"{prop:02d}{kab:02d}-CR-{i:07d}" if d else None
        for i, d in zip(rows.tolist(), divorced, strict=True)
    ]
    places = [b.upper() for b in names_all["birthplaces"]]
    regency = "KAB. " + _data()["region"]["regency"]["name"].upper().removeprefix("KABUPATEN ")
    birthplace = [
        regency if here else places[b]
        for here, b in zip(
            p["born_here"][rows].tolist(), p["birthplace"][rows].tolist(), strict=True
        )
    ]
    mother_l, father_l = mother.tolist(), father.tolist()
    cols = [
        nik,
        no_kk,
        full,
        p["sex"][rows].tolist(),
        birthplace,
        birth_text,
        p["blood"][rows].tolist(),
        p["religion"][rows].tolist(),
        p["marital"][rows].tolist(),
        p["relation"][rows].tolist(),
        p["education"][rows].tolist(),
        p["occupation"][rows].tolist(),
        [d or None for d in p["disability"][rows].tolist()],
        [str(nik_all[m]) if m >= 0 else None for m in mother_l],
        [parent_names[m] if m >= 0 else None for m in mother_l],
        [str(nik_all[f]) if f >= 0 else None for f in father_l],
        [parent_names[f] if f >= 0 else None for f in father_l],
        akta,
        [w or None for w in wed_text],
        crai,
        [prop] * len(rows),
        [kab] * len(rows),
        kec,
        kel,
        p["flag"][rows].tolist(),
        (ENTRY_START + p["entered"][rows].astype("timedelta64[D]")).astype(str).tolist(),
    ]
    return list(zip(*cols, strict=True))


def _family_rows(p: dict[str, Any], lo: int, hi: int, prop: int, kab: int) -> list[tuple]:
    names = _data()["names"]
    heads = p["start"][lo:hi]
    villages = p["villages"]
    streets = names["streets"]
    out = []
    head_names = _full_names(p, heads)
    for offset, (head, village) in enumerate(
        zip(heads.tolist(), p["village"][lo:hi].tolist(), strict=True)
    ):
        i = lo + offset
        v = villages[village]
        out.append(
            (
                str(p["no_kk"][i]),
                str(p["nik"][head]),
                head_names[offset],
                f"{streets[p['street'][i]]} No. {p['house'][i]}",
                int(p["rt"][i]),
                int(p["rw"][i]),
                None if v["urban"] else f"Dusun {v['name']}",
                str(p["kk_issued"][i]),
                prop,
                kab,
                v["kec"],
                v["kel"],
            )
        )
    return out


def _write(conn: sqlite3.Connection, p: dict[str, Any], residents: int) -> None:
    data = _data()
    region = data["region"]
    prop, kab = region["province"]["code"], region["regency"]["code"]
    for table in CODE_TABLES:
        conn.execute(f"CREATE TABLE {table} (NO INTEGER PRIMARY KEY, DESCRIP TEXT NOT NULL)")
        conn.executemany(f"INSERT INTO {table} VALUES (?, ?)", sorted(data["codes"][table].items()))
    conn.execute("INSERT INTO SETUP_PROP VALUES (?, ?)", (prop, region["province"]["name"]))
    conn.execute("INSERT INTO SETUP_KAB VALUES (?, ?, ?)", (prop, kab, region["regency"]["name"]))
    conn.executemany(
        "INSERT INTO SETUP_KEC VALUES (?, ?, ?, ?)",
        [(prop, kab, d["code"], d["name"]) for d in region["districts"]],
    )
    conn.executemany(
        "INSERT INTO SETUP_KEL VALUES (?, ?, ?, ?, ?)",
        [(prop, kab, v["kec"], v["kel"], v["name"]) for v in p["villages"]],
    )
    families = len(p["start"])
    for lo in range(0, families, CHUNK):
        conn.executemany(
            "INSERT INTO DATA_KELUARGA VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _family_rows(p, lo, min(lo + CHUNK, families), prop, kab),
        )
    placeholders = ", ".join("?" * 26)
    for lo in range(0, residents, CHUNK):
        conn.executemany(
            f"INSERT INTO BIODATA_WNI VALUES ({placeholders})",
            _resident_rows(p, lo, min(lo + CHUNK, residents), prop, kab),
        )


def generate(
    out: str | Path,
    residents: int = 100_000,
    seed: int = 1,
    *,
    activity_until: date | None = None,
    register: Path | None = None,
) -> str:
    """Write a demo SIAK database with ``residents`` residents to ``out``; return a summary.

    The accounts, sessions and access log (:mod:`piak.engines.demo_accounts`) cover the two weeks
    up to ``activity_until`` (default: the reference date); ``register`` (a path) receives the
    access register of the demo's staff."""
    if not isinstance(residents, int) or isinstance(residents, bool) or residents < 1:
        raise PiakError(f"--residents harus bilangan bulat positif, bukan {residents!r}")
    if residents > MAX_RESIDENTS:
        raise PiakError(f"--residents paling banyak {MAX_RESIDENTS:,}".replace(",", "."))
    out = Path(out)
    if not out.parent.is_dir():
        raise PiakError(f"folder tujuan tidak ada: {out.parent}")
    if out.is_dir():
        raise PiakError(f"{out} adalah folder, bukan berkas")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    people = _people(rng, _families(rng, residents), residents)
    fd, tmp_name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("PRAGMA cache_size=-16384")
            conn.executescript(SCHEMA)
            conn.execute("BEGIN")
            _write(conn, people, residents)
            staff = demo_accounts.write(conn, seed, activity_until or REFERENCE_DAY)
            conn.execute("COMMIT")
            conn.executescript(INDEXES)
        finally:
            conn.close()
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if register is not None:
        write_text_atomic(
            Path(register), json.dumps(staff, indent=2, ensure_ascii=False, sort_keys=True)
        )
    families = len(people["start"])
    districts = len(_data()["region"]["districts"])
    elapsed = time.perf_counter() - started
    return (
        f"Basis data demo SIAK: {_id(residents)} penduduk, {_id(families)} KK, "
        f"{districts} kecamatan, {len(people['villages'])} kelurahan/desa, "
        f"{len(staff)} petugas dengan akun SIAK "
        f"({elapsed:.1f} detik) -> {out}"
    )


def _id(number: int) -> str:
    """Thousands separated the Indonesian way: 100.000."""
    return f"{number:,}".replace(",", ".")
