from pathlib import Path
from typing import Any

import pytest
import yaml

from decode_userapi.domain.applications import ApplicationRegistry, RegistryError
from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.jobs import JobSpec
from tests.registry_examples import registry_document


def test_valid_document() -> None:
    registry = ApplicationRegistry.parse(registry_document())
    entry = registry.entrypoint(JobSpec("decode", "v1", "train"))
    assert entry.app.cmd == ["decode", "--train"]
    assert entry.app.env == ["SEED"]
    assert entry.handler.files_down == {"config_id": "config", "data_ids": "data"}
    assert entry.aws_resources is not None
    assert entry.aws_resources.hardware is not None
    assert entry.aws_resources.hardware.gpu == 1
    assert registry.to_builtins() == registry_document()


def test_empty_document_is_empty_registry() -> None:
    assert ApplicationRegistry.parse(None).entries == {}


def test_numeric_versions_are_strings() -> None:
    document = {"decode": {1.5: registry_document()["decode"]["v1"]}}
    assert list(ApplicationRegistry.parse(document).entries["decode"]) == ["1.5"]


def broken(path: tuple[str, ...], value: object = None, *, delete: bool = False) -> object:
    document: Any = registry_document()
    target = document["decode"]["v1"]["train"]
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("document", "fragments"),
    [
        (broken(("app",), delete=True), ["'decode'", "'v1'", "'train'", "app"]),
        (broken(("handler", "image_url"), delete=True), ["'train'", "$.handler", "image_url"]),
        (broken(("app", "cmd"), "decode --train"), ["'train'", "$.app.cmd"]),
        (broken(("handler", "files_down", "model_ids"), "x"), ["'train'", "model_ids"]),
        (broken(("handler", "files_up", "results"), "x"), ["'train'", "results"]),
        (broken(("aws_resources", "timeout"), "long"), ["$.aws_resources.timeout"]),
        (broken(("surprise",), 1), ["'train'", "surprise"]),
        ({"decode": ["v1"]}, ["application 'decode'", "mapping"]),
        ({"decode": {"v1": "train"}}, ["'decode'", "'v1'", "mapping"]),
        (["decode"], ["registry", "mapping"]),
    ],
)
def test_malformed_document_names_the_culprit(document: object, fragments: list[str]) -> None:
    with pytest.raises(RegistryError) as caught:
        ApplicationRegistry.parse(document)
    for fragment in fragments:
        assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (JobSpec("comet", "v1", "train"), "Unknown application 'comet'; known: 'decode'"),
        (JobSpec("decode", "v2", "train"), "Unknown version 'v2' of 'decode'; known: 'v1'"),
        (JobSpec("decode", "v1", "fit"), "Unknown entrypoint 'fit' of 'decode' 'v1'"),
    ],
)
def test_unknown_entries_are_named(spec: JobSpec, fragment: str) -> None:
    registry = ApplicationRegistry.parse(registry_document())
    with pytest.raises(InvalidInput, match=fragment):
        registry.entrypoint(spec)


def test_the_shipped_example_is_valid() -> None:
    example = Path(__file__).parents[2] / "application_config.yaml"
    registry = ApplicationRegistry.parse(yaml.safe_load(example.read_text()))
    assert set(registry.entries["decode"]["v0_10_1"]) == {"train", "fit"}
    assert "comet" in registry.entries
