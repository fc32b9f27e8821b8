from typing import Any

import pytest

from decode_userapi.domain.applications import ApplicationRegistry
from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.files import FileRef
from decode_userapi.domain.jobs import FilesDown, JobSpec
from decode_userapi.services.jobs.submit import NewJob, check_new_job
from tests.registry_examples import registry_document

SPEC = JobSpec("decode", "v1", "train")
ENTRY = ApplicationRegistry.parse(registry_document()).entrypoint(SPEC)


def request(**changes: Any) -> NewJob:
    fields: dict[str, Any] = {"job_name": "exp-1", "spec": SPEC} | changes
    return NewJob(**fields)


@pytest.mark.parametrize(
    "valid",
    [
        request(),
        request(job_name="a"),
        request(job_name="A_b-c.1"),
        request(job_name="x" * 100),
        request(priority=0),
        request(priority=5),
        request(env_vars={"SEED": "1"}),
        request(files_down=FilesDown("exp1", ("movies", "calib/2024"))),
    ],
)
def test_valid_requests(valid: NewJob) -> None:
    check_new_job(valid, ENTRY)


@pytest.mark.parametrize(
    ("invalid", "message"),
    [
        (request(job_name=""), "must not be empty"),
        (request(job_name="x" * 101), "at most 100"),
        (request(job_name=".hidden"), "may not start or end with '.'"),
        (request(job_name="trailing."), "may not start or end with '.'"),
        (request(job_name="a/b"), "letters, digits"),
        (request(job_name="a b"), "letters, digits"),
        (request(job_name=".."), "letters, digits"),
        (request(job_name="é"), "letters, digits"),
        (request(priority=-1), "between 0 and 5, not -1"),
        (request(priority=6), "between 0 and 5, not 6"),
        (request(env_vars={"PATH": "/tmp"}), "PATH are not allowed by decode v1 train"),
        (request(files_down=FilesDown(None, (), ("model",))), "takes no artifact_ids"),
        (request(files_down=FilesDown("../../other-user")), "'..'"),
        (request(files_down=FilesDown("")), "must name a folder inside 'config/'"),
        (request(files_down=FilesDown(None, ("/",))), "must name a folder inside 'data/'"),
    ],
)
def test_invalid_requests(invalid: NewJob, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_new_job(invalid, ENTRY)
    assert message in caught.value.message


def test_input_folders_are_inside_their_top_folder() -> None:
    folders = FilesDown("exp1", ("a", "b/c"), ("m",)).folders()
    assert folders == [
        ("config_id", FileRef(("config", "exp1"))),
        ("data_ids", FileRef(("data", "a"))),
        ("data_ids", FileRef(("data", "b", "c"))),
        ("artifact_ids", FileRef(("artifact", "m"))),
    ]
