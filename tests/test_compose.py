"""docker-compose.yaml, validated by Debian's docker-compose (``config`` needs no Docker engine)
with a throwaway ``.env`` of generated secrets: the production topology's services, volumes,
environment and secrets; the official images by default and local bases when .env names them;
a missing secret stops it; nothing secret is committed. The stack itself is built and started
by ``make test-compose`` (tests/compose_stack)."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SECRET_KEYS = (
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "POSTGRES_PASSWORD",
    "PIAK_AGENDA_PASSWORD",
)
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
)
SHARED_MOUNTS = {
    "dags": "/opt/airflow/dags",
    "plugins": "/opt/airflow/plugins",
    "include": "/opt/airflow/include",
    "config": "/opt/airflow/config",
    "piak-data": "/opt/piak",
    "piak-backups": "/opt/piak/storage/backups",
    "piak-archive": "/opt/piak/storage/archive",
    "offsite": "/opt/piak/storage/offsite",
}


@pytest.fixture(scope="module")
def docker_compose() -> str:
    """Debian's docker-compose, installed (as root) when missing."""
    if not shutil.which("docker-compose"):
        ensure = subprocess.run(
            [str(ROOT / "scripts/ensure-debian-packages.sh"), "docker-compose"],
            capture_output=True,
            text=True,
        )
        if ensure.returncode != 0 or not shutil.which("docker-compose"):
            pytest.fail(f"docker-compose is missing and could not be installed:\n{ensure.stderr}")
    return shutil.which("docker-compose") or "docker-compose"


