"""The SQL of an extract: one scope (WHERE) shared by every statement, built from a request.

Values reach SQL only as named bind parameters (``:p_...``, understood by sqlite3 and oracledb);
table and column names come only from the whitelist (:mod:`piak.engines.provision.catalog`). The
same text runs on SQLite and Oracle: the only dialect difference is how a date is bound (ISO text
for SQLite, ``datetime.date`` for Oracle). Age limits and groups are turned into birth-date
bounds so no date arithmetic runs in the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from piak.engines.provision.catalog import SOURCES, AggregateSpec, ColumnSpec, load
from piak.engines.provision.request import Request

REGION = ("NO_PROP", "NO_KAB", "NO_KEC", "NO_KEL")
DIALECTS = ("sqlite", "oracle")
_PARAM = re.compile(r":(p_[a-z0-9_]+)")
_JOINS = {
    "kel": "LEFT JOIN DATA_KELUARGA kel ON kel.NO_KK = b.NO_KK",
    "skec": "LEFT JOIN SETUP_KEC skec ON skec.NO_PROP = b.NO_PROP AND skec.NO_KAB = b.NO_KAB "
    "AND skec.NO_KEC = b.NO_KEC",
    "skel": "LEFT JOIN SETUP_KEL skel ON skel.NO_PROP = b.NO_PROP AND skel.NO_KAB = b.NO_KAB "
    "AND skel.NO_KEC = b.NO_KEC AND skel.NO_KEL = b.NO_KEL",
}
_NAME_COLUMNS = {"skec": "NAMA_KEC", "skel": "NAMA_KEL"}


@dataclass(frozen=True)
class Query:
    """A statement with named placeholders and its bound values."""

    sql: str
    params: dict[str, Any] = field(default_factory=dict)

    def qmark(self) -> tuple[str, list[Any]]:
        """The same statement with ``?`` placeholders and positional values (for ADBC)."""
        values: list[Any] = []

        def repl(match: re.Match[str]) -> str:
            values.append(self.params[match.group(1)])
            return "?"

        return _PARAM.sub(repl, self.sql), values


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def born_before_age(as_of: date, age: int) -> date:
    """First birth date of people younger than ``age`` on ``as_of``: age >= n <=> born < this."""
    return years_before(as_of, age) + timedelta(days=1)


class _Binder:
    """Collects bind values, converting dates for the dialect."""

    def __init__(self, dialect: str) -> None:
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}")
        self.dialect = dialect
        self.params: dict[str, Any] = {}

    def __call__(self, name: str, value: Any) -> str:
        if isinstance(value, date) and self.dialect == "sqlite":
            value = value.isoformat()
        self.params[f"p_{name}"] = value
        return f":p_{name}"


def _region_condition(request: Request, bind: _Binder, alias: str) -> str | None:
    parts = []
    for i, key in enumerate((*request.kecamatan, *request.kelurahan)):
        terms = [
            f"{alias}.{col} = {bind(f'r{i}_{col.lower()}', value)}"
            for col, value in zip(REGION, key, strict=False)
        ]
        parts.append("(" + " AND ".join(terms) + ")")
    return "(" + " OR ".join(parts) + ")" if parts else None


def scope(request: Request, bind: _Binder, alias: str = "b") -> str:
    """WHERE conditions: active residents born and entered by the as-of date, in the region,
    age range and sex of the request."""
    catalog = load()
    after = request.as_of + timedelta(days=1)
    conditions = [
        f"{alias}.FLAG_STATUS = {bind('flag', catalog.active_flag)}",
        f"{alias}.TGL_LHR < {bind('after', after)}",
        f"({alias}.TGL_ENTRI IS NULL OR {alias}.TGL_ENTRI < :p_after)",
    ]
    if region := _region_condition(request, bind, alias):
        conditions.append(region)
    if request.age_min is not None:
        youngest = born_before_age(request.as_of, request.age_min)
        conditions.append(f"{alias}.TGL_LHR < {bind('born_to', youngest)}")
    if request.age_max is not None:
        oldest = born_before_age(request.as_of, request.age_max + 1)
        conditions.append(f"{alias}.TGL_LHR >= {bind('born_from', oldest)}")
    if request.sex is not None:
        conditions.append(f"{alias}.JENIS_KLMIN = {bind('sex', request.sex)}")
    return " AND ".join(conditions)


#: The year of a date column, per dialect (coarsened dates: the day never leaves the database).
_YEAR = {
    "sqlite": "CAST(SUBSTR({expr}, 1, 4) AS INTEGER)",
    "oracle": "EXTRACT(YEAR FROM {expr})",
}


def _column_expr(spec: ColumnSpec, dialect: str, year_only: bool) -> str:
    if spec.source in _NAME_COLUMNS:
        return f"{spec.source}.{_NAME_COLUMNS[spec.source]}"
    expr = f"{spec.source}.{spec.name}"
    return _YEAR[dialect].format(expr=expr) if year_only else expr


def individual_query(request: Request, dialect: str) -> Query:
    """The SELECT of an individual extract: whitelisted columns, in region order. Dates whose
    day would give an identifier back come out as their year (computed in the database);
    identifiers not opened are replaced by pseudonyms before anything is written
    (:mod:`piak.engines.provision.pseudonym`)."""
    catalog = load()
    bind = _Binder(dialect)
    specs = [catalog.columns[name] for name in request.columns]
    coarse = set(request.coarsened)
    exprs = [f"{_column_expr(s, dialect, s.name in coarse)} AS {s.name}" for s in specs]
    joins = [_JOINS[src] for src in ("kel", "skec", "skel") if any(s.source == src for s in specs)]
    where = scope(request, bind)
    order = ", ".join(f"b.{col}" for col in REGION)
    sql = (
        f"SELECT {', '.join(exprs)} FROM {SOURCES['b']} b {' '.join(joins)} "
        f"WHERE {where} ORDER BY {order}"
    )
    return Query(" ".join(sql.split()), bind.params)


def count_query(request: Request, dialect: str) -> Query:
    """How many residents the request covers (the estimate every sign-off shows)."""
    bind = _Binder(dialect)
    return Query(f"SELECT COUNT(*) FROM {SOURCES['b']} b WHERE {scope(request, bind)}", bind.params)


def _age_group_expr(request: Request, bind: _Binder) -> str:
    groups = load().age_groups()
    whens = [
        f"WHEN b.TGL_LHR >= {bind(f'ag{i}', born_before_age(request.as_of, high + 1))} THEN {i}"
        for i, (_, high, _) in enumerate(groups)
        if high is not None
    ]
    return f"CASE {' '.join(whens)} ELSE {len(groups) - 1} END"


def _keys_and_filter(spec: AggregateSpec, request: Request, bind: _Binder) -> tuple[list, str]:
    catalog = load()
    if spec.kind == "codes":
        return [f"b.{spec.column}"], ""
    if spec.kind == "age_sex":
        return [_age_group_expr(request, bind), "b.JENIS_KLMIN"], ""
    if spec.kind == "heads":
        return ["b.JENIS_KLMIN"], f" AND b.STAT_HBKEL = {bind('head', catalog.head_of_family)}"
    married = ", ".join(bind(f"m{i}", code) for i, code in enumerate(catalog.ever_married))
    adult = bind("adult", born_before_age(request.as_of, catalog.adult_age))
    return ["b.JENIS_KLMIN"], f" AND (b.TGL_LHR < {adult} OR b.STAT_KWN IN ({married}))"


def aggregate_query(spec: AggregateSpec, request: Request, dialect: str) -> Query:
    """``GROUP BY`` region (down to kelurahan) and the table's categories, counted in the
    database. The categories are computed in a subquery so the GROUP BY names plain columns
    (Oracle refuses bind variables repeated in GROUP BY expressions)."""
    bind = _Binder(dialect)
    keys, extra = _keys_and_filter(spec, request, bind)
    region = ", ".join(f"b.{col}" for col in REGION)
    key_cols = [f"K{i}" for i in range(len(keys))]
    inner = ", ".join(f"{expr} AS {name}" for expr, name in zip(keys, key_cols, strict=True))
    where = scope(request, bind) + extra
    outer = ", ".join([*REGION, *key_cols])
    sql = (
        f"SELECT {outer}, COUNT(*) AS N FROM (SELECT {region}, {inner} FROM {SOURCES['b']} b "
        f"WHERE {where}) t GROUP BY {outer}"
    )
    return Query(sql, bind.params)
