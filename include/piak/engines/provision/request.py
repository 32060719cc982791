"""A population-data request: the trigger form's JSON schema, validation and the checked result.

Every rule of the issue is checked here, before anything runs: applicant fields, kind, PKS for
individual data, column whitelist, region codes (pattern, then SETUP_KEC / SETUP_KEL), as-of
date, age range, sex, format, suppression threshold and injection attempts in any text. A refusal
is an :class:`~piak.core.errors.InvalidRequest` whose message names the form field in Bahasa
Indonesia.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from piak.core import settings
from piak.core.errors import InvalidRequest
from piak.engines.provision.catalog import load
from piak.engines.provision.config import Agreement, PksRegistry, normalise

KINDS = ("agregat", "perseorangan")
FORMATS = ("xlsx", "csv", "parquet")
SEX_CHOICES = {"semua": None, "laki-laki": 1, "perempuan": 2}
EARLIEST = date(2000, 1, 1)
MAX_AGE = 150
MAX_CODES = 200

KecKey = tuple[int, int, int]
KelKey = tuple[int, int, int, int]

#: Form field -> its Indonesian title (the name every refusal uses).
TITLES = {
    "nama_pemohon": "Nama pemohon",
    "instansi": "Instansi pemohon",
    "nomor_surat": "Nomor surat permohonan",
    "tanggal_surat": "Tanggal surat permohonan",
    "keperluan": "Keperluan penggunaan data",
    "kontak": "Kontak pemohon",
    "jenis_data": "Jenis data",
    "nomor_pks": "Nomor PKS",
    "tanggal_pks": "Tanggal PKS",
    "kolom": "Kolom data perseorangan",
    "identitas_terbuka": "Identitas yang dibuka menurut PKS",
    "kecamatan": "Kecamatan",
    "kelurahan": "Kelurahan/desa",
    "tanggal_data": "Tanggal posisi data",
    "umur_min": "Umur terendah",
    "umur_max": "Umur tertinggi",
    "jenis_kelamin": "Jenis kelamin",
    "format": "Format berkas",
    "ambang_sel_kecil": "Ambang sel kecil",
}


@dataclass(frozen=True)
class Regions:
    """The region codes of the SIAK database (SETUP_KAB / SETUP_KEC / SETUP_KEL) with names."""

    kabupaten: dict[tuple[int, int], str]
    kecamatan: dict[KecKey, str]
    kelurahan: dict[KelKey, str]


@dataclass(frozen=True)
class Request:
    """A checked request: only :func:`validate_request` makes one."""

    applicant: str
    institution: str
    letter_number: str
    letter_date: date
    purpose: str
    contact: str
    kind: str
    pks_number: str | None
    pks_date: date | None
    columns: tuple[str, ...]
    unmasked: tuple[str, ...]
    kecamatan: tuple[KecKey, ...]
    kelurahan: tuple[KelKey, ...]
    as_of: date
    age_min: int | None
    age_max: int | None
    sex: int | None
    format: str
    threshold: int
    agreement: Agreement | None = dataclass_field(default=None, compare=False, repr=False)

    @property
    def pseudonymised(self) -> tuple[str, ...]:
        """Identifier columns of this extract replaced by per-release pseudonyms."""
        return tuple(c for c in self.columns if c in load().identifiers and c not in self.unmasked)

    @property
    def coarsened(self) -> tuple[str, ...]:
        """Date columns released as the year only (their exact day would give an identifier
        back: the birth date is part of the NIK)."""
        catalog = load()
        return tuple(
            c
            for c in self.columns
            if catalog.columns[c].exact_with and catalog.columns[c].exact_with not in self.unmasked
        )

    def to_params(self) -> dict[str, Any]:
        """The request as form values (JSON-able); ``validate_request`` of it gives it back."""
        sex = {v: k for k, v in SEX_CHOICES.items()}[self.sex]
        return {
            "nama_pemohon": self.applicant,
            "instansi": self.institution,
            "nomor_surat": self.letter_number,
            "tanggal_surat": self.letter_date.isoformat(),
            "keperluan": self.purpose,
            "kontak": self.contact,
            "jenis_data": self.kind,
            "nomor_pks": self.pks_number,
            "tanggal_pks": self.pks_date.isoformat() if self.pks_date else None,
            "kolom": list(self.columns),
            "identitas_terbuka": list(self.unmasked),
            "kecamatan": [kec_code(k) for k in self.kecamatan],
            "kelurahan": [kel_code(k) for k in self.kelurahan],
            "tanggal_data": self.as_of.isoformat(),
            "umur_min": self.age_min,
            "umur_max": self.age_max,
            "jenis_kelamin": sex,
            "format": self.format,
            "ambang_sel_kecil": self.threshold,
        }

    def fingerprint(self) -> str:
        """SHA-256 of the canonical request: the same request always gives the same value."""
        text = json.dumps(self.to_params(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["agreement"] = self.agreement.as_record() if self.agreement else None
        return values


def kec_code(key: KecKey) -> str:
    """``99.01.03``: the Kemendagri code of a kecamatan."""
    return f"{key[0]:02d}.{key[1]:02d}.{key[2]:02d}"


def kel_code(key: KelKey) -> str:
    """``99.01.03.2001``: the Kemendagri code of a kelurahan/desa."""
    return f"{kec_code(key[:3])}.{key[3]:04d}"


def today_wib() -> date:
    return datetime.now(ZoneInfo(settings.TIMEZONE)).date()


def last_cutoff(today: date | None = None) -> date:
    """The last semester cut-off (30 June or 31 December) before ``today`` (WIB)."""
    today = today or today_wib()
    for candidate in (date(today.year, 12, 31), date(today.year, 6, 30)):
        if candidate < today:
            return candidate
    return date(today.year - 1, 12, 31)


def load_regions(conn: Any) -> Regions:
    """Read the region codes and names from SETUP_KAB / SETUP_KEC / SETUP_KEL."""
    cur = conn.cursor()
    try:
        cur.execute("SELECT NO_PROP, NO_KAB, NAMA_KAB FROM SETUP_KAB")
        kab = {(int(p), int(k)): str(n) for p, k, n in cur.fetchall()}
        cur.execute("SELECT NO_PROP, NO_KAB, NO_KEC, NAMA_KEC FROM SETUP_KEC")
        kec = {(int(p), int(k), int(c)): str(n) for p, k, c, n in cur.fetchall()}
        cur.execute("SELECT NO_PROP, NO_KAB, NO_KEC, NO_KEL, NAMA_KEL FROM SETUP_KEL")
        kel = {(int(p), int(k), int(c), int(x)): str(n) for p, k, c, x, n in cur.fetchall()}
    finally:
        cur.close()
    return Regions(
        kabupaten=dict(sorted(kab.items())),
        kecamatan=dict(sorted(kec.items())),
        kelurahan=dict(sorted(kel.items())),
    )


def describe_scope(request: Request, regions: Regions) -> str:
    """The request's region in words (for the cover sheet and the letter)."""
    if not request.kecamatan and not request.kelurahan:
        names = ", ".join(regions.kabupaten.values()) or "seluruh wilayah"
        return f"Seluruh wilayah {names}"
    parts = [f"Kecamatan {regions.kecamatan[k]} ({kec_code(k)})" for k in request.kecamatan]
    parts += [
        f"{regions.kelurahan[k]} ({kel_code(k)}), Kec. {regions.kecamatan.get(k[:3], '?')}"
        for k in request.kelurahan
    ]
    return "; ".join(parts)


