"""docker-compose.yml and the Dockerfile, checked without a Docker engine (there is none
where the tests run): parsed, cross-checked against each other and against the settings
the service reads, and the worker-facing stand-in run for real."""

import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from decode_userapi.entrypoints.settings import VARIABLES, load_settings

ROOT = Path(__file__).resolve().parents[2]
READ_BY_OTHERS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PATH", "PYTHONUNBUFFERED"}
"""Variables read by boto3/obstore (the AWS chain) or by the image itself."""


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return document


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of the final stage, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    instructions = [tuple(line.split(maxsplit=1)) for line in lines if line and line[0] != "#"]
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return [(name, rest) for name, rest in instructions[last_from:]]


def test_compose_services_wait_for_healthy_dependencies() -> None:
    services = _compose()["services"]
    assert {"api", "postgres", "minio", "minio-bucket", "workerfacing"} <= services.keys()
    for name in ("postgres", "minio", "workerfacing"):
        assert services[name]["healthcheck"]["test"], name
    waits = services["api"]["depends_on"]
    assert waits["postgres"]["condition"] == "service_healthy"
    assert waits["minio-bucket"]["condition"] == "service_completed_successfully"
    assert waits["workerfacing"]["condition"] == "service_healthy"
    assert any(volume.endswith(":/data") for volume in services["api"]["volumes"])


def test_compose_api_settings_are_real_and_point_at_the_services() -> None:
    compose = _compose()
    services = compose["services"]
    environment = {key: str(value) for key, value in services["api"]["environment"].items()}
    unknown = environment.keys() - VARIABLES - READ_BY_OTHERS
    assert not unknown, f"not read by the service: {unknown}"

    settings = load_settings(environment, env_file=None)
    assert settings.filesystem == "s3"
    assert settings.workers == 2
    assert urlsplit(settings.database_url).hostname == "postgres"
    postgres = services["postgres"]["environment"]
    assert environment["DATABASE_SECRET"] == postgres["POSTGRES_PASSWORD"]
    assert settings.database_url.endswith(f"/{postgres['POSTGRES_DB']}")
    assert urlsplit(settings.s3_endpoint_url or "").hostname == "minio"
    minio = services["minio"]["environment"]
    assert environment["AWS_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]
    assert f"local/{settings.s3_bucket}" in " ".join(services["minio-bucket"]["entrypoint"])
    assert urlsplit(settings.workerfacing_api_url).hostname == "workerfacing"
    stand_in = services["workerfacing"]["environment"]
    assert stand_in["INTERNAL_API_KEY_SECRET"] == settings.internal_api_key


def test_dockerfile_ships_the_registry_a_data_volume_and_a_healthcheck() -> None:
    final = _dockerfile()
    names = [name for name, _ in final]
    assert "HEALTHCHECK" in names
    assert "/health/live" in dict(final)["HEALTHCHECK"]
    assert dict(final)["VOLUME"] == "/data"
    assert dict(final)["USER"] != "root"
    env = dict(re.findall(r"([A-Z0-9_]+)=(\S+)", dict(final)["ENV"]))
    assert env.keys() - VARIABLES - READ_BY_OTHERS == set()
    copied = [rest.split() for name, rest in final if name == "COPY"]
    assert ["application_config.yaml", env["APPLICATION_CONFIG_FILE"]] in copied
    for key in ("DATABASE_URL", "USER_DATA_ROOT_PATH", "LOCAL_IDENTITY_KEY_PATH"):
        assert "/data/" in env[key], key
    assert dict(final)["CMD"] == '["decode-userapi", "serve"]'  # WORKERS/WEB_CONCURRENCY


def test_the_worker_facing_stand_in_accepts_jobs(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = ROOT / "deploy" / "workerfacing_standin.py"
    process = subprocess.Popen(
        [sys.executable, str(script), str(port)],
        env={"INTERNAL_API_KEY_SECRET": "k"},
        stdout=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                assert httpx.get(f"{url}/health").status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        output = tmp_path / "user" / "output" / "run-1"
        job = {"job": {"meta": {"job_id": 1}}, "paths_upload": {"output": str(output)}}
        assert httpx.post(f"{url}/_jobs", json=job).status_code == 401
        assert httpx.post(f"{url}/_jobs", json=job, headers={"x-api-key": "k"}).status_code == 200
    finally:
        process.terminate()
        printed, _ = process.communicate(timeout=10)
    assert b'"job_id": 1' in printed
    assert (output / "stand-in.txt").read_text() == "Job 1 queued.\n"
