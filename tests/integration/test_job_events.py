"""Live job events (`GET /jobs/events`, `GET /jobs/{id}/events`) and log follow
(`GET /jobs/{id}/log?follow=true`), read over real sockets from the app served by uvicorn."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
import yaml

from benchmarks.live_server import running_server
from benchmarks.stub_server import StubServer
from decode_userapi.entrypoints.container import Container, build_container
from decode_userapi.entrypoints.settings import Settings
from tests.conftest import TEST_PASSWORD
from tests.integration import test_jobs_api as jobs_api
from tests.integration.live_app import serve_in_thread
from tests.integration.sse_client import Sse, SseReader
from tests.integration.test_jobs_api import KEY, Caller, Registry, job_body, put_file
from tests.registry_examples import registry_document

worker_api = jobs_api.worker_api
registry = jobs_api.registry

KEEPALIVE = 0.3


@pytest.fixture
def settings(settings: Settings, worker_api: StubServer, registry: Registry) -> Settings:
    return msgspec.structs.replace(
        settings,
        application_config_file=registry.location,
        workerfacing_api_url=worker_api.url,
        sse_keepalive_seconds=KEEPALIVE,
        job_log_poll_seconds=0.1,
    )


@pytest.fixture
def live(settings: Settings) -> Iterator[str]:
    with serve_in_thread(build_container(settings)) as url:
        yield url


@pytest.fixture
async def http(live: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live, timeout=10) as client:
        yield client


async def token_of(container: Container, name: str) -> str:
    email = f"{name}@example.org"
    await container.register_user()(email, TEST_PASSWORD, ["users"])
    issued = await container.account_directory().issue_token(email, TEST_PASSWORD)
    token: str = issued.id_token
    return token


@pytest.fixture
async def alice(live: str, container: Container) -> str:
    """Alice's ID token (after the live server applied the migrations)."""
    return await token_of(container, "alice")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def submit(http: httpx.AsyncClient, token: str, name: str) -> dict[str, object]:
    response = await http.post("/jobs", json=job_body(name, inputs=False), headers=bearer(token))
    assert response.status_code == 201, response.text
    job: dict[str, object] = response.json()
    return job


async def report(
    http: httpx.AsyncClient, job_id: object, status: str, details: str | None = None
) -> None:
    body = {"job_id": job_id, "status": status, "runtime_details": details}
    response = await http.put("/_job_status", json=body, headers=KEY)
    assert response.status_code == 200, response.text


async def open_stream(
    http: httpx.AsyncClient, url: str, headers: dict[str, str]
) -> tuple[httpx.Response, SseReader]:
    response = await http.send(http.build_request("GET", url, headers=headers), stream=True)
    assert response.status_code == 200, (await response.aread()).decode()
    assert response.headers["content-type"].startswith("text/event-stream")
    reader = SseReader(response)
    first = await reader.next()
    assert first == Sse(retry=3000), first
    return response, reader


async def expect_keepalive(reader: SseReader, why: str = "") -> None:
    assert await reader.next() == Sse(comments=["keep-alive"]), why


async def events(reader: SseReader, count: int) -> list[Sse]:
    read: list[Sse] = []
    for _ in range(count):
        event = await reader.next_event()
        assert event is not None, f"the stream ended after {read}"
        read.append(event)
    return read