# --- validation -------------------------------------------------------------------------------


def _fail(field: str, problem: str) -> InvalidRequest:
    return InvalidRequest(f"{TITLES[field]} ({field}): {problem}")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_INJECTION = [
    (re.compile(r"[<>]"), "tanda < atau > (kode HTML/skrip)"),
    (re.compile(r"\{\{|\{%|\$\{|#\{"), "pola templat"),
    (re.compile(r"--|/\*|\*/"), "komentar SQL"),
    (re.compile(r"\.\.[/\\]"), "jalur berkas"),
    (
        re.compile(
            r";\s*(select|insert|update|delete|drop|alter|create|exec|execute|truncate|grant|"
            r"revoke|shutdown|merge|call|begin|declare)\b"
            r"|\bunion\s+(all\s+)?select\b|\bselect\b[\s\S]*\bfrom\b|\binsert\s+into\b"
            r"|\bdelete\s+from\b|\bdrop\s+(table|user|database|schema|index|view)\b"
            r"|\bupdate\s+\w+\s+set\b|\balter\s+(table|user|system|session)\b"
            r"|\btruncate\s+table\b|\bexec(ute)?\s+immediate\b|\b(dbms|utl)_\w+"
            r"|\bxp_cmdshell\b|\b(sleep|benchmark|pg_sleep)\s*\(|\bwaitfor\s+delay\b"
            r"|'\s*(or|and)\s+[\w']+\s*=|\bor\s+1\s*=\s*1\b",
            re.IGNORECASE,
        ),
        "perintah SQL",
    ),
]
_NAME = re.compile(r"^[^\W\d_][\w .,'()\-]*$")
_INSTITUTION = re.compile(r"^[\w][\w .,'()&/\-]*$")
_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./\- ]*$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-]{5,19}$")
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
_KEC = re.compile(r"^(\d{2})\.(\d{2})\.(\d{2})$")
_KEC_SHORT = re.compile(r"^(\d{2})$")
_KEL = re.compile(r"^(\d{2})\.(\d{2})\.(\d{2})\.(\d{4})$")
_KEL_SHORT = re.compile(r"^(\d{2})\.(\d{4})$")


