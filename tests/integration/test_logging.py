"""One log pipeline: JSON lines from every logger of a real server, a request id on each
line of a request, access lines with duration and user, and no secret in any line."""

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.live_server import running_server
from decode_userapi.entrypoints.logs import configure_logging

PASSWORD = "Live-server-2026"  # benchmarks.live_server signs its user up with it


def _lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


def test_a_real_server_logs_json_lines_with_request_ids(tmp_path: Path) -> None:
    with running_server(tmp_path, LOG_FORMAT="json", LOG_LEVEL="DEBUG") as server:
        token = server.headers["Authorization"].removeprefix("Bearer ")
        listed = httpx.get(
            f"{server.url}/jobs", headers={**server.headers, "X-Request-ID": "trace-42"}
        )
        refused = httpx.put(f"{server.url}/_job_status", json={})  # logs an error line
    assert listed.headers["x-request-id"] == "trace-42"
    assert refused.status_code == 401

    text = (tmp_path / "server.log").read_text()
    assert token not in text
    assert token.split(".")[2] not in text  # not even the signature alone
    assert PASSWORD not in text
    lines = _lines(tmp_path / "server.log")  # every line is JSON, uvicorn's included
    assert {"uvicorn.error", "decode_userapi"} <= {line["logger"] for line in lines}
    start = next(line for line in lines if line["logger"] == "decode_userapi")
    assert start["storage"].startswith("local:")
    assert "registry" in start

    access = [line for line in lines if line["logger"] == "decode_userapi.access"]
    traced = next(line for line in access if line["request_id"] == "trace-42")
    assert traced["method"] == "GET"
    assert traced["path"] == "/jobs"
    assert traced["status"] == 200
    assert traced["duration_ms"] > 0
    assert traced["user_id"]

    refusal = next(line for line in access if line["path"] == "/_job_status")
    same_request = [line for line in lines if line.get("request_id") == refusal["request_id"]]
    assert {line["level"] for line in same_request} == {"error", "info"}
    assert len({line["request_id"] for line in access}) == len(access)


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        configure_logging("INFO", "json", secrets=["internal-key-value"])
        handler = root.handlers[0]
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def test_secrets_are_masked_whatever_logs_them(captured: io.StringIO) -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    log = logging.getLogger("anything")
    log.info("headers %s", {"authorization": "Bearer opaque-token-1"})
    log.info("AUTHORIZATION: BEARER shouty-token-2")
    log.warning("token %s", jwt)
    log.info("form username=a@b.org&password=Hunter-22x")
    log.error("cannot reach postgresql://postgres:pg-secret@db:5432/app")
    log.info("key %s", "internal-key-value")
    text = captured.getvalue()
    for secret in [
        "opaque-token-1",
        "shouty-token-2",
        jwt,
        "c2lnbmF0dXJl",
        "Hunter-22x",
        "pg-secret",
    ]:
        assert secret not in text
    assert "internal-key-value" not in text
    assert "postgresql://postgres:***@db:5432/app" in text
    assert len(text.splitlines()) == 6
