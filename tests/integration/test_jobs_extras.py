"""Jobs beyond the contract (issue 9): cancel, rerun, idempotent submit, tags and filters,
through real HTTP against the app served by uvicorn, on both stacks, with the stub server
of `benchmarks/stub_server.py` standing in for the worker-facing API and Mailjet."""

import asyncio
from typing import Any

import httpx
import pytest

from benchmarks.stub_server import Recorded, StubServer
from decode_userapi.entrypoints.container import Container
from tests.conftest import TEST_PASSWORD
from tests.integration import test_jobs_faults as faults
from tests.integration.test_jobs_api import KEY, eventually, job_body

worker_api = faults.worker_api
mailjet = faults.mailjet
registry = faults.registry
settings = faults.settings
live = faults.live
http = faults.http
alice = faults.alice

Live = faults.Live


@pytest.fixture
async def bob(live: Live, container: Container) -> dict[str, str]:
    await container.register_user()("bob@example.org", TEST_PASSWORD, ["users"])
    token = (await container.sign_in()("bob@example.org", TEST_PASSWORD)).id_token
    return {"Authorization": f"Bearer {token}"}


def worker_reports(live: Live, job_id: int, status: str) -> int:
    """What the worker-facing API does with a job's progress: `PUT /_job_status`.
    Blocking (it runs in the stub server's thread); answers the status code."""
    body = {"job_id": job_id, "status": status, "runtime_details": f"worker: {status}"}
    return httpx.put(f"{live.url}/_job_status", json=body, headers=KEY, timeout=30).status_code