async def test_stream_of_all_jobs_sends_changes_live_and_resumes_without_loss_or_repeat(
    http: httpx.AsyncClient, alice: str
) -> None:
    async with asyncio.timeout(30):
        job = await submit(http, alice, "watched")
        await report(http, job["id"], "running", "step 1")
        await report(http, job["id"], "running", "step 2")
        await report(http, job["id"], "running")  # changes nothing: no event

        response, reader = await open_stream(http, "/jobs/events", bearer(alice))
        created, running, details = await events(reader, 3)
        assert (created.event, running.event, details.event) == (
            "created",
            "status",
            "runtime_details",
        )
        assert created.json()["id"] == job["id"]
        assert created.json()["status"] == "queued"
        assert created.json()["paths_out"] == job["paths_out"]
        assert running.json()["status"] == "running"
        assert running.json()["runtime_details"] == "step 1"
        assert details.json() == {"id": job["id"], "status": "running", "appended": "step 2"}
        assert int(created.id or 0) < int(running.id or 0) < int(details.id or 0)
        await expect_keepalive(reader)

        await report(http, job["id"], "finished")  # arrives on the open stream
        (finished,) = await events(reader, 1)
        assert finished.event == "status"
        assert finished.json()["status"] == "finished"
        await expect_keepalive(reader, "the stream of all jobs stays open")
        await response.aclose()

        resumed, reader = await open_stream(
            http, "/jobs/events", {**bearer(alice), "Last-Event-ID": created.id or ""}
        )
        again = await events(reader, 3)
        assert [(e.id, e.event, e.data) for e in again] == [
            (e.id, e.event, e.data) for e in (running, details, finished)
        ]
        await expect_keepalive(reader, "nothing repeated")
        await resumed.aclose()

        by_query, reader = await open_stream(
            http, f"/jobs/events?last_event_id={details.id}", bearer(alice)
        )
        assert [e.id for e in await events(reader, 1)] == [finished.id]
        await by_query.aclose()


async def test_stream_of_one_job_ends_after_its_final_state(
    http: httpx.AsyncClient, alice: str
) -> None:
    async with asyncio.timeout(30):
        other = await submit(http, alice, "other")
        job = await submit(http, alice, "one")
        response, reader = await open_stream(http, f"/jobs/{job['id']}/events", bearer(alice))
        (created,) = await events(reader, 1)
        assert created.json()["id"] == job["id"]
        await report(http, other["id"], "running")  # another job: not on this stream
        await report(http, job["id"], "error", "out of memory")
        (ended,) = await events(reader, 1)
        assert ended.json()["status"] == "error"
        assert ended.json()["date_finished"] is not None
        assert await reader.next() is None, "the stream ends after the final state"
        await response.aclose()

        done = await http.get(
            f"/jobs/{job['id']}/events", headers={**bearer(alice), "Last-Event-ID": ended.id or ""}
        )
        assert done.status_code == 204, "a final job with no later event: EventSource stops"


async def test_event_streams_take_the_sign_in_cookie_and_refuse_strangers(
    http: httpx.AsyncClient, alice: str, container: Container
) -> None:
    async with asyncio.timeout(30):
        job = await submit(http, alice, "cookie")
        cookie = {"Cookie": f'Authorization="Bearer {alice}"'}  # as POST /login sets it
        for url in ("/jobs/events", f"/jobs/{job['id']}/events"):
            response, reader = await open_stream(http, url, cookie)
            (created,) = await events(reader, 1)
            assert created.json()["id"] == job["id"]
            await response.aclose()
        log = await http.get(f"/jobs/{job['id']}/log", headers=cookie)
        assert log.status_code == 200, log.text

        for url in ("/jobs/events", f"/jobs/{job['id']}/events", f"/jobs/{job['id']}/log"):
            assert (await http.get(url)).status_code == 401, url
        bob = await token_of(container, "bob")
        for url in (f"/jobs/{job['id']}/events", f"/jobs/{job['id']}/log?follow=true"):
            assert (await http.get(url, headers=bearer(bob))).status_code == 404, url
        bad = await http.get("/jobs/events", headers={**bearer(alice), "Last-Event-ID": "-1"})
        assert bad.status_code == 400
        assert bad.json()["detail"].startswith("Last-Event-ID must be a whole number")


