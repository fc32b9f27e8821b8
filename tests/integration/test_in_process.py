"""`decode_userapi.testing`: the service in-process on in-memory adapters, used the way
another project's tests would use it (the README shows the same)."""

import asyncio
from pathlib import Path

import yaml
from litestar.testing import AsyncTestClient

from decode_userapi.domain.files import FileRef
from decode_userapi.domain.jobs import JobState
from decode_userapi.testing import INTERNAL_API_KEY, build_app, use_cases
from tests.registry_examples import registry_document

PASSWORD = "Sunny-day-42"
JOB = {
    "job_name": "train-1",
    "application": {"application": "decode", "version": "v1", "entrypoint": "train"},
    "attributes": {"files_down": {"config_id": "exp1", "data_ids": ["exp1"]}, "env_vars": {}},
}


def registry(folder: Path) -> Path:
    path = folder / "registry.yaml"
    path.write_text(yaml.safe_dump(registry_document()))
    return path


async def test_a_job_from_sign_up_to_the_email_without_any_server(tmp_path: Path) -> None:
    service = build_app(tmp_path, APPLICATION_CONFIG_FILE=str(registry(tmp_path)))
    async with AsyncTestClient(service.app) as client:
        account = {"username": "ada@example.org", "password": PASSWORD}
        assert (await client.post("/user", data=account)).status_code == 201
        token = (await client.post("/token", data=account)).json()["id_token"]
        auth = {"Authorization": f"Bearer {token}"}
        for folder in ("config", "data"):
            files = {"file": ("a.yaml", b"lr: 0.1\n")}
            upload = await client.post(f"/files/{folder}/exp1/upload", files=files, headers=auth)
            assert upload.status_code == 201, upload.text

        started = await client.post("/jobs", json=JOB, headers=auth)
        assert started.status_code == 201, started.text
        job = started.json()
        [queued] = service.gateway.queued
        assert queued.job.meta.job_id == job["id"]
        assert queued.paths_upload["output"].endswith(f"/output/{JOB['job_name']}")

        update = {"job_id": job["id"], "status": "finished"}
        headers = {"x-api-key": INTERNAL_API_KEY}
        assert (await client.put("/_job_status", json=update, headers=headers)).json() == "finished"
        for _ in range(100):  # the email goes out in the background, after the answer
            if service.notifier.sent:
                break
            await asyncio.sleep(0.01)
        [ended] = service.notifier.sent
        assert (ended.id, ended.status, ended.user_email) == (
            job["id"],
            JobState.FINISHED,
            "ada@example.org",
        )

        listing = await client.get("/files/config/", headers=auth)
        assert [entry["path"] for entry in listing.json()] == ["config/exp1/"]
        stored = [ref for ref in service.storage.files if ref.name == "a.yaml"]
        assert len(stored) == 2
    assert service.gateway.closed


async def test_use_cases_run_on_the_same_adapters(tmp_path: Path) -> None:
    async with use_cases(tmp_path) as service:
        user = await service.register_user()("bob@example.org", PASSWORD, ["users"])
        await service.create_folder()(user, FileRef.parse("data/set"))
        entries = await service.list_files()(
            user, FileRef.parse("data"), show_dirs=True, recursive=False
        )
        assert [entry.ref for entry in entries] == [FileRef.parse("data/set")]
        assert service.worker_gateway().queued == []
