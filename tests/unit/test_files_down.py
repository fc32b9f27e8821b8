import pytest

from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.files import FileRef
from decode_userapi.domain.jobs import InputKind
from decode_userapi.services.jobs.submit import InputFolder, build_files_down


def ref(path: str) -> FileRef:
    return FileRef.parse(path)


def uri(file: FileRef) -> str:
    return f"/root/{file}"


def test_every_file_maps_to_its_path_under_the_mount() -> None:
    inputs = [
        InputFolder("config_id", ref("u/config/exp1"), [ref("u/config/exp1/param.yaml")]),
        InputFolder(
            "data_ids",
            ref("u/data/run"),
            [ref("u/data/run/calib.mat"), ref("u/data/run/frames/001.tif")],
        ),
    ]
    mounts: dict[InputKind, str] = {"config_id": "config", "data_ids": "/data/"}
    assert build_files_down(mounts, inputs, uri) == {
        "config/param.yaml": "/root/u/config/exp1/param.yaml",
        "data/calib.mat": "/root/u/data/run/calib.mat",
        "data/frames/001.tif": "/root/u/data/run/frames/001.tif",
    }


def test_empty_folder_adds_nothing() -> None:
    inputs = [InputFolder("data_ids", ref("u/data/empty"), [])]
    assert build_files_down({"data_ids": "data"}, inputs, uri) == {}


def test_two_files_on_one_container_path_are_refused() -> None:
    inputs = [
        InputFolder("data_ids", ref("u/data/a"), [ref("u/data/a/x.tif")]),
        InputFolder("data_ids", ref("u/data/b"), [ref("u/data/b/x.tif")]),
    ]
    with pytest.raises(InvalidInput, match=r"'data/x\.tif'"):
        build_files_down({"data_ids": "data"}, inputs, uri)