async def test_log_follow_sends_what_the_worker_uploads_until_the_job_is_final(
    http: httpx.AsyncClient, alice: str, container: Container
) -> None:
    async with asyncio.timeout(30):
        job = await submit(http, alice, "logged")
        owner = Caller(bearer(alice), str(job["user_id"]))
        empty = await http.get(f"/jobs/{job['id']}/log", headers=bearer(alice))
        assert (empty.status_code, empty.text) == (200, ""), "no log uploaded yet"
        await put_file(container, owner, "log/logged/run.log", b"line 1\n")

        received = b""
        request = http.build_request(
            "GET", f"/jobs/{job['id']}/log?follow=true", headers=owner.headers
        )
        response = await http.send(request, stream=True)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        chunks = response.aiter_bytes()

        async def read_until(text: bytes) -> None:
            nonlocal received
            while text not in received:
                received += await anext(chunks)

        await read_until(b"line 1\n")
        await put_file(container, owner, "log/logged/run.log", b"line 1\nline 2\n")  # grew
        await read_until(b"line 2\n")
        await put_file(container, owner, "log/logged/z.log", b"other\n")
        await report(http, job["id"], "finished")
        async for chunk in chunks:  # ends once the job is final
            received += chunk
        assert received.decode() == (
            "==> log/logged/run.log <==\nline 1\nline 2\n\n==> log/logged/z.log <==\nother\n"
        )
        await response.aclose()

        once = await http.get(f"/jobs/{job['id']}/log", headers=bearer(alice))
        assert once.content == received


async def test_an_update_sent_to_one_server_process_reaches_a_stream_on_another(
    tmp_path: Path, postgres_url: str, worker_api: StubServer
) -> None:
    """Two `decode-userapi serve` processes on one PostgreSQL. The keep-alive is long, so
    the event can only arrive through LISTEN/NOTIFY, not through a periodic read. The
    stream also outlives the slow-client timeouts (1 s here) while it is silent, and
    counts against `LIVE_STREAMS_MAX` (1 here)."""
    (tmp_path / "application_config.yaml").write_text(yaml.safe_dump(registry_document()))
    env = {
        "DATABASE_URL": postgres_url,
        "USER_DATA_ROOT_PATH": str(tmp_path / "user_data"),
        "LOCAL_IDENTITY_KEY_PATH": str(tmp_path / "identity_key.pem"),  # one key for both
        "APPLICATION_CONFIG_FILE": str(tmp_path / "application_config.yaml"),
        "WORKERFACING_API_URL": worker_api.url,
        "INTERNAL_API_KEY_SECRET": KEY["x-api-key"],
        "SSE_KEEPALIVE_SECONDS": "60",
        "HTTP_HEADER_TIMEOUT_SECONDS": "1",
        "HTTP_BODY_IDLE_TIMEOUT_SECONDS": "1",
        "LIVE_STREAMS_MAX": "1",
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (
        running_server(tmp_path / "a", **env) as a,
        running_server(tmp_path / "b", **env) as b,
    ):
        async with (
            asyncio.timeout(20),
            httpx.AsyncClient(base_url=a.url, timeout=30) as to_a,
            httpx.AsyncClient(base_url=b.url, timeout=30) as from_b,
        ):
            response, reader = await open_stream(from_b, "/jobs/events", b.headers)
            second = await from_b.get("/jobs/events", headers=b.headers)
            assert second.status_code == 503, second.text
            assert second.headers["retry-after"] == "3"
            await asyncio.sleep(2.5)  # silent, past the slow-client timeouts
            posted = await to_a.post("/jobs", json=job_body("x", inputs=False), headers=a.headers)
            assert posted.status_code == 201, posted.text
            (created,) = await events(reader, 1)
            assert created.event == "created"
            assert created.json()["id"] == posted.json()["id"]
            await report(to_a, posted.json()["id"], "running", "on a worker")
            (running,) = await events(reader, 1)
            assert running.json()["status"] == "running"
            await response.aclose()


def test_a_stopping_server_closes_its_live_streams_and_exits(tmp_path: Path) -> None:
    """uvicorn waits for every response to complete before it exits; an event stream
    never completes, so without closing it one open browser tab would hold the process."""
    with running_server(tmp_path, SSE_KEEPALIVE_SECONDS="60") as server:
        with (
            httpx.Client(base_url=server.url, timeout=30) as client,
            client.stream("GET", "/jobs/events", headers=server.headers) as stream,
        ):
            lines = stream.iter_lines()
            assert next(lines) == "retry: 3000"
            started = time.monotonic()
            server.process.terminate()
            with pytest.raises(httpx.RemoteProtocolError):  # cut, not ended: it reconnects
                for _ in lines:
                    pass
        server.process.wait(timeout=15)
        assert time.monotonic() - started < 15
