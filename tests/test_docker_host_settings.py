"""scripts/docker-host-settings.py: the host's pip settings and extra CA certificates for the
image builds (docker/host/), run as the builds run it - a plain python3 on this host's files."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "docker-host-settings.py"
CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


def _run(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path / "host"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and "PROXY" not in k}
    clean.pop("PIAK_EXTRA_CA_CERTS", None)
    clean |= {"HOME": str(tmp_path / "home"), "XDG_CONFIG_DIRS": str(tmp_path / "xdg"), **env}
    clean.pop("XDG_CONFIG_HOME", None)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--ca-dir", str(tmp_path / "cas")],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result, out


def _pip_conf(out: Path) -> dict[str, str]:
    parser = configparser.RawConfigParser()
    parser.read(out / "pip.conf")
    return dict(parser.items("global"))


def test_remote_indexes_and_proxy_are_kept_host_paths_are_left_out(tmp_path):
    user_conf = tmp_path / "home" / ".config" / "pip" / "pip.conf"
    user_conf.parent.mkdir(parents=True)
    user_conf.write_text(
        "[global]\nindex-url = https://mirror.example.go.id/simple\n"
        "extra-index-url = file:///opt/pypi/simple https://extra.example.go.id/simple\n"
        "find-links = /opt/wheels\ncache-dir = /var/cache/pip\n"
        "[install]\ntrusted-host = mirror.example.go.id\n"
    )
    result, out = _run(tmp_path, HTTPS_PROXY="http://proxy.example.go.id:3128", PIP_RETRIES="9")
    conf = _pip_conf(out)
    assert conf["index-url"] == "https://mirror.example.go.id/simple"
    assert conf["extra-index-url"] == "https://extra.example.go.id/simple"
    assert conf["trusted-host"] == "mirror.example.go.id"
    assert conf["proxy"] == "http://proxy.example.go.id:3128"
    assert conf["retries"] == "9"
    assert "find-links" not in conf and "cache-dir" not in conf
    assert "extra-index-url file:///opt/pypi/simple: a path on this host" in result.stderr
    assert "find-links /opt/wheels: a path on this host" in result.stderr


def test_extra_ca_certificates_join_the_image_trust_store(tmp_path):
    (tmp_path / "cas" / "office").mkdir(parents=True)
    (tmp_path / "cas" / "office" / "proxy-ca.crt").write_text(CA)
    (tmp_path / "cas" / "not-a-cert.pem").write_text("ignored")
    named = tmp_path / "gateway ca.crt"
    named.write_text(CA)
    _, out = _run(tmp_path, PIAK_EXTRA_CA_CERTS=str(named))
    copied = sorted(p.name for p in (out / "ca-certificates").iterdir())
    assert {"proxy-ca.crt", "gateway_ca.crt"} <= set(copied)
    assert "not-a-cert.crt" not in copied
    assert (out / "ca-certificates" / "proxy-ca.crt").read_text() == CA
    assert _pip_conf(out)["cert"] == "/etc/ssl/certs/ca-certificates.crt"


def test_a_password_in_an_index_url_is_warned_about(tmp_path):
    result, _ = _run(tmp_path, PIP_INDEX_URL="https://user:s3cret@mirror.example.go.id/simple")
    assert "index-url holds a password" in result.stderr
    assert "s3cret" not in result.stderr


def test_a_missing_ca_file_stops_with_its_name(tmp_path):
    missing = tmp_path / "nowhere.crt"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path / "host"), "--ca-dir", str(tmp_path)],
        env={**os.environ, "PIAK_EXTRA_CA_CERTS": str(missing)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert str(missing) in result.stderr
    assert not (tmp_path / "host").exists(), "nothing written before the check"
