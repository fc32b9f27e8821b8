"""Jobs through HTTP, against real servers standing in for the worker-facing API and Mailjet."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import msgspec
import pytest
import yaml
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import AsyncTestClient

from benchmarks.stub_server import StubServer, enqueue_problems
from decode_userapi.domain.files import FileRef
from decode_userapi.entrypoints.container import Container
from decode_userapi.entrypoints.settings import Settings
from tests.conftest import HeadersFor
from tests.registry_examples import NO_HARDWARE, queued_handler, registry_document
from tests.servers.moto import REGION

Client = AsyncTestClient[Litestar]
KEY = {"x-api-key": "internal-test-key"}


@pytest.fixture
def worker_api() -> Iterator[StubServer]:
    server = StubServer(validate=enqueue_problems).start()
    yield server
    server.stop()


@pytest.fixture
def mailjet() -> Iterator[StubServer]:
    server = StubServer().start()
    yield server
    server.stop()


class Registry:
    """The application registry document: a local file on the embedded stack, an object
    in the stack's bucket (`s3://…`) on the production stack."""

    def __init__(self, path: Path, s3: Any = None, bucket: str = "") -> None:
        self._s3, self._bucket = s3, bucket
        self._key = "registry/application_config.yaml"
        self.location = f"s3://{bucket}/{self._key}" if s3 else str(path)
        self._path = path

    def write(self, text: str) -> None:
        if self._s3 is None:
            self._path.write_text(text)
        else:
            self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=text.encode())


@pytest.fixture
def registry(stack: str, tmp_path: Path, request: pytest.FixtureRequest) -> Registry:
    path = tmp_path / "application_config.yaml"
    if stack == "production":
        endpoint = request.getfixturevalue("aws_endpoint")
        bucket = request.getfixturevalue("s3_bucket")  # the bucket of `production_settings`
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
        document = Registry(path, s3, bucket)
    else:
        document = Registry(path)
    document.write(yaml.safe_dump(registry_document()))
    return document


@pytest.fixture
def settings(
    settings: Settings, worker_api: StubServer, mailjet: StubServer, registry: Registry
) -> Settings:
    return with_stand_ins(settings, worker_api, mailjet, registry)


def with_stand_ins(
    settings: Settings, worker_api: StubServer, mailjet: StubServer, registry: Registry
) -> Settings:
    """The stack's settings with stand-ins for the worker-facing API and Mailjet."""
    return msgspec.structs.replace(
        settings,
        application_config_file=registry.location,
        workerfacing_api_url=worker_api.url,
        email_sender_service="mailjet",
        email_sender_address="noreply@example.org",
        email_sender_api_key="mj-key",
        email_sender_secret_key="mj-secret",
        mailjet_api_url=mailjet.url,
    )


@pytest.fixture(autouse=True)
def fast_retries(container: Container) -> None:
    container.registry_check_interval.override(providers.Object(0.0))
    container.notification_retry_delays.override(providers.Object((0.01, 0.01)))


class Caller:
    """A signed-in user with their id (read from a job, since ids are not names)."""

    def __init__(self, headers: dict[str, str], user_id: str) -> None:
        self.headers = headers
        self.id = user_id


async def sign_in(client: Client, headers_for: HeadersFor, name: str) -> Caller:
    headers = await headers_for(name)
    probe = await client.post(
        "/jobs", json=job_body(f"whoami-{name}", inputs=False), headers=headers
    )
    assert probe.status_code == 201, probe.text
    user_id = probe.json()["user_id"]
    assert (await client.delete(f"/jobs/{probe.json()['id']}", headers=headers)).status_code == 204
    return Caller(headers, user_id)


@pytest.fixture
async def alice(
    client: Client, headers_for: HeadersFor, worker_api: StubServer, mailjet: StubServer
) -> Caller:
    caller = await sign_in(client, headers_for, "alice")
    # Deleting the probe job canceled it, which emails its owner.
    await eventually(lambda: len(mailjet.requests) == 1)
    worker_api.requests.clear()
    mailjet.requests.clear()
    return caller


async def put_file(container: Container, owner: Caller, path: str, content: bytes = b"x") -> str:
    """Writes `content` at `path` in `owner`'s space; returns its storage URI."""

    async def chunks() -> AsyncIterator[bytes]:
        yield content

    storage = container.file_storage()
    ref = FileRef((owner.id, *FileRef.parse(path).parts))
    await storage.write(ref, chunks(), max_bytes=1_000_000)
    uri: str = storage.uri(ref)
    return uri