def _text(
    params: Mapping[str, Any],
    field: str,
    *,
    low: int,
    high: int,
    pattern: re.Pattern[str] | None = None,
    multiline: bool = False,
    required: bool = True,
    formula_check: bool = True,
) -> str | None:
    value = params.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _fail(field, "wajib diisi")
        return None
    if not isinstance(value, str):
        raise _fail(field, "harus berupa teks")
    text = value.strip()
    if _CONTROL.search(text) or (not multiline and re.search(r"[\r\n\t]", text)):
        raise _fail(field, "berisi karakter kendali yang tidak diizinkan")
    for regex, what in _INJECTION:
        if regex.search(text):
            raise _fail(field, f"ditolak: berisi {what}")
    if formula_check and text[0] in "=+-@":
        raise _fail(field, "tidak boleh diawali =, +, - atau @ (rumus lembar kerja)")
    if not low <= len(text) <= high:
        raise _fail(field, f"panjangnya harus {low}-{high} karakter")
    if pattern is not None and not pattern.match(text):
        raise _fail(field, "berisi karakter yang tidak diizinkan")
    return text


def _date(params: Mapping[str, Any], field: str, today: date, *, required: bool) -> date | None:
    value = params.get(field)
    if value is None or value == "":
        if required:
            raise _fail(field, "wajib diisi")
        return None
    if isinstance(value, datetime) or not isinstance(value, date | str):
        raise _fail(field, "harus tanggal berformat TTTT-BB-HH")
    if isinstance(value, str):
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            raise _fail(field, f"{value!r} bukan tanggal berformat TTTT-BB-HH")
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise _fail(field, f"{value!r} bukan tanggal yang ada") from None
    if value > today:
        raise _fail(field, f"{value.isoformat()} ada di masa depan")
    if value < EARLIEST:
        raise _fail(field, f"tidak boleh sebelum {EARLIEST.isoformat()}")
    return value


def _int(params: Mapping[str, Any], field: str, low: int, high: int) -> int | None:
    value = params.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(field, "harus bilangan bulat")
    if not low <= value <= high:
        raise _fail(field, f"harus antara {low} dan {high}")
    return value


def _choice(params: Mapping[str, Any], field: str, choices: Iterable[str], default: str) -> str:
    value = params.get(field, default)
    if value is None:
        value = default
    if not isinstance(value, str) or value not in tuple(choices):
        raise _fail(field, f"{value!r} tidak dikenal; pilih salah satu: {', '.join(choices)}")
    return value


