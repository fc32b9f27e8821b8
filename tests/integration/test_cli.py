import os
import socket
import statistics
import time
from pathlib import Path

import httpx
import pytest

from benchmarks.live_server import running_server
from decode_userapi.entrypoints.cli import main


def test_dot_env_reaches_the_settings_and_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "DECODE_TEST_FROM_DOT_ENV"):
        monkeypatch.setenv(name, "")  # recorded, so the test's .env leaves nothing behind
        monkeypatch.delenv(name)
    (tmp_path / ".env").write_text(
        "DATABASE_URL=sqlite:///./from-dot-env.db\nDECODE_TEST_FROM_DOT_ENV=seen\n"
    )

    main(["migrate"])

    assert (tmp_path / "from-dot-env.db").is_file()
    assert os.environ["DECODE_TEST_FROM_DOT_ENV"] == "seen"


def test_a_bad_setting_stops_with_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FILESYSTEM", "s3")
    monkeypatch.delenv("S3_BUCKET", raising=False)

    with pytest.raises(SystemExit) as stopped:
        main(["migrate"])

    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "S3_BUCKET" in error


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.startswith("decode-userapi ")


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_an_unreachable_database_is_one_line_and_exit_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("DATABASE_URL", f"postgresql://app:db-secret-1@127.0.0.1:{port}/app")
    monkeypatch.setenv("LOG_LEVEL", "warning")

    with pytest.raises(SystemExit) as stopped:
        main([command])

    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert f"127.0.0.1:{port}" in error
    assert "db-secret-1" not in error


def test_serve_with_workers_answers_keep_alive_requests_without_a_nagle_delay(
    tmp_path: Path,
) -> None:
    """With asyncio's loop, uvicorn's `--workers` connections lose TCP_NODELAY and each
    keep-alive request after the first waits ~40 ms for the client's delayed ACK."""
    with (
        running_server(tmp_path, serve_args=("--workers", "2")) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        seconds = []
        for _ in range(15):
            started = time.perf_counter()
            assert client.get("/").status_code == 200
            seconds.append(time.perf_counter() - started)

    assert statistics.median(seconds) < 0.02, seconds
