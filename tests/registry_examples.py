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


NO_HARDWARE = {
    "cpu_cores": None,
    "memory": None,
    "gpu_model": None,
    "gpu_archi": None,
    "gpu_mem": None,
}
"""`hardware` on the wire when no constraint was asked for."""


def queued_handler(files_down: dict[str, str]) -> dict[str, Any]:
    """The `handler` the worker-facing API receives for a job of `SPEC`."""
    return {
        "image_url": "registry.example/decode:v1",
        "image_name": "decode",
        "image_version": "v1",
        "entrypoint": "train",
        "files_down": files_down,
        "files_up": {"log": "log", "artifact": "model"},
    }


def submitted_job(owner: User, job_name: str, now: datetime) -> Job:
    """A job as `SubmitJob` makes it, before it is stored: no inputs, default priority."""
    return Job.submitted(owner, NewJob(job_name=job_name, spec=SPEC), ENTRY, now)
