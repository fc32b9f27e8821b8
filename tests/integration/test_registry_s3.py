"""The application registry kept as an S3 object (`s3://bucket/key`), on moto's S3."""

import logging
from typing import Any

import boto3
import msgspec
import pytest
import yaml
from litestar.testing import AsyncTestClient

from decode_userapi.adapters.catalog.sources import S3RegistrySource, open_source
from decode_userapi.adapters.catalog.yaml_catalog import YamlApplicationCatalog
from decode_userapi.entrypoints.container import build_container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings
from tests.registry_examples import registry_document
from tests.servers.fixtures import signed_in_headers
from tests.servers.moto import REGION, moto_server

KEY = "config/application_config.yaml"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Bucket:
    """Writes the registry object the way an operator would (`aws s3 cp`)."""

    def __init__(self, endpoint: str, name: str) -> None:
        self.name = name
        self.location = f"s3://{name}/{KEY}"
        self._client: Any = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)

    def put(self, text: str) -> None:
        self._client.put_object(Bucket=self.name, Key=KEY, Body=text.encode())

    def put_registry(self, document: object) -> None:
        self.put(yaml.safe_dump(document))

    def delete(self) -> None:
        self._client.delete_object(Bucket=self.name, Key=KEY)

    def create_bucket(self) -> None:
        self._client.create_bucket(
            Bucket=self.name, CreateBucketConfiguration={"LocationConstraint": REGION}
        )

    def delete_bucket(self) -> None:
        self._client.delete_bucket(Bucket=self.name)


@pytest.fixture
def bucket(aws_endpoint: str, s3_bucket: str) -> Bucket:
    return Bucket(aws_endpoint, s3_bucket)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def catalog(aws_endpoint: str, bucket: Bucket, clock: Clock) -> YamlApplicationCatalog:
    source = open_source(bucket.location, s3_region=REGION, s3_endpoint_url=aws_endpoint)
    return YamlApplicationCatalog(source, check_interval=2, clock=clock)


def with_entrypoint(name: str) -> dict[str, Any]:
    document = registry_document()
    document["decode"]["v1"][name] = document["decode"]["v1"]["train"]
    return document


async def test_loads_and_rereads_a_changed_object_after_the_interval(
    bucket: Bucket, catalog: YamlApplicationCatalog, clock: Clock
) -> None:
    bucket.put_registry(registry_document())
    assert set((await catalog.current()).entries["decode"]["v1"]) == {"train"}

    bucket.put_registry(with_entrypoint("fit"))
    clock.now += 1
    assert set((await catalog.current()).entries["decode"]["v1"]) == {"train"}
    clock.now += 1
    assert set((await catalog.current()).entries["decode"]["v1"]) == {"train", "fit"}


async def test_an_unchanged_object_is_not_read_again(aws_endpoint: str, bucket: Bucket) -> None:
    source = S3RegistrySource(bucket.location, region=REGION, endpoint_url=aws_endpoint)
    bucket.put_registry(registry_document())
    fetched = await source.fetch(None)
    assert fetched is not None
    tag, document = fetched
    assert yaml.safe_load(document) == registry_document()

    assert await source.fetch(tag) is None

    bucket.put_registry(with_entrypoint("fit"))
    changed = await source.fetch(tag)
    assert changed is not None
    assert changed[0] != tag


async def test_a_broken_upload_keeps_the_last_good_registry(
    bucket: Bucket, catalog: YamlApplicationCatalog, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    bucket.put_registry(registry_document())
    good = await catalog.current()

    bucket.put("decode: {v1: [broken")
    clock.now += 2
    with caplog.at_level(logging.ERROR):
        assert await catalog.current() == good
    assert "keeping the last good one" in caplog.text

    bucket.put_registry(with_entrypoint("fit"))
    clock.now += 2
    assert set((await catalog.current()).entries["decode"]["v1"]) == {"train", "fit"}


async def test_a_missing_object_is_an_empty_registry_until_it_is_uploaded(
    bucket: Bucket, catalog: YamlApplicationCatalog, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        assert (await catalog.current()).entries == {}
    assert f"No application registry at {bucket.location}" in caplog.text

    bucket.put_registry(registry_document())
    clock.now += 2
    assert list((await catalog.current()).entries) == ["decode"]

    bucket.delete()
    clock.now += 2
    assert (await catalog.current()).entries == {}


async def test_a_deleted_bucket_keeps_the_last_good_registry(
    bucket: Bucket, catalog: YamlApplicationCatalog, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    bucket.put_registry(registry_document())
    good = await catalog.current()
    bucket.delete()
    bucket.delete_bucket()

    clock.now += 2
    with caplog.at_level(logging.ERROR):
        assert await catalog.current() == good
    assert f"Cannot read {bucket.location}" in caplog.text
    assert "NoSuchBucket" in caplog.text
    assert "Keeping the last good application registry" in caplog.text


async def test_an_unreachable_server_keeps_the_last_good_registry(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with moto_server() as endpoint:
        bucket = Bucket(endpoint, "registry")
        bucket.create_bucket()
        bucket.put_registry(registry_document())
        source = open_source(bucket.location, s3_region=REGION, s3_endpoint_url=endpoint)
        catalog = YamlApplicationCatalog(source, check_interval=0)
        good = await catalog.current()
        assert good.entries

    with caplog.at_level(logging.ERROR):
        assert await catalog.current() == good
    assert f"Cannot read {bucket.location}: Could not connect" in caplog.text


async def test_applications_route_serves_the_registry_from_s3(
    production_settings: Settings, bucket: Bucket
) -> None:
    bucket.put_registry(registry_document())
    settings = msgspec.structs.replace(production_settings, application_config_file=bucket.location)
    container = build_container(settings)
    headers_for = signed_in_headers(container.account_directory())

    async with AsyncTestClient(create_app(container)) as client:
        answer = await client.get("/jobs/applications", headers=await headers_for("ada"))

    assert answer.status_code == 200, answer.text
    assert answer.json() == registry_document()
