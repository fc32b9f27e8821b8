"""Jobs as the original's clients send and read them (issue 12), on both stacks: the
frontend's form with its nulls, job names people type, re-queued jobs, timestamps."""

import copy
import unicodedata
from datetime import datetime
from typing import Any

import pytest
import yaml

from benchmarks.stub_server import StubServer
from decode_userapi.entrypoints.container import Container
from decode_userapi.entrypoints.settings import Settings
from tests.integration import test_jobs_api as jobs_api
from tests.integration.test_jobs_api import (
    Caller,
    Client,
    Registry,
    job_body,
    put_file,
    set_status,
    space_uri,
    start,
)
from tests.registry_examples import NO_HARDWARE, registry_document

# The job tests' fixtures: stand-ins for the worker-facing API and Mailjet, the registry.
worker_api, mailjet, registry = jobs_api.worker_api, jobs_api.mailjet, jobs_api.registry
settings, fast_retries, alice = jobs_api.settings, jobs_api.fast_retries, jobs_api.alice

FRONTEND_FORM = {
    "job_name": "Training 1",
    "environment": None,
    "priority": None,
    "application": {"application": "decode", "version": "v0_10_1", "entrypoint": "train"},
    "attributes": {
        "files_down": {"config_id": "new/", "data_ids": [], "artifact_ids": []},
        "env_vars": {},
    },
    "hardware": NO_HARDWARE,
}


async def test_the_frontends_job_form_is_accepted(
    client: Client,
    container: Container,
    registry: Registry,
    alice: Caller,
    worker_api: StubServer,
) -> None:
    document = registry_document()
    document["decode"]["v0_10_1"] = document["decode"]["v1"]
    registry.write(yaml.safe_dump(document))
    await put_file(container, alice, "config/new/param.yaml")
    response = await client.post("/jobs", json=FRONTEND_FORM, headers=alice.headers)
    assert response.status_code == 201, response.text
    stored = (await client.get(f"/jobs/{response.json()['id']}", headers=alice.headers)).json()
    for job in (response.json(), stored):
        assert job["priority"] == 0
        assert job["environment"] is None
        assert job["attributes"]["files_down"]["config_id"] == "new/"
        assert job["hardware"] == FRONTEND_FORM["hardware"]
    [sent] = worker_api.requests
    assert sent.body["priority"] == 0
    assert list(sent.body["job"]["handler"]["files_down"]) == ["config/param.yaml"]


def _without(body: dict[str, Any], *path: str) -> dict[str, Any]:
    """`body` with the field at `path` set to null."""
    changed: dict[str, Any] = copy.deepcopy(body)
    inner = changed
    for key in path[:-1]:
        inner = inner[key]
    inner[path[-1]] = None
    return changed


def _read(job: dict[str, Any], *path: str) -> Any:
    for key in path:
        job = job[key]
    return job


HARDWARE = {
    "cpu_cores": 4,
    "memory": 8000,
    "gpu_model": "A100",
    "gpu_archi": "ampere",
    "gpu_mem": 40,
}


@pytest.mark.parametrize(
    ("path", "default"),
    [
        (("environment",), None),
        (("priority",), 0),
        (("hardware",), None),
        (("hardware", "cpu_cores"), None),
        (("hardware", "memory"), None),
        (("hardware", "gpu_model"), None),
        (("hardware", "gpu_archi"), None),
        (("hardware", "gpu_mem"), None),
        (("attributes", "env_vars"), {}),
        (("attributes", "files_down", "config_id"), None),
        (("attributes", "files_down", "data_ids"), []),
        (("attributes", "files_down", "artifact_ids"), []),
    ],
    ids=lambda value: ".".join(value) if isinstance(value, tuple) else None,
)
async def test_null_means_the_default(
    client: Client,
    container: Container,
    alice: Caller,
    worker_api: StubServer,
    path: tuple[str, ...],
    default: Any,
) -> None:
    await put_file(container, alice, "config/exp1/param.yaml")
    await put_file(container, alice, "data/run/calib.mat")
    full = job_body(hardware=HARDWARE)
    response = await client.post("/jobs", json=_without(full, *path), headers=alice.headers)
    assert response.status_code == 201, response.text
    stored = (await client.get(f"/jobs/{response.json()['id']}", headers=alice.headers)).json()
    for job in (response.json(), stored):
        assert _read(job, *path) == default
        if path[0] == "hardware" and len(path) == 2:  # the other fields keep their value
            assert job["hardware"] == HARDWARE | {path[1]: None}
    assert len(worker_api.requests) == 1


