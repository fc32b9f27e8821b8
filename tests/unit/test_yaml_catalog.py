import asyncio
import logging
from pathlib import Path

import pytest
import yaml

from decode_userapi.adapters.catalog.sources import LocalFileSource
from decode_userapi.adapters.catalog.yaml_catalog import YamlApplicationCatalog
from tests.registry_examples import registry_document


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "application_config.yaml"


def write_raw(path: Path, text: str) -> None:
    path.write_text(text)


def write(path: Path, document: object) -> None:
    write_raw(path, yaml.safe_dump(document))


async def test_reads_at_most_every_interval(path: Path) -> None:
    clock = Clock()
    catalog = YamlApplicationCatalog(LocalFileSource(path), check_interval=2, clock=clock)
    write(path, registry_document())
    assert list((await catalog.current()).entries) == ["decode"]
    write(path, {"comet": registry_document()["decode"]})
    clock.now += 1
    assert list((await catalog.current()).entries) == ["decode"]
    clock.now += 1
    assert list((await catalog.current()).entries) == ["comet"]


async def test_missing_file_is_an_empty_registry(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = YamlApplicationCatalog(LocalFileSource(path), check_interval=0)
    with caplog.at_level(logging.WARNING):
        assert (await catalog.current()).entries == {}
    assert "No application registry at" in caplog.text


async def test_broken_version_keeps_the_last_good_one(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = YamlApplicationCatalog(LocalFileSource(path), check_interval=0)
    write(path, registry_document())
    good = await catalog.current()
    write_raw(path, "decode: [unclosed")
    with caplog.at_level(logging.ERROR):
        assert await catalog.current() == good
    assert "keeping the last good one" in caplog.text
    write(path, {"decode": {"v1": {"train": {"app": {}}}}})
    assert await catalog.current() == good
    assert "'train'" in caplog.text


class SlowSource(LocalFileSource):
    async def fetch(self, known_tag: str | None) -> tuple[str, bytes] | None:
        await asyncio.sleep(0.05)
        return await super().fetch(known_tag)


async def test_callers_during_the_first_read_wait_for_it(path: Path) -> None:
    write(path, registry_document())
    catalog = YamlApplicationCatalog(SlowSource(path))
    first, second = await asyncio.gather(catalog.current(), catalog.current())
    assert list(first.entries) == list(second.entries) == ["decode"]
