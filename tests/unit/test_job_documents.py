import hashlib
from datetime import UTC, datetime
from typing import Any

import msgspec

from decode_userapi.domain.jobs import FilesDown, Job, JobSpec
from decode_userapi.services.jobs.documents import JobOut, document, position

SHAPE = "a96f2822604848b8649b6c085631c20a4a33b87645bd36fea51bfa1d8d6bf84b"
"""The SHA-256 of `JobOut`'s JSON schema without descriptions and defaults (neither
changes what a document holds), as of the migration that last cleared the stored
documents (0009, which added them). A change of `JobOut` that changes it needs a
migration `UPDATE jobs SET document = NULL`, then this updated."""


def _structure(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {
            k: _structure(v)
            for k, v in schema.items()
            if k not in ("description", "title", "default")
        }
    if isinstance(schema, list):
        return [_structure(item) for item in schema]
    return schema


def test_the_shape_of_the_stored_documents_is_the_one_of_the_last_migration() -> None:
    schema = _structure(msgspec.json.schema(JobOut))
    digest = hashlib.sha256(msgspec.json.encode(schema, order="sorted")).hexdigest()
    assert digest == SHAPE


JOB = Job(
    id=7,
    user_id="u1",
    user_email=None,
    job_name="fit-1",
    environment=None,
    priority=0,
    spec=JobSpec("decode", "v1", "fit"),
    files_down=FilesDown(None, ("d",), ()),
    env_vars={},
    hardware=None,
    date_created=datetime(2026, 12, 2, 14, 30, 0, 250, tzinfo=UTC),
    tags={"run": "a"},
)


def test_a_document_tells_where_its_job_is_in_a_list() -> None:
    assert position(document(JOB)) == (JOB.date_created, 7)
