from datetime import UTC, datetime
from typing import Any

import pytest

from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.files import FileRef
from decode_userapi.domain.jobs import FilesDown, Job, JobName, NewJob
from decode_userapi.domain.users import User
from decode_userapi.services.jobs.rerun import rerun_name
from tests.registry_examples import ENTRY, SPEC

ALICE = User(id="id-alice", email="alice@example.org", groups=("users",))
NOW = datetime(2026, 1, 2, tzinfo=UTC)


def request(**changes: Any) -> NewJob:
    fields: dict[str, Any] = {"job_name": "exp-1", "spec": SPEC} | changes
    return NewJob(**fields)


@pytest.mark.parametrize(
    "valid",
    [
        request(),
        request(job_name="a"),
        request(job_name="A_b-c.1"),
        request(job_name="x" * 255),
        request(job_name="ü" * 127),
        request(job_name="my job"),
        request(job_name="Messung März"),
        request(job_name=".hidden"),
        request(job_name="a..b"),
        request(priority=0),
        request(priority=5),
        request(env_vars={"SEED": "1"}),
        request(files_down=FilesDown("exp1", ("movies", "calib/2024"))),
    ],
)
def test_valid_requests(valid: NewJob) -> None:
    job = Job.submitted(ALICE, valid, ENTRY, NOW)
    assert (job.user_id, job.job_name, job.date_created) == (ALICE.id, valid.job_name, NOW)


@pytest.mark.parametrize(
    ("invalid", "message"),
    [
        (request(job_name=""), "job_name must not be empty"),
        (request(job_name="x" * 256), "job_name is longer than 255 bytes"),
        (request(job_name="ü" * 128), "job_name is longer than 255 bytes"),
        (request(job_name="trailing."), "job_name may not start or end with a space or end with"),
        (request(job_name=" lead"), "job_name may not start or end with a space"),
        (request(job_name="a/b"), "job_name may not contain '/'"),
        (request(job_name="a\\b"), "job_name may not contain '/' or '\\'"),
        (request(job_name="."), "job_name may not be '.' or '..'"),
        (request(job_name=".."), "job_name may not be '.' or '..'"),
        (request(job_name="a\nb"), "job_name may not contain control or format characters"),
        (request(job_name="a\tb"), "job_name may not contain control or format characters"),
        (request(job_name="evil\u202etxt"), "job_name may not contain control or format"),
        (request(priority=-1), "priority must be a whole number from 0 to 5, not -1"),
        (request(priority=6), "priority must be a whole number from 0 to 5, not 6"),
        (request(env_vars={"PATH": "/tmp"}), "PATH are not allowed by decode v1 train"),
        (request(files_down=FilesDown(None, (), ("model",))), "takes no artifact_ids"),
        (request(files_down=FilesDown("../../other-user")), "'..'"),
        (request(files_down=FilesDown("")), "must name a folder inside 'config/'"),
        (request(files_down=FilesDown(None, ("/",))), "must name a folder inside 'data/'"),
    ],
)
def test_invalid_requests(invalid: NewJob, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Job.submitted(ALICE, invalid, ENTRY, NOW)
    assert message in caught.value.message


def test_input_folders_are_inside_their_top_folder() -> None:
    folders = FilesDown("exp1", ("a", "b/c"), ("m",)).folders()
    assert folders == [
        ("config_id", FileRef(("config", "exp1"))),
        ("data_ids", FileRef(("data", "a"))),
        ("data_ids", FileRef(("data", "b", "c"))),
        ("artifact_ids", FileRef(("artifact", "m"))),
    ]


def test_job_names_are_nfc_normalised() -> None:
    decomposed = "Messung Ma\u0308rz"
    assert JobName(decomposed).value == "Messung M\u00e4rz"
    assert JobName("Messung M\u00e4rz").value == "Messung M\u00e4rz"
    submitted = Job.submitted(ALICE, request(job_name=decomposed), ENTRY, NOW)
    assert submitted.job_name == "Messung M\u00e4rz"


def test_rerun_names_count_up_and_fit_a_folder_name() -> None:
    assert rerun_name("exp", []) == "exp-rerun-1"
    assert rerun_name("exp", ["exp-rerun-1", "exp-rerun-7", "exp-rerun-x", "exp-rerun-"]) == (
        "exp-rerun-8"
    )
    long = "ä" * 127  # 254 bytes
    named = rerun_name(long, [])
    assert named.endswith("-rerun-1")
    assert len(named.encode()) <= 255
