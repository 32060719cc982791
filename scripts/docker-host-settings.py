#!/usr/bin/env python3
"""Write ``docker/host/``: this host's pip settings and extra CA certificates for the image builds.

An office behind an intercepting proxy or with its own PyPI mirror builds the images the way
its own ``pip`` works. This script reads pip's configuration as pip does (the global, user and
``PIP_CONFIG_FILE`` files in pip's order, then ``PIP_*`` variables, and the ``HTTPS_PROXY``
variables) and the extra CA certificates of the host (``/usr/local/share/ca-certificates``,
the file pip's ``cert`` names, ``PIAK_EXTRA_CA_CERTS``) and writes

    docker/host/pip.conf             the settings that make sense inside a build
    docker/host/ca-certificates/     the extra CA certificates (*.crt)

The Dockerfiles copy ``docker/host/``: the CA certificates go into the image's trust store and
``pip.conf`` is used by the ``pip install`` of the build. Both are git-ignored (host-specific).
Host paths (``file://`` indexes, ``find-links`` folders, a host ``constraint`` file) do not exist
inside a build and are left out, with a note. Standard library only (runs with any python3).
"""

from __future__ import annotations

import argparse
import configparser
import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docker" / "host"
#: Debian's folder of locally added CA certificates (``update-ca-certificates``).
LOCAL_CA_DIR = Path("/usr/local/share/ca-certificates")
#: The trust store of a Debian-based image (the official Airflow image and the local bases).
IMAGE_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
#: pip options that mean the same inside a build; everything else (cache, log, user, target,
#: require-virtualenv, constraint files of the host...) stays on the host.
URL_LISTS = ("index-url", "extra-index-url", "find-links")
KEPT = (*URL_LISTS, "trusted-host", "timeout", "default-timeout", "retries", "proxy", "pre",
        "prefer-binary", "only-binary", "no-binary", "progress-bar",
        "disable-pip-version-check")  # fmt: skip
SECTIONS = ("global", "install", "download", "wheel")


def pip_config_files() -> list[Path]:
    """pip's configuration files, lowest priority first (pip's ``get_configuration_files``)."""
    xdg_dirs = os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs.split(":") if d]
    files.append(Path("/etc/pip.conf"))
    home = Path.home()
    files.append(home / ".pip" / "pip.conf")
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    files.append(config_home / "pip" / "pip.conf")
    explicit = os.environ.get("PIP_CONFIG_FILE")
    if explicit == os.devnull:
        return []
    if explicit:
        files.append(Path(explicit))
    return files


def read_pip_settings() -> dict[str, str]:
    """The effective pip options (section ``global`` merged with the install-like ones)."""
    settings: dict[str, str] = {}
    for path in pip_config_files():
        if not path.is_file():
            continue
        parser = configparser.RawConfigParser()
        parser.read(path, encoding="utf-8")
        for section in SECTIONS:
            if parser.has_section(section):
                for key, value in parser.items(section):
                    settings[key.replace("_", "-")] = value
    for name, value in os.environ.items():
        if name.startswith("PIP_") and name != "PIP_CONFIG_FILE":
            settings[name[4:].lower().replace("_", "-")] = value
    return settings


def _is_remote(location: str) -> bool:
    return bool(re.match(r"^https?://", location))


def build_settings(settings: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The options written to the image's pip.conf, and notes on what was left out."""
    kept: dict[str, str] = {}
    notes: list[str] = []
    for key, value in settings.items():
        if key in URL_LISTS:
            words = value.split()
            remote = [w for w in words if _is_remote(w)]
            notes += [f"{key} {w}: a path on this host, left out" for w in words if w not in remote]
            if remote:
                kept[key] = " ".join(remote)
        elif key in KEPT:
            kept[key] = value
        elif key not in ("cert", "client-cert"):
            notes.append(f"{key}: a setting of this host's pip, left out")
    if "proxy" not in kept:
        for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
            if os.environ.get(name):
                kept["proxy"] = os.environ[name]
                break
    for key in ("index-url", "extra-index-url", "proxy"):
        if re.search(r"://[^/@\s]+:[^/@\s]*@", kept.get(key, "")):
            notes.append(
                f"{key} holds a password: it ends up in the image's build layers - prefer a "
                "mirror or proxy without one"
            )
    return kept, notes


def extra_ca_files(settings: dict[str, str], ca_dir: Path = LOCAL_CA_DIR) -> list[Path]:
    """The host's extra CA certificates: Debian's local CA folder, pip's ``cert`` when it is not
    the system bundle, and the files named in ``PIAK_EXTRA_CA_CERTS`` (colon-separated)."""
    found = sorted(ca_dir.rglob("*.crt"))
    cert = settings.get("cert")
    if cert and Path(cert).is_file() and Path(cert).resolve() != Path(IMAGE_BUNDLE).resolve():
        found.append(Path(cert))
    found += [Path(p) for p in os.environ.get("PIAK_EXTRA_CA_CERTS", "").split(":") if p]
    missing = [p for p in found if not p.is_file()]
    if missing:
        raise SystemExit(f"CA certificate not found: {missing[0]}")
    return found


def write(out: Path = OUT, ca_dir: Path = LOCAL_CA_DIR) -> list[str]:
    """Write ``out`` (replacing an older one); return the notes."""
    settings = read_pip_settings()
    kept, notes = build_settings(settings)
    cas = extra_ca_files(settings, ca_dir)
    if cas:
        kept["cert"] = IMAGE_BUNDLE
    out.mkdir(parents=True, exist_ok=True)
    ca_dir = out / "ca-certificates"
    shutil.rmtree(ca_dir, ignore_errors=True)
    ca_dir.mkdir()
    names: set[str] = set()
    for index, path in enumerate(cas):
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem) or f"ca{index}"
        if name in names:
            name = f"{name}-{index}"
        names.add(name)
        shutil.copyfile(path, ca_dir / f"{name}.crt")
    conf = out / "pip.conf"
    if kept:
        lines = ["# Generated by scripts/docker-host-settings.py from this host's pip settings", ""]
        lines += ["[global]", *(f"{k} = {v}" for k, v in sorted(kept.items()))]
        tmp = conf.with_name(".pip.conf.tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(conf)
    else:
        conf.unlink(missing_ok=True)
    notes.append(f"{len(cas)} extra CA certificate(s), pip options: {', '.join(sorted(kept))}")
    return notes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="default: docker/host")
    parser.add_argument("--ca-dir", type=Path, default=LOCAL_CA_DIR, help="local CA folder")
    args = parser.parse_args()
    for note in write(args.out, args.ca_dir):
        print(f"docker/host: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