def space_uri(settings: Settings, owner: Caller) -> str:
    """Where `owner`'s files live: a folder on disk, or a key prefix in the bucket."""
    if settings.filesystem == "local":
        return str(Path(settings.user_data_root_path).absolute() / owner.id)
    return f"s3://{settings.s3_bucket}/{settings.user_data_root_path}/{owner.id}"


async def exists(container: Container, owner: Caller, path: str) -> bool:
    ref = FileRef((owner.id, *FileRef.parse(path).parts))
    return await container.file_storage().stat(ref) is not None


def job_body(name: str = "exp-1", *, inputs: bool = True, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "job_name": name,
        "environment": "cloud",
        "priority": 2,
        "application": {"application": "decode", "version": "v1", "entrypoint": "train"},
        "attributes": {
            "files_down": {
                "config_id": "exp1" if inputs else None,
                "data_ids": ["run"] if inputs else None,
                "artifact_ids": None,
            },
            "env_vars": {"SEED": "42"},
        },
        "hardware": None,
    }
    return body | changes


async def eventually(condition: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_start_job_enqueues_the_contracts_json(
    client: Client, container: Container, settings: Settings, alice: Caller, worker_api: StubServer
) -> None:
    param = await put_file(container, alice, "config/exp1/param.yaml")
    calib = await put_file(container, alice, "data/run/calib.mat")
    frames = await put_file(container, alice, "data/run/movie/frames.tif")
    response = await client.post("/jobs", json=job_body(), headers=alice.headers)
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["status"] == "queued"
    assert job["job_name"] == "exp-1"
    assert job["user_email"] == "alice@example.org"
    assert job["paths_out"] == {
        "output": "output/exp-1",
        "log": "log/exp-1",
        "artifact": "artifact/exp-1",
    }
    assert job["attributes"] == {
        "files_down": {"config_id": "exp1", "data_ids": ["run"], "artifact_ids": []},
        "env_vars": {"SEED": "42"},
    }
    assert job["date_started"] is None
    assert job["date_finished"] is None
    [sent] = worker_api.requests
    assert (sent.method, sent.path) == ("POST", "/_jobs")
    assert sent.headers["x-api-key"] == "internal-test-key"
    space = space_uri(settings, alice)
    assert (param, calib) == (f"{space}/config/exp1/param.yaml", f"{space}/data/run/calib.mat")
    assert sent.body["job"]["meta"].pop("date_created") is not None
    assert sent.body == {
        "job": {
            "app": {"cmd": ["decode", "--train"], "env": {"SEED": "42"}},
            "handler": queued_handler(
                {
                    "config/param.yaml": param,
                    "data/calib.mat": calib,
                    "data/movie/frames.tif": frames,
                }
            ),
            "meta": {"job_id": job["id"]},
            "hardware": NO_HARDWARE,
        },
        "environment": "cloud",
        "group": None,
        "priority": 2,
        "paths_upload": {
            "output": f"{space}/output/exp-1",
            "log": f"{space}/log/exp-1",
            "artifact": f"{space}/artifact/exp-1",
        },
    }


async def test_enqueued_date_is_the_jobs_date(
    client: Client, container: Container, alice: Caller, worker_api: StubServer
) -> None:
    job = (await client.post("/jobs", json=job_body(inputs=False), headers=alice.headers)).json()
    sent = worker_api.requests[0].body["job"]["meta"]["date_created"]
    assert datetime.fromisoformat(sent) == datetime.fromisoformat(job["date_created"])


async def test_worker_api_down_keeps_no_job(
    client: Client, alice: Caller, worker_api: StubServer
) -> None:
    worker_api.stop()
    response = await client.post("/jobs", json=job_body(inputs=False), headers=alice.headers)
    assert response.status_code == 503
    assert "not queued" in response.json()["detail"]
    assert (await client.get("/jobs", headers=alice.headers)).json() == []
    worker_api.start()
    again = await client.post("/jobs", json=job_body(inputs=False), headers=alice.headers)
    assert again.status_code == 201, again.text


@pytest.mark.parametrize("status", [422, 500])
async def test_worker_api_refusal_keeps_no_job(
    client: Client, alice: Caller, worker_api: StubServer, status: int
) -> None:
    worker_api.status, worker_api.answer = status, {"detail": "image_url is required"}
    response = await client.post("/jobs", json=job_body(inputs=False), headers=alice.headers)
    assert response.status_code == 502
    detail = response.json()["detail"]
    assert "not queued" in detail
    assert str(status) in detail
    assert "image_url is required" in detail
    assert (await client.get("/jobs", headers=alice.headers)).json() == []
    worker_api.status = 200
    again = await client.post("/jobs", json=job_body(inputs=False), headers=alice.headers)
    assert again.status_code == 201


async def test_enqueue_shape_is_checked_by_the_stand_in() -> None:
    assert enqueue_problems("/_jobs", {"job": {}}) != []


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        (
            {"application": {"application": "x", "version": "v1", "entrypoint": "train"}},
            "Unknown application 'x'",
        ),
        (
            {"application": {"application": "decode", "version": "v9", "entrypoint": "train"}},
            "Unknown version 'v9'",
        ),
        (
            {"application": {"application": "decode", "version": "v1", "entrypoint": "fit"}},
            "Unknown entrypoint 'fit'",
        ),
        ({"priority": 9}, "priority must be a whole number from 0 to 5, not 9"),
        ({"job_name": "../escape"}, "job_name"),
        ({"job_name": ""}, "must not be empty"),
        ({"attributes": {"files_down": {}, "env_vars": {"LD_PRELOAD": "x"}}}, "LD_PRELOAD"),
        ({"attributes": {"files_down": {"config_id": "nope"}}}, "'config/nope/'"),
        ({"attributes": {"files_down": {"data_ids": ["../../x"]}}}, "'..'"),
        ({"environment": "mars"}, "environment"),
    ],
)
async def test_bad_job_requests_are_400_and_named(
    client: Client, alice: Caller, worker_api: StubServer, changes: dict[str, Any], fragment: str
) -> None:
    response = await client.post(
        "/jobs", json=job_body(inputs=False) | changes, headers=alice.headers
    )
    assert response.status_code == 400, response.text
    assert fragment in response.json()["detail"]
    assert worker_api.requests == []


