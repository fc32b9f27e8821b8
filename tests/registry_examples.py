"""A registry document shared by the job tests, and a job submitted for its entry."""

from datetime import datetime
from typing import Any

from decode_userapi.domain.applications import ApplicationRegistry
from decode_userapi.domain.jobs import Job, JobSpec, NewJob
from decode_userapi.domain.users import User


def registry_document() -> dict[str, Any]:
    return {
        "decode": {
            "v1": {
                "train": {
                    "app": {"cmd": ["decode", "--train"], "env": ["SEED"]},
                    "handler": {
                        "image_url": "registry.example/decode:v1",
                        "files_down": {"config_id": "config", "data_ids": "data"},
                        "files_up": {"log": "log", "artifact": "model"},
                    },
                    "aws_resources": {
                        "hardware": {"MEMORY": 8000, "VCPU": 4, "GPU": 1},
                        "timeout": 18000,
                    },
                },
            },
        },
    }


SPEC = JobSpec("decode", "v1", "train")
ENTRY = ApplicationRegistry.parse(registry_document()).entrypoint(SPEC)


def submitted_job(owner: User, job_name: str, now: datetime) -> Job:
    """A job as `SubmitJob` makes it, before it is stored: no inputs, default priority."""
    return Job.submitted(owner, NewJob(job_name=job_name, spec=SPEC), ENTRY, now)
