import pytest

from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.files import FileRef, human_size


@pytest.mark.parametrize(
    ("raw", "parts"),
    [
        ("", ()),
        ("/", ()),
        ("config", ("config",)),
        ("/config/", ("config",)),
        ("config//exp1///param.yaml", ("config", "exp1", "param.yaml")),
        ("./data/./frames.tif", ("data", "frames.tif")),
        ("data/.hidden", ("data", ".hidden")),
        ("data/über café.tif", ("data", "über café.tif")),
    ],
)
def test_normalises_safe_paths(raw: str, parts: tuple[str, ...]) -> None:
    assert FileRef.parse(raw).parts == parts


@pytest.mark.parametrize(
    "hostile",
    [
        "..",
        "../other-user/config",
        "config/../../etc/passwd",
        "data/..",
        "config\\..\\x",
        "C:\\Windows",
        "data/a\x00b",
        "data/line\nbreak",
        "data/tab\there",
        "data/\x1b[31m",
        "data/\u202eevil",
        "data/" + "a" * 256,
        "a/" * 600,
        "data/trailing. ",
        "data/ leading",
        "data/dots...",
    ],
)
def test_rejects_hostile_paths(hostile: str) -> None:
    with pytest.raises(InvalidInput):
        FileRef.parse(hostile)


def test_absolute_paths_stay_inside_the_space() -> None:
    assert FileRef.parse("/etc/passwd").parts == ("etc", "passwd")


def test_knows_predefined_folders() -> None:
    assert FileRef.parse("output/").is_predefined_folder
    assert not FileRef.parse("output/job1").is_predefined_folder
    assert not FileRef.parse("").is_predefined_folder


def test_relations() -> None:
    ref = FileRef.parse("config/exp1/param.yaml")
    assert ref.parent == FileRef.parse("config/exp1")
    assert ref.name == "param.yaml"
    assert ref.is_within(FileRef.parse("config"))
    assert not ref.is_within(FileRef.parse("conf"))
    assert ref.relative_to(FileRef.parse("config")) == "exp1/param.yaml"
    assert FileRef.parse("config/exp1").as_folder() == "config/exp1/"
    assert FileRef.parse("config").child("a/b") == FileRef.parse("config/a/b")


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 Bytes"),
        (1, "1 Byte"),
        (19, "19 Bytes"),
        (999, "999 Bytes"),
        (1200, "1.2 kB"),
        (3_400_000, "3.4 MB"),
        (1_000_000_000, "1.0 GB"),
    ],
)
def test_human_size(size: int, text: str) -> None:
    assert human_size(size) == text


def test_names_are_stored_nfc_normalised() -> None:
    composed, decomposed = "caf\u00e9/r\u00e9sum\u00e9.txt", "cafe\u0301/re\u0301sume\u0301.txt"
    assert FileRef.parse(decomposed) == FileRef.parse(composed)
    assert FileRef.parse(decomposed).parts == ("caf\u00e9", "r\u00e9sum\u00e9.txt")
    assert FileRef.parse("data").child("e\u0301.txt") == FileRef(("data", "\u00e9.txt"))