async def test_concurrent_duplicate_names_give_one_201_and_one_409(
    client: Client, alice: Caller
) -> None:
    body = job_body("twin", inputs=False)
    first, second = await asyncio.gather(
        client.post("/jobs", json=body, headers=alice.headers),
        client.post("/jobs", json=body, headers=alice.headers),
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409]
    conflict = first if first.status_code == 409 else second
    assert "twin" in conflict.json()["detail"]
    assert len((await client.get("/jobs", headers=alice.headers)).json()) == 1


async def test_same_name_for_two_users_is_fine(
    client: Client, headers_for: HeadersFor, alice: Caller
) -> None:
    bob = await sign_in(client, headers_for, "bob")
    for caller in (alice, bob):
        response = await client.post("/jobs", json=job_body(inputs=False), headers=caller.headers)
        assert response.status_code == 201


async def set_status(client: Client, job_id: int, status: str, details: str | None = None) -> str:
    body = {"job_id": job_id, "status": status, "runtime_details": details}
    response = await client.put("/_job_status", json=body, headers=KEY)
    assert response.status_code == 200, response.text
    state: str = response.json()
    return state


async def start(client: Client, caller: Caller, name: str = "exp-1") -> dict[str, Any]:
    response = await client.post("/jobs", json=job_body(name, inputs=False), headers=caller.headers)
    assert response.status_code == 201, response.text
    job: dict[str, Any] = response.json()
    return job


async def test_status_updates_until_finished(
    client: Client, alice: Caller, mailjet: StubServer
) -> None:
    job = await start(client, alice)
    assert await set_status(client, job["id"], "pulled") == "pulled"
    pulled = (await client.get(f"/jobs/{job['id']}", headers=alice.headers)).json()
    assert pulled["date_started"] is not None
    assert pulled["date_finished"] is None
    assert await set_status(client, job["id"], "running") == "running"
    assert await set_status(client, job["id"], "finished") == "finished"
    done = (await client.get(f"/jobs/{job['id']}", headers=alice.headers)).json()
    assert done["status"] == "finished"
    assert done["date_started"] == pulled["date_started"]
    assert done["date_finished"] >= done["date_started"] >= done["date_created"]
    await eventually(lambda: len(mailjet.requests) == 1)
    [email] = mailjet.requests
    assert (email.method, email.path) == ("POST", "/v3.1/send")
    [message] = email.body["Messages"]
    assert message["Subject"] == f"Job exp-1 (id={job['id']}) finished"
    assert message["To"] == [{"Email": "alice@example.org"}]
    assert message["From"]["Email"] == "noreply@example.org"
    # A late update neither reopens the job nor sends a second email.
    assert await set_status(client, job["id"], "running") == "finished"
    assert await set_status(client, job["id"], "finished") == "finished"
    late = (await client.get(f"/jobs/{job['id']}", headers=alice.headers)).json()
    assert (late["status"], late["date_finished"]) == ("finished", done["date_finished"])
    await asyncio.sleep(0.2)
    assert len(mailjet.requests) == 1


