"""Presigned requests against MinIO, which (unlike moto) checks signatures and policies.

Needs a Docker engine; skipped where there is none.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator

import boto3
import httpx
import pytest

from decode_userapi.adapters.storage.s3 import S3FileStorage
from decode_userapi.domain.files import FileRef
from tests.servers.minio import Minio

ROOT = "user_data"
REGION = "us-east-1"


@pytest.fixture
def bucket(minio: Minio, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", minio.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", minio.secret_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=minio.endpoint, region_name=REGION).create_bucket(Bucket=name)
    return name


def storage(minio: Minio, bucket: str, *, expiry: int = 600) -> S3FileStorage:
    return S3FileStorage(
        bucket=bucket,
        root=ROOT,
        region=REGION,
        endpoint_url=minio.endpoint,
        presigned_url_expiry_seconds=expiry,
    )


async def one_chunk(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def test_presigned_get_is_accepted_and_a_tampered_one_refused(
    minio: Minio, bucket: str
) -> None:
    store = storage(minio, bucket)
    await store.write(FileRef.parse("u/f.txt"), one_chunk(b"bytes"), max_bytes=100)
    spec = await store.download_request(FileRef.parse("u/f.txt"))
    assert spec is not None
    tampered = spec.url.replace("u/f.txt", "u/g.txt")
    async with httpx.AsyncClient() as http:
        assert (await http.get(spec.url)).content == b"bytes"
        assert (await http.get(tampered)).status_code == 403


async def test_an_expired_presigned_get_is_refused(minio: Minio, bucket: str) -> None:
    store = storage(minio, bucket, expiry=1)
    await store.write(FileRef.parse("u/f.txt"), one_chunk(b"bytes"), max_bytes=100)
    spec = await store.download_request(FileRef.parse("u/f.txt"))
    assert spec is not None
    await asyncio.sleep(2.5)
    async with httpx.AsyncClient() as http:
        assert (await http.get(spec.url)).status_code == 403


async def test_presigned_post_is_held_to_its_folder_and_size(minio: Minio, bucket: str) -> None:
    store = storage(minio, bucket)
    spec = await store.upload_request(FileRef.parse("u/data"), max_bytes=10)
    assert spec is not None
    outside = {**spec.data, "key": f"{ROOT}/u/config/evil.txt"}
    async with httpx.AsyncClient() as http:
        fits = await http.post(spec.url, data=spec.data, files={"file": ("ok.txt", b"0123456789")})
        too_big = await http.post(spec.url, data=spec.data, files={"file": ("big", b"x" * 11)})
        escaped = await http.post(spec.url, data=outside, files={"file": ("evil.txt", b"1")})
    assert fits.is_success, fits.text
    assert too_big.status_code == 400
    assert escaped.status_code == 403
    assert await store.stat(FileRef.parse("u/data/ok.txt")) is not None
    assert await store.stat(FileRef.parse("u/data/big")) is None
    assert await store.stat(FileRef.parse("u/config/evil.txt")) is None