def _list(params: Mapping[str, Any], field: str) -> list[str]:
    value = params.get(field)
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise _fail(field, "harus berupa daftar")
    if len(value) > MAX_CODES:
        raise _fail(field, f"paling banyak {MAX_CODES} isian")
    items = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise _fail(field, f"isian {item!r} harus teks")
        if _CONTROL.search(item) or len(item) > 40:
            raise _fail(field, f"isian {item[:40]!r} tidak sah")
        items.append(item.strip())
    if len(set(items)) != len(items):
        raise _fail(field, "ada isian ganda")
    return items


def _columns(params: Mapping[str, Any], kind: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    catalog = load()
    columns = _list(params, "kolom")
    unmasked = _list(params, "identitas_terbuka")
    if kind == "agregat":
        if columns:
            raise _fail("kolom", "hanya untuk data perseorangan")
        if unmasked:
            raise _fail("identitas_terbuka", "hanya untuk data perseorangan")
        return (), ()
    if not columns:
        raise _fail("kolom", "data perseorangan harus menyebut kolom yang dicakup PKS")
    for column in columns:
        if column not in catalog.columns:
            raise _fail("kolom", f"{column!r} tidak termasuk kolom yang boleh diberikan")
    for column in unmasked:
        if column not in catalog.identifiers:
            raise _fail("identitas_terbuka", f"{column!r} bukan kolom identitas")
        if column not in columns:
            raise _fail("identitas_terbuka", f"{column!r} tidak ada di daftar kolom")
    return tuple(columns), tuple(unmasked)


def _agreement(
    params: Mapping[str, Any],
    kind: str,
    today: date,
    applicant: Mapping[str, Any],
    columns: tuple[str, ...],
    unmasked: tuple[str, ...],
    registry: PksRegistry | Callable[[], PksRegistry],
) -> Agreement | None:
    """The PKS an individual request quotes: registered, the applicant's, valid on the request
    date and today, covering every column (and the opening of identity, if asked)."""
    if kind == "agregat":
        for field in ("nomor_pks", "tanggal_pks"):
            if params.get(field) not in (None, ""):
                raise _fail(field, "hanya untuk data perseorangan")
        return None
    number = _text(params, "nomor_pks", low=3, high=60, pattern=_NUMBER, required=False)
    if number is None:
        raise _fail("nomor_pks", "data perseorangan memerlukan nomor PKS (perjanjian kerja sama)")
    signed = _date(params, "tanggal_pks", today, required=False)
    agreements = registry() if callable(registry) else registry
    agreement = agreements.find(number)
    if agreement is None:
        raise _fail("nomor_pks", f"PKS {number!r} tidak terdaftar di daftar PKS kantor")
    if normalise(agreement.institution) != normalise(applicant["institution"]):
        raise _fail(
            "nomor_pks",
            f"PKS {agreement.number} adalah milik {agreement.institution}, bukan instansi pemohon",
        )
    if signed is not None and signed != agreement.signed:
        raise _fail(
            "tanggal_pks",
            f"{signed.isoformat()} tidak sama dengan tanggal PKS {agreement.number} "
            f"({agreement.signed.isoformat()})",
        )
    for day, what in ((applicant["letter_date"], "tanggal surat permohonan"), (today, "hari ini")):
        if not agreement.valid_on(day):
            raise _fail(
                "nomor_pks",
                f"PKS {agreement.number} berlaku {agreement.period()}; tidak berlaku pada "
                f"{what} ({day.isoformat()})",
            )
    outside = [c for c in columns if c not in agreement.columns]
    if outside:
        raise _fail("kolom", f"{', '.join(outside)} tidak diizinkan oleh PKS {agreement.number}")
    if unmasked and not agreement.open_identity:
        raise _fail(
            "identitas_terbuka",
            f"PKS {agreement.number} tidak mengizinkan identitas dibuka "
            "(NIK/Nomor KK hanya disamarkan dengan pseudonim)",
        )
    return agreement


def _threshold(params: Mapping[str, Any], floor: int) -> int:
    value = _int(params, "ambang_sel_kecil", 0, 100)
    if value is None:
        return floor
    if value < floor:
        raise _fail(
            "ambang_sel_kecil",
            f"{value} di bawah ambang kantor {floor}; permintaan boleh menaikkan ambang, "
            "tidak menurunkannya",
        )
    return value


_PATTERNS = {
    "kecamatan": (_KEC, _KEC_SHORT, "SETUP_KEC", "99.01.03"),
    "kelurahan": (_KEL, _KEL_SHORT, "SETUP_KEL", "99.01.03.2001"),
}


def _code_parts(field: str, code: str) -> tuple[bool, tuple[int, ...]]:
    """``(full code?, numbers)`` of a region code, or refuse one that fits no pattern."""
    full, short, _, example = _PATTERNS[field]
    if match := full.match(code):
        return True, tuple(int(g) for g in match.groups())
    if match := short.match(code):
        return False, tuple(int(g) for g in match.groups())
    raise _fail(field, f"kode {code!r} tidak sesuai pola (contoh {example})")


def _resolve(field: str, code: str, regions: Regions) -> tuple[int, ...]:
    is_full, parts = _code_parts(field, code)
    table = _PATTERNS[field][2]
    if not is_full:
        if len(regions.kabupaten) != 1:
            raise _fail(field, f"kode {code!r} harus lengkap dengan kode provinsi dan kabupaten")
        parts = (*next(iter(regions.kabupaten)), *parts)
    known = regions.kecamatan if field == "kecamatan" else regions.kelurahan
    if parts not in known:
        raise _fail(field, f"kode {code!r} tidak ada di {table}")
    return parts


def _regions(
    params: Mapping[str, Any], lookup: Regions | Callable[[], Regions]
) -> tuple[tuple[KecKey, ...], tuple[KelKey, ...]]:
    codes = {field: _list(params, field) for field in _PATTERNS}
    for field, values in codes.items():
        for code in values:
            _code_parts(field, code)
    if not any(codes.values()):
        return (), ()
    regions = lookup() if callable(lookup) else lookup
    keys = {}
    for field, values in codes.items():
        resolved = [_resolve(field, code, regions) for code in values]
        if len(set(resolved)) != len(resolved):
            raise _fail(field, "ada kode ganda")
        keys[field] = tuple(sorted(resolved))
    return keys["kecamatan"], keys["kelurahan"]  # type: ignore[return-value]


def _applicant(params: Mapping[str, Any], today: date) -> dict[str, Any]:
    contact = _text(params, "kontak", low=6, high=100, formula_check=False)
    if not (_PHONE.match(contact) or _EMAIL.match(contact)):
        raise _fail("kontak", "harus nomor telepon atau alamat surel")
    return {
        "applicant": _text(params, "nama_pemohon", low=3, high=100, pattern=_NAME),
        "institution": _text(params, "instansi", low=3, high=150, pattern=_INSTITUTION),
        "letter_number": _text(params, "nomor_surat", low=3, high=60, pattern=_NUMBER),
        "letter_date": _date(params, "tanggal_surat", today, required=True),
        "purpose": _text(params, "keperluan", low=10, high=2000, multiline=True),
        "contact": contact,
    }


def _ages(params: Mapping[str, Any]) -> tuple[int | None, int | None]:
    age_min = _int(params, "umur_min", 0, MAX_AGE)
    age_max = _int(params, "umur_max", 0, MAX_AGE)
    if age_min is not None and age_max is not None and age_min > age_max:
        raise _fail("umur_max", f"{age_max} lebih kecil dari umur terendah {age_min}")
    return age_min, age_max


def validate_request(
    params: Mapping[str, Any],
    *,
    region_lookup: Regions | Callable[[], Regions],
    today: date | None = None,
    allow_extra: Iterable[str] = (),
    agreements: PksRegistry | Callable[[], PksRegistry] | None = None,
    floor: int | None = None,
) -> Request:
    """Check the form values and return the request, or raise ``InvalidRequest`` naming the field.

    ``region_lookup`` is the database's :class:`Regions` or a function returning it (called only
    when codes are given, e.g. ``lambda: load_regions(conn)``). ``today`` (WIB) defaults to now.
    ``agreements`` is the PKS registry (default ``config/pks.yaml``, read only for individual
    requests); ``floor`` the office's small-count threshold (default ``config/provision.yaml``).
    Keys not in the form are refused, except those named in ``allow_extra``.
    """
    from piak.engines.provision import config

    if not isinstance(params, Mapping):
        raise InvalidRequest("Permintaan harus berupa kumpulan isian (dict)")
    unknown = sorted(set(params) - set(TITLES) - set(allow_extra))
    if unknown:
        raise InvalidRequest(f"Isian tidak dikenal: {', '.join(map(str, unknown))}")
    today = today or today_wib()
    applicant = _applicant(params, today)
    kind = _choice(params, "jenis_data", KINDS, "agregat")
    columns, unmasked = _columns(params, kind)
    agreement = _agreement(
        params, kind, today, applicant, columns, unmasked, agreements or config.load_pks
    )
    kecamatan, kelurahan = _regions(params, region_lookup)
    as_of = _date(params, "tanggal_data", today, required=False) or last_cutoff(today)
    age_min, age_max = _ages(params)
    if floor is None:
        floor = config.load_settings().suppression_floor
    return Request(
        **applicant,
        kind=kind,
        pks_number=agreement.number if agreement else None,
        pks_date=agreement.signed if agreement else None,
        columns=columns,
        unmasked=unmasked,
        kecamatan=kecamatan,
        kelurahan=kelurahan,
        as_of=as_of,
        age_min=age_min,
        age_max=age_max,
        sex=SEX_CHOICES[_choice(params, "jenis_kelamin", SEX_CHOICES, "semua")],
        format=_choice(params, "format", FORMATS, "xlsx"),
        threshold=_threshold(params, floor),
        agreement=agreement,
    )


# --- the trigger form ---------------------------------------------------------------------------


def _field(default: Any, field: str, section: str, **schema: Any) -> dict[str, Any]:
    from piak.core.forms import with_limits

    return {"default": default, "title": TITLES[field], "section": section, **with_limits(schema)}


def _choice_field(field: str, section: str, shown: dict[str, str], **schema: Any) -> dict:
    """One choice of ``shown`` (value -> what the person sees), the first chosen."""
    first = next(iter(shown))
    return _field(
        first, field, section, type="string", enum=list(shown), values_display=shown, **schema
    )


def _columns_field(field: str, section: str, headers: dict[str, str], **schema: Any) -> dict:
    """A multiple choice of columns (code -> the header the person sees), none chosen."""
    return _field(
        [],
        field,
        section,
        type="array",
        uniqueItems=True,
        items={"type": "string", "enum": list(headers)},
        examples=list(headers),
        values_display=headers,
        **schema,
    )


def _region_field(
    field: str, section: str, choices: dict[str, str] | None, hint: str, example: str
) -> dict[str, Any]:
    """Regions as a multiple choice of the office's own (``config/regions.yaml``: code and
    name), else as codes typed one per line; empty (none chosen) means the whole kabupaten."""
    schema: dict[str, Any] = {"type": ["null", "array"], "uniqueItems": True}
    if choices:
        schema |= {
            "items": {"type": "string", "enum": list(choices)},
            "examples": list(choices),
            "values_display": choices,
            "description": f"Pilih dari daftar wilayah kantor. {hint}",
        }
    else:
        schema |= {
            "items": {"type": "string"},
            "description": f"Kode {field}, satu per baris (contoh {example}). {hint}",
        }
    return _field([], field, section, maxItems=MAX_CODES, **schema)


def params_schema(floor: int | None = None) -> dict[str, dict[str, Any]]:
    """The trigger form as Airflow Params JSON-schema dicts (no airflow import).

    A DAG uses it as ``{name: Param(**schema) for name, schema in params_schema().items()}``;
    each dict carries its ``default``. The form checks shapes; :func:`validate_request` checks
    everything again (and more) before any step runs. ``floor`` is the office's small-count
    threshold (default: ``config/provision.yaml``), the form's default and minimum.
    """
    from piak.engines.provision import config, regions

    catalog = load()
    office = regions.load()
    if floor is None:
        floor = config.load_settings().suppression_floor
    who, what, where, out = "Pemohon", "Jenis data", "Cakupan data", "Keluaran"
    line = {"type": "string", "minLength": 3}
    optional_date = {"type": ["null", "string"], "format": "date"}
    return {
        "nama_pemohon": _field("", "nama_pemohon", who, maxLength=100, **line),
        "instansi": _field("", "instansi", who, maxLength=150, **line),
        "nomor_surat": _field("", "nomor_surat", who, maxLength=60, **line),
        "tanggal_surat": _field(
            None,
            "tanggal_surat",
            who,
            type="string",
            format="date",
            description="Tanggal surat permohonan dari pimpinan instansi pemohon.",
        ),
        "keperluan": _field(
            "",
            "keperluan",
            who,
            type="string",
            minLength=10,
            maxLength=2000,
            format="multiline",
            description="Untuk apa data digunakan (sesuai surat permohonan).",
        ),
        "kontak": _field(
            "",
            "kontak",
            who,
            type="string",
            minLength=6,
            maxLength=100,
            description="Nomor telepon atau alamat surel pemohon.",
        ),
        "jenis_data": _choice_field(
            "jenis_data",
            what,
            {"agregat": "Data agregat", "perseorangan": "Data perseorangan (PKS)"},
            description="Data perseorangan hanya dengan PKS (perjanjian kerja sama).",
        ),
        "nomor_pks": _field(
            None,
            "nomor_pks",
            what,
            type=["null", "string"],
            maxLength=60,
            description="Wajib untuk data perseorangan: nomor PKS yang terdaftar di kantor "
            "(python -m piak pks list) atas nama instansi pemohon.",
        ),
        "tanggal_pks": _field(
            None,
            "tanggal_pks",
            what,
            description="Boleh dikosongkan; bila diisi harus sama dengan tanggal PKS terdaftar.",
            **optional_date,
        ),
        "kolom": _columns_field(
            "kolom",
            what,
            {k: c.header for k, c in catalog.columns.items()},
            description="Data perseorangan: hanya kolom yang dicakup PKS.",
        ),
        "identitas_terbuka": _columns_field(
            "identitas_terbuka",
            what,
            {k: catalog.columns[k].header for k in catalog.identifiers},
            description="Kolom identitas yang dibuka menurut pasal PKS (hanya bila PKS "
            "mengizinkan); selain itu NIK, Nomor KK dan NIK orang tua diganti pseudonim per rilis "
            "dan tanggal lahir/kawin hanya tahunnya.",
        ),
        "kecamatan": _region_field(
            "kecamatan",
            where,
            office.kecamatan_choices() if office else None,
            "Kosongkan kecamatan dan kelurahan untuk seluruh kabupaten.",
            "99.01.03",
        ),
        "kelurahan": _region_field(
            "kelurahan",
            where,
            office.kelurahan_choices() if office else None,
            "Kelurahan/desa di luar kecamatan yang dipilih di atas.",
            "99.01.03.2001",
        ),
        "tanggal_data": _field(
            None,
            "tanggal_data",
            where,
            **optional_date,
            description="Kosongkan untuk posisi semester terakhir (30 Juni atau 31 Desember). "
            "Tidak boleh di masa depan.",
        ),
        "umur_min": _field(
            None, "umur_min", where, type=["null", "integer"], minimum=0, maximum=MAX_AGE
        ),
        "umur_max": _field(
            None, "umur_max", where, type=["null", "integer"], minimum=0, maximum=MAX_AGE
        ),
        "jenis_kelamin": _choice_field(
            "jenis_kelamin",
            where,
            {"semua": "Semua", "laki-laki": "Laki-laki", "perempuan": "Perempuan"},
        ),
        "format": _choice_field(
            "format", out, {"xlsx": "Excel (XLSX)", "csv": "CSV (UTF-8)", "parquet": "Parquet"}
        ),
        "ambang_sel_kecil": _field(
            floor,
            "ambang_sel_kecil",
            out,
            type="integer",
            minimum=floor,
            maximum=100,
            description=f"Sel tabel bernilai 1 sampai ambang-1 disensor di semua tingkat "
            f"(kabupaten, kecamatan, kelurahan). Ambang kantor {floor}: boleh dinaikkan, "
            "tidak boleh diturunkan.",
        ),
    }