async def test_error_appends_runtime_details(
    client: Client, alice: Caller, mailjet: StubServer
) -> None:
    job = await start(client, alice)
    await set_status(client, job["id"], "running", "epoch 1 done")
    assert await set_status(client, job["id"], "error", "CUDA out of memory") == "error"
    failed = (await client.get(f"/jobs/{job['id']}", headers=alice.headers)).json()
    assert failed["runtime_details"] == "epoch 1 done\nCUDA out of memory"
    assert failed["date_finished"] is not None
    await eventually(lambda: len(mailjet.requests) == 1)
    assert mailjet.requests[0].body["Messages"][0]["Subject"].endswith(") error")


@pytest.mark.parametrize(("status", "attempts"), [(429, 3), (500, 3), (400, 1)])
async def test_failing_email_provider_does_not_fail_the_update(
    client: Client, alice: Caller, mailjet: StubServer, status: int, attempts: int
) -> None:
    """Rate limits and server errors are retried twice; a refusal is not retried."""
    mailjet.status = status
    job = await start(client, alice)
    assert await set_status(client, job["id"], "finished") == "finished"
    await eventually(lambda: len(mailjet.requests) == attempts)
    await asyncio.sleep(0.1)
    assert len(mailjet.requests) == attempts
    current = await client.get(f"/jobs/{job['id']}", headers=alice.headers)
    assert current.json()["status"] == "finished"


async def test_internal_route_needs_the_api_key(client: Client, alice: Caller) -> None:
    job = await start(client, alice)
    body = {"job_id": job["id"], "status": "running"}
    assert (await client.put("/_job_status", json=body)).status_code == 401
    wrong = await client.put("/_job_status", json=body, headers={"x-api-key": "guess"})
    assert wrong.status_code == 401
    bearer = await client.put("/_job_status", json=body, headers=alice.headers)
    assert bearer.status_code == 401
    assert (await client.get(f"/jobs/{job['id']}", headers=alice.headers)).json()[
        "status"
    ] == "queued"


async def test_internal_route_refuses_all_without_a_configured_key(
    client: Client, container: Container, settings: Settings
) -> None:
    container.settings.override(msgspec.structs.replace(settings, internal_api_key=None))
    body = {"job_id": 1, "status": "running"}
    for headers in ({}, {"x-api-key": ""}, KEY):
        assert (await client.put("/_job_status", json=body, headers=headers)).status_code == 401


async def test_unknown_job_status_update_is_404(client: Client) -> None:
    response = await client.put(
        "/_job_status", json={"job_id": 999, "status": "running"}, headers=KEY
    )
    assert response.status_code == 404


async def test_bad_status_is_400(client: Client, alice: Caller) -> None:
    job = await start(client, alice)
    response = await client.put(
        "/_job_status", json={"job_id": job["id"], "status": "paused"}, headers=KEY
    )
    assert response.status_code == 400


async def test_another_users_job_is_404(
    client: Client, headers_for: HeadersFor, alice: Caller
) -> None:
    job = await start(client, alice)
    bob = await sign_in(client, headers_for, "bob")
    assert (await client.get(f"/jobs/{job['id']}", headers=bob.headers)).status_code == 404
    assert (await client.delete(f"/jobs/{job['id']}", headers=bob.headers)).status_code == 404
    assert (await client.get("/jobs", headers=bob.headers)).json() == []
    assert (await client.get(f"/jobs/{job['id']}", headers=alice.headers)).status_code == 200


async def test_unknown_job_is_404(client: Client, alice: Caller) -> None:
    assert (await client.get("/jobs/424242", headers=alice.headers)).status_code == 404
    assert (await client.delete("/jobs/424242", headers=alice.headers)).status_code == 404


async def test_jobs_need_a_signed_in_user(client: Client) -> None:
    assert (await client.get("/jobs")).status_code == 401
    assert (await client.get("/jobs/applications")).status_code == 401
    assert (await client.post("/jobs", json=job_body())).status_code == 401


