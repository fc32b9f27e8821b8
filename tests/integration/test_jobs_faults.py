"""Fault tests against the app served for real: a worker-facing API that is slow, calls
back early, refuses or answers too late, and a database restarted mid-run.

The worker-facing API is the stub server of `benchmarks/stub_server.py`, made slow with `delay`
and made to report each job `pulled` (a real `PUT /_job_status` to the app) before it
answers the enqueue call, as a fast worker does.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from dependency_injector import providers

from benchmarks.stub_server import Recorded, StubServer
from decode_userapi.adapters.worker_gateway.http import HttpWorkerGateway
from decode_userapi.entrypoints.container import Container, build_container
from decode_userapi.entrypoints.settings import Settings
from tests.conftest import TEST_PASSWORD
from tests.integration import test_jobs_api as jobs_api
from tests.integration.live_app import serve_in_thread
from tests.integration.test_jobs_api import KEY, eventually, job_body
from tests.servers.postgres import PostgresServer

# The jobs suite's stand-ins for the worker-facing API, Mailjet and the registry.
worker_api = jobs_api.worker_api
mailjet = jobs_api.mailjet
registry = jobs_api.registry
settings = jobs_api.settings

PARALLEL = 20
WORKER_DELAY = 3.0


class Live:
    def __init__(self, url: str, container: Container) -> None:
        self.url = url
        self.container = container
        """The server's own container (its providers may be overridden)."""


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    server_container = build_container(settings)
    with serve_in_thread(server_container) as url:
        yield Live(url, server_container)


@pytest.fixture
async def http(live: Live) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.url, timeout=60) as client:
        yield client


@pytest.fixture
async def alice(live: Live, container: Container) -> dict[str, str]:
    """Headers of a confirmed user, signed in through the stack's identity provider."""
    email = "alice@example.org"
    await container.register_user()(email, TEST_PASSWORD, ["users"])
    token = (await container.sign_in()(email, TEST_PASSWORD)).id_token
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def early_pulled(live: Live, worker_api: StubServer) -> Iterator[list[int]]:
    """Makes the worker report each job `pulled` before answering its enqueue call;
    the list receives the status code the app gave each of those reports."""
    answers: list[int] = []

    def report_pulled(request: Recorded) -> None:
        job_id = request.body["job"]["meta"]["job_id"]
        body = {"job_id": job_id, "status": "pulled", "runtime_details": "pulled early"}
        answer = httpx.put(f"{live.url}/_job_status", json=body, headers=KEY, timeout=30)
        answers.append(answer.status_code)

    worker_api.before_answer = report_pulled
    yield answers
    worker_api.before_answer = None


async def test_a_slow_worker_api_blocks_neither_submissions_nor_other_routes(
    http: httpx.AsyncClient,
    alice: dict[str, str],
    worker_api: StubServer,
    early_pulled: list[int],
) -> None:
    worker_api.delay = WORKER_DELAY
    submissions = asyncio.gather(
        *(
            http.post("/jobs", json=job_body(f"job-{n}", inputs=False), headers=alice)
            for n in range(PARALLEL)
        )
    )
    # No transaction is open during an enqueue call, so the calls overlap in time.
    # Were enqueue calls made one after the other, that would take PARALLEL * WORKER_DELAY seconds.
    await eventually(lambda: len(worker_api.requests) == PARALLEL, seconds=PARALLEL)
    started = time.monotonic()
    listed = await http.get("/jobs", headers=alice)
    elapsed = time.monotonic() - started
    assert listed.status_code == 200, listed.text
    assert elapsed < WORKER_DELAY, f"GET /jobs took {elapsed:.1f} s during slow enqueues"
    # A job whose enqueue call is still in flight is listed like any other.
    assert len(listed.json()) == PARALLEL
    answers = await submissions
    assert [answer.status_code for answer in answers] == [201] * PARALLEL, [
        answer.text for answer in answers if answer.status_code != 201
    ]
    assert early_pulled == [200] * PARALLEL
    for answer in answers:
        job = (await http.get(f"/jobs/{answer.json()['id']}", headers=alice)).json()
        assert job["status"] == "pulled"
        assert job["date_started"] is not None
        assert job["runtime_details"] == "pulled early"


async def test_a_refusal_after_an_early_report_still_keeps_no_job(
    http: httpx.AsyncClient, alice: dict[str, str], worker_api: StubServer, early_pulled: list[int]
) -> None:
    worker_api.status, worker_api.answer = 500, {"detail": "queue is full"}
    response = await http.post("/jobs", json=job_body(inputs=False), headers=alice)
    assert response.status_code == 502, response.text
    assert early_pulled == [200]
    assert (await http.get("/jobs", headers=alice)).json() == []
    worker_api.status = 200
    again = await http.post("/jobs", json=job_body(inputs=False), headers=alice)
    assert again.status_code == 201, again.text


async def test_a_worker_api_that_answers_too_late_keeps_no_job(
    http: httpx.AsyncClient, live: Live, alice: dict[str, str], worker_api: StubServer
) -> None:
    live.container.worker_gateway.override(
        providers.Singleton(HttpWorkerGateway, worker_api.url, "internal-test-key", timeout=0.5)
    )
    worker_api.delay = 1.5
    response = await http.post("/jobs", json=job_body(inputs=False), headers=alice)
    assert response.status_code == 503, response.text
    assert "not queued" in response.json()["detail"]
    assert (await http.get("/jobs", headers=alice)).json() == []
    worker_api.delay = 0.0
    again = await http.post("/jobs", json=job_body(inputs=False), headers=alice)
    assert again.status_code == 201, again.text


async def test_a_database_restart_gives_503_meanwhile_and_heals(
    http: httpx.AsyncClient, alice: dict[str, str], stack: str, request: pytest.FixtureRequest
) -> None:
    if stack != "production":
        pytest.skip("restarts the PostgreSQL server")
    postgres: PostgresServer = request.getfixturevalue("postgres_server")
    job = (await http.post("/jobs", json=job_body(inputs=False), headers=alice)).json()
    update = {"job_id": job["id"], "status": "running"}
    restart = asyncio.ensure_future(asyncio.to_thread(postgres.restart))
    during: list[httpx.Response] = []
    while not restart.done():
        during.append(await http.get(f"/jobs/{job['id']}", headers=alice))
        during.append(await http.put("/_job_status", json=update, headers=KEY))
    await restart
    codes = {answer.status_code for answer in during}
    assert codes <= {200, 503}, [answer.text for answer in during if answer.status_code != 200]
    assert 503 in codes, "no request reached the database while it was down"
    for answer in during:
        if answer.status_code == 503:
            assert "try again" in answer.json()["detail"]
    after = await http.get(f"/jobs/{job['id']}", headers=alice)
    assert after.status_code == 200, after.text
    assert (await http.put("/_job_status", json=update, headers=KEY)).status_code == 200