def _project(base: Path, env: dict[str, str]) -> Path:
    """A copy of the compose file with a generated .env and the SSH key secret's file."""
    base.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "docker-compose.yaml", base / "docker-compose.yaml")
    (base / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    (base / "secrets").mkdir(exist_ok=True)
    (base / "secrets" / "piak_ssh_key").write_text("not a key\n")
    return base


def _config(docker_compose: str, project: Path) -> subprocess.CompletedProcess:
    """``docker-compose config`` in ``project``, untouched by this process's environment."""
    return subprocess.run(
        [docker_compose, "config"],
        cwd=project,
        env={"PATH": "/usr/bin:/bin", "HOME": str(project)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def generated_env() -> dict[str, str]:
    return {key: secrets.token_urlsafe(24) for key in SECRET_KEYS}


@pytest.fixture(scope="module")
def compose(docker_compose, generated_env, tmp_path_factory) -> dict[str, Any]:
    project = _project(tmp_path_factory.mktemp("compose"), generated_env)
    result = _config(docker_compose, project)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Mount target -> source name (last path part of a bind mount, or the volume name)."""
    mounts = {}
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        mounts[target] = Path(source).name
    return mounts


def test_the_topology_has_every_component_on_celery(compose):
    services = compose["services"]
    assert set(AIRFLOW_SERVICES) | {"postgres", "redis", "flower"} <= set(services)
    assert services["flower"]["profiles"] == ["flower"]
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES[:5]}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
        "airflow-worker": "celery worker",
    }
    assert services["airflow-worker"]["deploy"]["replicas"] >= 2
    init = "\n".join(services["airflow-init"]["command"])
    assert "python -m piak.deploy init" in init  # check, databases, db migrate, access
    assert services["airflow-init"]["environment"]["PIAK_DEMO_RESIDENTS"] == "0"
    assert services["airflow-init"]["user"] == "0:0"
    gated = {"airflow-apiserver", "airflow-scheduler", "airflow-worker", "flower"}
    for name in gated:
        depends = services[name]["depends_on"]
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"] == {
        "condition": "service_healthy"
    }


def test_every_airflow_service_uses_the_project_image_and_settings(compose, generated_env):
    for name in (*AIRFLOW_SERVICES, "flower"):
        service = compose["services"][name]
        env = service["environment"]
        assert service["image"] == "piak-ops:3.3.2" and "build" in service, name
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["AIRFLOW__CORE__AUTH_MANAGER"] == "piak.web.auth.PiakFabAuthManager", name
        assert env["AIRFLOW__CORE__FERNET_KEY"] == generated_env["AIRFLOW_FERNET_KEY"], name
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == generated_env["AIRFLOW_JWT_SECRET"], name
        assert generated_env["POSTGRES_PASSWORD"] in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379/")
        agenda = env["PIAK_AGENDA_URL"]
        assert agenda.startswith("postgresql") and generated_env["PIAK_AGENDA_PASSWORD"] in agenda
        assert env["PYTHONPATH"] == "/opt/airflow/include", name
        assert env["PIAK_STORAGE"] == "/opt/piak/storage", name
        assert env["PIAK_ACCESS_FILE"] == "/opt/airflow/config/access.yaml", name
        assert env["PIAK_DEPLOYMENT"] == "production", name  # init refuses demo accounts
        assert "AIRFLOW_CONN_PIAK_PSEUDONYM" in env, name  # the pseudonym secret's Connection
        for keys in ("AIRFLOW_CONN_PIAK_BACKUP_RECIPIENTS", "AIRFLOW_CONN_PIAK_BACKUP_IDENTITY"):
            assert keys in env, name  # the backup keys reach every Airflow container
        mounts = _mounts(service)
        for source, target in SHARED_MOUNTS.items():
            assert mounts.get(target) == source, f"{name}: {target} is not {source}"


def test_the_official_images_by_default_local_bases_when_env_names_them(
    docker_compose, compose, generated_env, tmp_path
):
    services = compose["services"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7.2-bookworm"
    build = services["airflow-init"]["build"]
    assert build["args"] == {"AIRFLOW_BASE_IMAGE": "apache/airflow:3.3.2-python3.11"}
    assert build["network"] == "default"

    local = {
        "PIAK_AIRFLOW_BASE_IMAGE": "piak-local/airflow:3.3.2-python3.11",
        "PIAK_POSTGRES_IMAGE": "piak-local/postgres:15",
        "PIAK_REDIS_IMAGE": "piak-local/redis:7",
        "PIAK_BUILD_NETWORK": "host",
    }
    result = _config(docker_compose, _project(tmp_path, generated_env | local))
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert services["postgres"]["image"] == "piak-local/postgres:15"
    assert services["redis"]["image"] == "piak-local/redis:7"
    for name in (*AIRFLOW_SERVICES, "flower"):
        build = services[name]["build"]
        assert build["args"]["AIRFLOW_BASE_IMAGE"] == "piak-local/airflow:3.3.2-python3.11"
        assert build["network"] == "host"
        assert services[name]["image"] == "piak-ops:3.3.2", name


def test_published_ports_listen_on_loopback_by_default(compose):
    services = compose["services"]
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert set(published) == {"airflow-apiserver", "flower"}
    for name, ports in published.items():
        assert all(str(port).startswith("127.0.0.1:") for port in ports), (name, ports)


def test_volumes_and_secrets(compose):
    assert {"postgres-db", "airflow-logs", "piak-data", "piak-backups", "piak-archive"} <= set(
        compose["volumes"]
    )
    assert compose["secrets"]["piak_ssh_key"]["file"].endswith("secrets/piak_ssh_key")
    assert {"source": "piak_ssh_key"} in compose["services"]["airflow-worker"]["secrets"]
    assert _mounts(compose["services"]["airflow-init"])["/opt/piak-secrets"] == "secrets"


def test_a_missing_secret_stops_compose_with_its_name(docker_compose, generated_env, tmp_path):
    env = {k: v for k, v in generated_env.items() if k != "AIRFLOW_JWT_SECRET"}
    result = _config(docker_compose, _project(tmp_path, env))
    assert result.returncode != 0
    assert "set AIRFLOW_JWT_SECRET in .env" in result.stderr


def test_no_secret_is_committed():
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert set(SECRET_KEYS) <= set(example)
    assert all(example[key] == "" for key in SECRET_KEYS)
    assert all(example[k] == "" for k in example if k.startswith("AIRFLOW_CONN_"))
    compose_text = (ROOT / "docker-compose.yaml").read_text()
    assert not re.search(r"(PASSWORD|SECRET|FERNET_KEY)\w*: (?!\$\{)", compose_text)
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert {".env", "/secrets/"} <= set(ignored)


def test_the_images_install_the_pinned_requirements():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ARG AIRFLOW_BASE_IMAGE=apache/airflow:3.3.2-python3.11\nFROM ${AIRFLOW_BASE_IMAGE}" in (
        dockerfile
    )
    local = (ROOT / "docker" / "local" / "airflow.Dockerfile").read_text()
    for text in (dockerfile, local):
        assert re.search(r"pip-install -r \S*requirements\.txt -c \S*constraints\.txt", text)
    requirements = (ROOT / "requirements.txt").read_text()
    for provider in ("celery", "postgres", "fab"):
        assert f"apache-airflow-providers-{provider}==" in requirements
