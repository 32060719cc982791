"""The office's own regions (``config/regions.yaml``, ``PIAK_REGIONS_FILE``): the kecamatan and
kelurahan/desa of the kabupaten with their names, as SIAK's SETUP_KEC / SETUP_KEL hold them.

The data request form offers them as choices ("99.01.03 Contoh Timur"), so a code that is not
the office's cannot be asked for; the request is still checked against SIAK when it runs. The
file is data the office keeps current after a pemekaran with
``python -m piak regions --write`` (read from the SIAK Connection); the committed one is the
embedded default's demo database. Without the file the form takes codes as typed text.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, StringConstraints

from piak.core import settings
from piak.core.config import Strict, load_model
from piak.core.files import write_text_atomic

KEC = r"^\d{2}\.\d{2}\.\d{2}$"
KEL = r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
HEADER = """\
# The office's regions: the kecamatan and kelurahan/desa of the kabupaten, code -> name, as
# SIAK's SETUP_KEC / SETUP_KEL hold them. The data request form offers them as choices; the
# request is still checked against SIAK when it runs. Made by `python -m piak regions --write`
# (from the SIAK Connection) - run it again after a pemekaran.
"""


class OfficeRegions(Strict):
    """``config/regions.yaml``."""

    kabupaten: Name
    kecamatan: dict[Annotated[str, StringConstraints(pattern=KEC)], Name] = Field(min_length=1)
    kelurahan: dict[Annotated[str, StringConstraints(pattern=KEL)], Name] = Field(
        default_factory=dict
    )

    def kecamatan_choices(self) -> dict[str, str]:
        """code -> what the form shows."""
        return {code: f"{code} {name}" for code, name in self.kecamatan.items()}

    def kelurahan_choices(self) -> dict[str, str]:
        return {
            code: f"{code} {name} (Kec. {self.kecamatan.get(code[:8], '?')})"
            for code, name in self.kelurahan.items()
        }


def regions_file() -> Path:
    return settings.config_file("PIAK_REGIONS_FILE", "regions.yaml")


def load(path: Path | None = None) -> OfficeRegions | None:
    """The office's regions, or None when the office has no such file."""
    path = Path(path) if path else regions_file()
    if not path.exists():
        return None
    return _load(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load(path: Path, mtime: int) -> OfficeRegions:
    return load_model(path, OfficeRegions, "wilayah kantor")


def from_siak(regions: Any) -> OfficeRegions:
    """The file's content from SIAK's tables (a :class:`piak.engines.provision.request.Regions`)."""
    from piak.engines.provision.request import kec_code, kel_code

    return OfficeRegions(
        kabupaten=", ".join(regions.kabupaten.values()),
        kecamatan={kec_code(k): name for k, name in regions.kecamatan.items()},
        kelurahan={kel_code(k): name for k, name in regions.kelurahan.items()},
    )


def dump(regions: OfficeRegions) -> str:
    body = yaml.safe_dump(regions.model_dump(), allow_unicode=True, sort_keys=False)
    return HEADER + body


def write(regions: OfficeRegions, path: Path | None = None) -> Path:
    return write_text_atomic(Path(path) if path else regions_file(), dump(regions))
