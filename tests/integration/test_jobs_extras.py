"""Jobs beyond the contract (issue 9): cancel, rerun, idempotent submit, tags and filters,
through real HTTP against the app served by uvicorn, on both stacks, with the stub server
of `benchmarks/stub_server.py` standing in for the worker-facing API and Mailjet."""

import asyncio
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

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
    assert (await http.post(f"/jobs/{job['id']}/cancel", headers=alice)).status_code == 200


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


# 4. Tags and filters


async def ids(http: httpx.AsyncClient, headers: dict[str, str], query: str) -> list[int]:
    response = await http.get(f"/jobs?{query}", headers=headers)
    assert response.status_code == 200, (query, response.text)
    return [job["id"] for job in response.json()]


async def test_tags_are_stored_returned_and_copied_by_a_rerun(
    http: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    tags = {"experiment": "E-17", "sample.id": "tubulin: 3 nM", "x": ""}
    job = await submit(http, alice, tags=tags)
    assert job["tags"] == tags
    assert (await http.get(f"/jobs/{job['id']}", headers=alice)).json()["tags"] == tags
    [listed] = (await http.get("/jobs", headers=alice)).json()
    assert listed["tags"] == tags
    plain = await submit(http, alice, job_name="plain", tags=None)
    assert plain["tags"] == {}
    rerun = (await http.post(f"/jobs/{job['id']}/rerun", headers=alice)).json()
    assert rerun["tags"] == tags


@pytest.mark.parametrize(
    ("tags", "fragment"),
    [
        ({f"k{n}": "v" for n in range(21)}, "up to 20"),
        ({"": "v"}, "key ''"),
        ({"a b": "v"}, "key 'a b'"),
        ({"k" * 65: "v"}, "1 to 64"),
        ({"k": "v" * 257}, "up to 256"),
        ({"k": "line\nbreak"}, "control characters"),
        ({"k": 3}, "tags"),
        (["k"], "tags"),
    ],
)
async def test_bad_tags_are_400_and_named(
    http: httpx.AsyncClient, alice: dict[str, str], tags: object, fragment: str
) -> None:
    response = await http.post("/jobs", json=job_body(inputs=False, tags=tags), headers=alice)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["detail"]


async def test_a_listed_job_is_the_job_as_its_own_route_answers_it(
    http: httpx.AsyncClient, live: Live, alice: dict[str, str]
) -> None:
    """The list sends each job's stored document: the same JSON as `GET /jobs/{id}`,
    after submit, status updates, a cancel, in both the unfiltered and a filtered list."""
    tagged = await submit(http, alice, job_name="tagged", tags={"exp": "A"}, priority=3)
    running = await submit(http, alice, job_name="running")
    canceled = await submit(http, alice, job_name="canceled", tags=None)
    for status in ("pulled", "running"):
        assert await asyncio.to_thread(worker_reports, live, running["id"], status) == 200
    assert (await http.post(f"/jobs/{canceled['id']}/cancel", headers=alice)).status_code == 200
    for query in ("", "?q=", "?limit=2", "?status=running&status=canceled&status=queued"):
        listed = (await http.get(f"/jobs{query}", headers=alice)).json()
        assert listed
        for job in listed:
            assert job == (await http.get(f"/jobs/{job['id']}", headers=alice)).json(), query
    every = {job["id"] for job in (await http.get("/jobs", headers=alice)).json()}
    assert every == {tagged["id"], running["id"], canceled["id"]}


async def test_list_filters_combine(
    http: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    a = await submit(http, alice, job_name="scan_1", tags={"exp": "A", "run": "1"})
    b = await submit(http, alice, job_name="scan%2", tags={"exp": "A", "run": "2"})
    c = await submit(http, alice, job_name="Scan-3", tags={"exp": "B"})
    await submit(http, bob, job_name="scan_1", tags={"exp": "A"})
    for job_id, status in ((a["id"], "running"), (b["id"], "finished")):
        update = {"job_id": job_id, "status": status}
        assert (await http.put("/_job_status", json=update, headers=KEY)).status_code == 200
    assert await ids(http, alice, "status=running&status=finished") == [b["id"], a["id"]]
    assert await ids(http, alice, "status=queued") == [c["id"]]
    assert await ids(http, alice, "tag=exp:A") == [b["id"], a["id"]]
    assert await ids(http, alice, "tag=exp:A&tag=run:1") == [a["id"]]
    assert await ids(http, alice, "tag=exp:A&tag=run:3") == []
    # (The test registry has one application and version.)
    assert await ids(http, alice, "application=decode&version=v1") == [c["id"], b["id"], a["id"]]
    assert await ids(http, alice, "application=other") == []
    assert await ids(http, alice, "version=v2") == []
    # A prefix, case-sensitive, with LIKE's wildcards as plain characters.
    assert await ids(http, alice, "q=scan") == [b["id"], a["id"]]
    assert await ids(http, alice, "q=scan_") == [a["id"]]
    assert await ids(http, alice, "q=scan%25") == [b["id"]]
    assert await ids(http, alice, "q=Scan") == [c["id"]]
    assert await ids(http, alice, "q=s%2A") == []
    created = [job["date_created"] for job in (a, b, c)]
    after = quote(created[1])
    assert await ids(http, alice, f"created_after={after}") == [c["id"]]
    assert await ids(http, alice, f"created_before={after}") == [a["id"]]
    assert await ids(http, alice, "created_after=2000-01-01&created_before=2000-01-02") == []
    naive = created[1].replace("+00:00", "")
    assert await ids(http, alice, f"created_after={quote(naive)}&q=scan") == []
    assert await ids(http, alice, "status=queued&tag=exp:B&q=Sc&application=decode") == [c["id"]]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        # Each repeated value is checked, and the message lists the states.
        ("status=queued&status=paused", "status must be one of queued, pulled, pre"),
        ("tag=novalue", "tag"),
        ("tag=bad%20key:v", "tag"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2026-13-01", "created_before"),
        ("q=" + "x" * 256, "q"),
        ("cursor=%21%21", "cursor"),
        ("cursor=bm90IGpzb24", "cursor"),
        ("cursor=WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwxXQ", "cursor"),
        ("offset=2&cursor=WyIyMDI2LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwxXQ", "cursor"),
    ],
)
async def test_bad_list_parameters_are_400_naming_them(
    http: httpx.AsyncClient, alice: dict[str, str], query: str, name: str
) -> None:
    response = await http.get(f"/jobs?{query}", headers=alice)
    assert response.status_code == 400, (query, response.text)
    assert name in response.json()["detail"], response.json()["detail"]
    if name.startswith("status"):
        assert "error, canceled, not 'paused'" in response.json()["detail"]


async def test_cursor_pages_are_stable_while_jobs_are_added(
    http: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    made = [(await submit(http, alice, job_name=f"job-{n}"))["id"] for n in range(5)]
    first = await http.get("/jobs?limit=2&q=job-", headers=alice)
    assert [job["id"] for job in first.json()] == made[:2:-1]
    cursor = first.headers["x-next-cursor"]
    link = first.headers["link"]
    assert link.startswith("</jobs?")
    assert link.endswith('>; rel="next"')
    url = link[1 : link.index(">")]
    assert parse_qs(urlsplit(url).query) == {"limit": ["2"], "q": ["job-"], "cursor": [cursor]}
    await submit(http, alice, job_name="job-new")  # would shift an offset page by one
    second = await http.get(url, headers=alice)
    assert [job["id"] for job in second.json()] == [made[2], made[1]]
    last = await http.get(
        f"/jobs?limit=2&q=job-&cursor={second.headers['x-next-cursor']}", headers=alice
    )
    assert [job["id"] for job in last.json()] == [made[0]]
    assert "x-next-cursor" not in last.headers
    assert "link" not in last.headers
    # Offset paging is unchanged, and says where the next page starts too.
    by_offset = await http.get("/jobs?limit=2&offset=1", headers=alice)
    assert by_offset.headers["x-next-cursor"]


async def test_cors_exposes_the_paging_headers(
    http: httpx.AsyncClient, alice: dict[str, str], stack: str
) -> None:
    if stack != "embedded":
        pytest.skip("the embedded stack allows the frontend's development server")
    await submit(http, alice)
    await submit(http, alice, job_name="two")
    origin = {"Origin": "http://localhost:8080"}
    response = await http.get("/jobs?limit=1", headers={**alice, **origin})
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "x-next-cursor" in exposed
    assert "link" in exposed
    files = await http.get("/files/", headers={**alice, **origin})
    assert "x-next-cursor" in files.headers["access-control-expose-headers"].lower()