async def test_delete_removes_the_jobs_folders_only(
    client: Client, container: Container, alice: Caller
) -> None:
    job = await start(client, alice)
    results = ["output/exp-1/emitters.h5", "log/exp-1/train.log", "artifact/exp-1/model.pt"]
    kept = ["artifact/exp-10/model.pt", "output/other/emitters.h5"]
    for path in results + kept:
        await put_file(container, alice, path)
    assert (await client.delete(f"/jobs/{job['id']}", headers=alice.headers)).status_code == 204
    for path in results:
        assert not await exists(container, alice, path.rsplit("/", 1)[0]), path
    for path in kept:
        assert await exists(container, alice, path), path
    assert (await client.get(f"/jobs/{job['id']}", headers=alice.headers)).status_code == 404


async def test_ids_are_not_reused_after_delete(client: Client, alice: Caller) -> None:
    first = await start(client, alice)
    await client.delete(f"/jobs/{first['id']}", headers=alice.headers)
    second = await start(client, alice)
    assert second["id"] > first["id"]


async def test_list_is_newest_first_paged_and_filtered(client: Client, alice: Caller) -> None:
    ids = [(await start(client, alice, f"job-{n}"))["id"] for n in range(3)]
    await set_status(client, ids[1], "running")
    listed = (await client.get("/jobs", headers=alice.headers)).json()
    assert [job["id"] for job in listed] == ids[::-1]
    page = (await client.get("/jobs?offset=1&limit=1", headers=alice.headers)).json()
    assert [job["id"] for job in page] == [ids[1]]
    running = (await client.get("/jobs?status=running", headers=alice.headers)).json()
    assert [job["id"] for job in running] == [ids[1]]
    assert (await client.get("/jobs?limit=100000", headers=alice.headers)).status_code == 200
    assert (await client.get("/jobs?limit=0", headers=alice.headers)).status_code == 400
    assert (await client.get("/jobs?offset=-1", headers=alice.headers)).status_code == 400
    assert (await client.get("/jobs?status=paused", headers=alice.headers)).status_code == 400


async def test_registry_is_reloaded_without_restart(
    client: Client, alice: Caller, registry: Registry, stack: str
) -> None:
    assert registry.location.startswith("s3://") == (stack == "production")
    before = (await client.get("/jobs/applications", headers=alice.headers)).json()
    assert before == registry_document()
    document = registry_document()
    document["decode"]["v1"]["fit"] = document["decode"]["v1"]["train"]
    registry.write(yaml.safe_dump(document))
    after = (await client.get("/jobs/applications", headers=alice.headers)).json()
    assert set(after["decode"]["v1"]) == {"train", "fit"}
    fit = job_body("fit-1", inputs=False)
    fit["application"]["entrypoint"] = "fit"
    assert (await client.post("/jobs", json=fit, headers=alice.headers)).status_code == 201
    registry.write("decode: {v1: [broken")
    kept = (await client.get("/jobs/applications", headers=alice.headers)).json()
    assert kept == after


async def test_concurrent_status_updates_all_succeed(client: Client, alice: Caller) -> None:
    jobs = [await start(client, alice, f"job-{n}") for n in range(6)]
    updates = [
        client.put("/_job_status", json={"job_id": job["id"], "status": status}, headers=KEY)
        for job in jobs
        for status in ("running", "finished")
    ]
    answers = await asyncio.gather(*updates)
    assert [answer.status_code for answer in answers] == [200] * len(updates)
    listed = (await client.get("/jobs", headers=alice.headers)).json()
    assert {job["status"] for job in listed} == {"finished"}


async def test_a_job_never_takes_over_an_uploaded_folder(
    client: Client, container: Container, alice: Caller, worker_api: StubServer
) -> None:
    uploaded = await client.post(
        "/files/artifact/x/upload", headers=alice.headers, files={"file": ("mine.pt", b"weights")}
    )
    assert uploaded.status_code == 201, uploaded.text
    response = await client.post("/jobs", json=job_body("x", inputs=False), headers=alice.headers)
    assert response.status_code == 409, response.text
    assert "'artifact/x/'" in response.json()["detail"]
    assert worker_api.requests == []
    assert (await client.get("/jobs", headers=alice.headers)).json() == []
    assert await exists(container, alice, "artifact/x/mine.pt")


@pytest.mark.parametrize("kind", ["output", "log"])
async def test_a_job_never_takes_over_a_results_folder_it_did_not_make(
    client: Client, container: Container, alice: Caller, kind: str
) -> None:
    """E.g. left by an earlier job of that name whose row is gone."""
    await put_file(container, alice, f"{kind}/x/result.h5")
    response = await client.post("/jobs", json=job_body("x", inputs=False), headers=alice.headers)
    assert response.status_code == 409, response.text
    assert f"'{kind}/x/'" in response.json()["detail"]
    assert await exists(container, alice, f"{kind}/x/result.h5")
