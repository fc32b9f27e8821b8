"""A registry document shared by the job tests."""

from typing import Any


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