ACCEPTED_NAMES = ["my job", "Messung März", ".hidden", "x" * 101, "x" * 255, "ü" * 127, "a..b"]


async def test_job_names_people_type_are_accepted(
    client: Client, settings: Settings, alice: Caller, worker_api: StubServer
) -> None:
    for name in ACCEPTED_NAMES:
        worker_api.requests.clear()
        response = await client.post(
            "/jobs", json=job_body(name, inputs=False), headers=alice.headers
        )
        assert response.status_code == 201, (name, response.text)
        job = (await client.get(f"/jobs/{response.json()['id']}", headers=alice.headers)).json()
        assert job["job_name"] == name
        assert job["paths_out"]["output"] == f"output/{name}"
        uploads = worker_api.requests[0].body["paths_upload"]
        assert uploads["log"] == f"{space_uri(settings, alice)}/log/{name}"


async def test_job_names_are_stored_in_nfc(client: Client, alice: Caller) -> None:
    decomposed = unicodedata.normalize("NFD", "Messung März")
    first = await client.post(
        "/jobs", json=job_body(decomposed, inputs=False), headers=alice.headers
    )
    assert first.status_code == 201, first.text
    assert first.json()["job_name"] == "Messung M\u00e4rz"
    again = await client.post(
        "/jobs", json=job_body("Messung M\u00e4rz", inputs=False), headers=alice.headers
    )
    assert again.status_code == 409


REFUSED_NAMES = [
    ("a/b", "job_name may not contain '/'"),
    ("a\\b", "job_name may not contain '/' or '\\'"),
    ("line\nbreak", "job_name may not contain control or format characters"),
    ("nul\x00", "job_name may not contain control or format characters"),
    ("..", "job_name may not be '.' or '..'"),
    ("x" * 256, "job_name is longer than 255 bytes"),
    ("ü" * 128, "job_name is longer than 255 bytes"),
    ("trailing.", "job_name may not start or end with a space or end with '.'"),
]


async def test_unsafe_job_names_are_400_naming_the_rule(
    client: Client, alice: Caller, worker_api: StubServer
) -> None:
    for name, rule in REFUSED_NAMES:
        response = await client.post(
            "/jobs", json=job_body(name, inputs=False), headers=alice.headers
        )
        assert response.status_code == 400, (name, response.text)
        assert rule in response.json()["detail"]
    assert worker_api.requests == []
    assert (await client.get("/jobs", headers=alice.headers)).json() == []


async def test_a_requeued_job_shows_queued_and_runs_again(
    client: Client, alice: Caller, worker_api: StubServer
) -> None:
    job = await start(client, alice)
    assert [request.path for request in worker_api.requests] == ["/_jobs"]

    async def current() -> dict[str, Any]:
        found: dict[str, Any] = (
            await client.get(f"/jobs/{job['id']}", headers=alice.headers)
        ).json()
        return found

    assert await set_status(client, job["id"], "pulled") == "pulled"
    first_start = (await current())["date_started"]
    assert await set_status(client, job["id"], "running", "on worker w") == "running"
    requeue = "timeout 1 (workers tried: w)"
    assert await set_status(client, job["id"], "queued", requeue) == "queued"
    retried = await current()
    assert (retried["status"], retried["date_started"]) == ("queued", first_start)
    assert retried["date_finished"] is None
    assert await set_status(client, job["id"], "pulled") == "pulled"
    assert await set_status(client, job["id"], "running", "on worker v") == "running"
    assert (await current())["status"] == "running"
    assert await set_status(client, job["id"], "finished") == "finished"
    done = await current()
    assert done["status"] == "finished"
    assert done["date_started"] == first_start
    assert done["date_finished"] is not None
    assert done["runtime_details"] == f"on worker w\n{requeue}\non worker v"
    # Final stays final.
    assert await set_status(client, job["id"], "queued", "late re-queue") == "finished"
    assert (await current())["status"] == "finished"


async def test_timestamps_carry_an_explicit_utc_offset(client: Client, alice: Caller) -> None:
    job = await start(client, alice)
    await set_status(client, job["id"], "running")
    await set_status(client, job["id"], "finished")
    for shown in (
        (await client.get(f"/jobs/{job['id']}", headers=alice.headers)).json(),
        (await client.get("/jobs", headers=alice.headers)).json()[0],
    ):
        for field in ("date_created", "date_started", "date_finished"):
            assert shown[field].endswith("+00:00"), shown[field]
            assert datetime.fromisoformat(shown[field]).utcoffset() is not None
    assert job["date_created"].endswith("+00:00")