async def submit(http: httpx.AsyncClient, headers: dict[str, str], **changes: Any) -> Any:
    response = await http.post("/jobs", json=job_body(inputs=False, **changes), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


# 1. Cancel


async def test_cancel_ends_the_job_and_the_workers_next_update_is_404(
    http: httpx.AsyncClient,
    live: Live,
    alice: dict[str, str],
    worker_api: StubServer,
    mailjet: StubServer,
) -> None:
    answers: list[int] = []

    def start_running(request: Recorded) -> None:
        answers.append(worker_reports(live, request.body["job"]["meta"]["job_id"], "running"))

    worker_api.before_answer = start_running
    job = await submit(http, alice)
    assert answers == [200]
    canceled = await http.post(f"/jobs/{job['id']}/cancel", headers=alice)
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["date_finished"] is not None
    # The worker's next update is refused as for an unknown job, and reopens nothing.
    for status in ("postprocessing", "finished", "queued"):
        assert await asyncio.to_thread(worker_reports, live, job["id"], status) == 404
    after = (await http.get(f"/jobs/{job['id']}", headers=alice)).json()
    assert after["status"] == "canceled"
    assert after["date_finished"] == canceled.json()["date_finished"]
    assert after["runtime_details"] == "worker: running"
    await eventually(lambda: len(mailjet.requests) == 1)
    subject = mailjet.requests[0].body["Messages"][0]["Subject"]
    assert subject == f"Job exp-1 (id={job['id']}) canceled"


async def test_canceling_a_final_job_is_409_naming_its_state(
    http: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    finished, twice = await submit(http, alice, job_name="done"), await submit(http, alice)
    update = {"job_id": finished["id"], "status": "finished"}
    assert (await http.put("/_job_status", json=update, headers=KEY)).status_code == 200
    refused = await http.post(f"/jobs/{finished['id']}/cancel", headers=alice)
    assert refused.status_code == 409
    assert "finished" in refused.json()["detail"]
    assert (await http.post(f"/jobs/{twice['id']}/cancel", headers=alice)).status_code == 200
    again = await http.post(f"/jobs/{twice['id']}/cancel", headers=alice)
    assert again.status_code == 409
    assert "canceled" in again.json()["detail"]


async def test_cancel_of_someone_elses_or_a_missing_job_is_404(
    http: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    job = await submit(http, alice)
    assert (await http.post(f"/jobs/{job['id']}/cancel", headers=bob)).status_code == 404
    assert (await http.post("/jobs/424242/cancel", headers=alice)).status_code == 404
    assert (await http.get(f"/jobs/{job['id']}", headers=alice)).json()["status"] == "queued"


async def test_deleting_a_running_job_cancels_it_first(
    http: httpx.AsyncClient, live: Live, alice: dict[str, str], mailjet: StubServer
) -> None:
    running, done = await submit(http, alice), await submit(http, alice, job_name="done")
    assert await asyncio.to_thread(worker_reports, live, running["id"], "running") == 200
    assert await asyncio.to_thread(worker_reports, live, done["id"], "finished") == 200
    await eventually(lambda: len(mailjet.requests) == 1)
    for job in (running, done):
        assert (await http.delete(f"/jobs/{job['id']}", headers=alice)).status_code == 204
    await eventually(lambda: len(mailjet.requests) == 2)
    await asyncio.sleep(0.2)
    subjects = [request.body["Messages"][0]["Subject"] for request in mailjet.requests]
    assert subjects == [
        f"Job done (id={done['id']}) finished",
        f"Job exp-1 (id={running['id']}) canceled",
    ]
    assert await asyncio.to_thread(worker_reports, live, running["id"], "finished") == 404


# 2. Rerun


async def test_rerun_starts_a_new_job_enqueued_like_a_new_submission(
    http: httpx.AsyncClient, live: Live, alice: dict[str, str], worker_api: StubServer
) -> None:
    hardware = {"cpu_cores": 4, "memory": None, "gpu_model": "A100", "gpu_archi": None}
    original = await submit(http, alice, hardware=hardware | {"gpu_mem": None})
    assert await asyncio.to_thread(worker_reports, live, original["id"], "error") == 200
    first = await http.post(f"/jobs/{original['id']}/rerun", headers=alice)
    assert first.status_code == 201, first.text
    rerun = first.json()
    assert rerun["id"] != original["id"]
    assert (rerun["job_name"], rerun["status"], rerun["runtime_details"]) == (
        "exp-1-rerun-1",
        "queued",
        None,
    )
    for field in ("application", "attributes", "hardware", "environment", "priority"):
        assert rerun[field] == original[field], field
    # Enqueued exactly as a new submission of the same job: only the id, date and name differ.
    enqueued, again = worker_api.requests[0].body, worker_api.requests[1].body
    for sent, job in ((enqueued, original), (again, rerun)):
        assert sent["job"]["meta"].pop("job_id") == job["id"]
        sent["job"]["meta"].pop("date_created")
        sent["paths_upload"] = {
            kind: path.replace(job["job_name"], "<name>")
            for kind, path in sent["paths_upload"].items()
        }
    assert again == enqueued
    named = await http.post(
        f"/jobs/{original['id']}/rerun", json={"job_name": "mine", "priority": 5}, headers=alice
    )
    assert named.status_code == 201, named.text
    assert (named.json()["job_name"], named.json()["priority"]) == ("mine", 5)
    second = await http.post(f"/jobs/{original['id']}/rerun", json={}, headers=alice)
    assert second.json()["job_name"] == "exp-1-rerun-2"


async def test_rerun_refuses_like_a_submission_and_of_others_is_404(
    http: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str], worker_api: StubServer
) -> None:
    job = await submit(http, alice)
    assert (await http.post(f"/jobs/{job['id']}/rerun", headers=bob)).status_code == 404
    assert (await http.post("/jobs/424242/rerun", headers=alice)).status_code == 404
    taken = await http.post(f"/jobs/{job['id']}/rerun", json={"job_name": "exp-1"}, headers=alice)
    assert taken.status_code == 409
    bad = await http.post(f"/jobs/{job['id']}/rerun", json={"priority": 9}, headers=alice)
    assert bad.status_code == 400
    assert "priority" in bad.json()["detail"]
    worker_api.status = 500
    refused = await http.post(f"/jobs/{job['id']}/rerun", headers=alice)
    assert refused.status_code == 502
    assert [listed["id"] for listed in (await http.get("/jobs", headers=alice)).json()] == [
        job["id"]
    ]


# 3. Idempotent submit


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def test_a_retry_with_the_same_key_answers_the_first_job(
    http: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str], worker_api: StubServer
) -> None:
    body = job_body(inputs=False)
    first = await http.post("/jobs", json=body, headers=keyed(alice, "k-1"))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    # The same request, written another way (key order, a null left out), is the same.
    reordered = dict(reversed(list(body.items())))
    del reordered["hardware"]
    again = await http.post("/jobs", json=reordered, headers=keyed(alice, "k-1"))
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert len(worker_api.requests) == 1
    other = await http.post("/jobs", json=body | {"priority": 3}, headers=keyed(alice, "k-1"))
    assert other.status_code == 422
    assert "'k-1'" in other.json()["detail"]
    # Keys are per user: bob's k-1 is his own.
    bobs = await http.post("/jobs", json=body, headers=keyed(bob, "k-1"))
    assert bobs.status_code == 201, bobs.text
    assert "idempotent-replayed" not in bobs.headers
    # Deleting the job frees its key.
    assert (await http.delete(f"/jobs/{first.json()['id']}", headers=alice)).status_code == 204
    fresh = await http.post("/jobs", json=body, headers=keyed(alice, "k-1"))
    assert fresh.status_code == 201
    assert "idempotent-replayed" not in fresh.headers
    assert fresh.json()["id"] != first.json()["id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
async def test_a_bad_idempotency_key_is_400(
    http: httpx.AsyncClient, alice: dict[str, str], key: str
) -> None:
    headers = [
        *((name.encode(), value.encode()) for name, value in alice.items()),
        (b"Idempotency-Key", key.encode("utf-8")),
    ]
    response = await http.post("/jobs", json=job_body(inputs=False), headers=headers)
    assert response.status_code == 400, response.text
    assert "Idempotency-Key" in response.json()["detail"]
    assert (await http.get("/jobs", headers=alice)).json() == []


async def test_a_key_is_freed_with_a_job_that_was_not_queued(
    http: httpx.AsyncClient, alice: dict[str, str], worker_api: StubServer
) -> None:
    worker_api.status = 500
    refused = await http.post("/jobs", json=job_body(inputs=False), headers=keyed(alice, "k"))
    assert refused.status_code == 502
    worker_api.status = 200
    retried = await http.post("/jobs", json=job_body(inputs=False), headers=keyed(alice, "k"))
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers


async def test_concurrent_retries_of_one_key_make_exactly_one_job(
    http: httpx.AsyncClient, alice: dict[str, str], worker_api: StubServer
) -> None:
    body = job_body(inputs=False)
    answers = await asyncio.gather(
        *(http.post("/jobs", json=body, headers=keyed(alice, "burst")) for _ in range(20))
    )
    assert [answer.status_code for answer in answers] == [201] * 20, [
        answer.text for answer in answers if answer.status_code != 201
    ]
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert sum("idempotent-replayed" not in answer.headers for answer in answers) == 1
    assert len(worker_api.requests) == 1
    assert len((await http.get("/jobs", headers=alice)).json()) == 1


async def test_a_rerun_takes_an_idempotency_key_too(
    http: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    job = await submit(http, alice)
    url = f"/jobs/{job['id']}/rerun"
    first = await http.post(url, headers=keyed(alice, "r"))
    again = await http.post(url, headers=keyed(alice, "r"))
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] != job["id"]
    other = await http.post(url, json={"priority": 4}, headers=keyed(alice, "r"))
    assert other.status_code == 422
