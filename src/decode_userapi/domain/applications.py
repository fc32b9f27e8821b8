"""The application registry: which applications, versions and entrypoints users may run.

It is read from a YAML document shaped `{application: {version: {entrypoint: spec}}}`;
`ApplicationRegistry.parse` validates the decoded document and names the
application/version/entrypoint and the field of any mistake.
"""

from collections.abc import Iterable

import msgspec

from decode_userapi.domain.errors import InvalidInput
from decode_userapi.domain.jobs import InputKind, JobSpec, ResultKind


class RegistryError(ValueError):
    """The registry document is malformed; the message says where."""


class AppConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    cmd: list[str]
    env: list[str] = []
    """Names of the environment variables a job may set."""


class HandlerConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    image_url: str
    files_down: dict[InputKind, str] = {}
    """Where each kind of input folder is mounted in the container."""
    files_up: dict[ResultKind, str] = {}
    """Where the worker collects each kind of result in the container."""


class AwsHardware(msgspec.Struct, frozen=True, rename="upper"):
    memory: int
    vcpu: int
    gpu: int


class AwsResources(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    hardware: AwsHardware | None = None
    timeout: int | None = None


class EntrypointConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    app: AppConfig
    handler: HandlerConfig
    aws_resources: AwsResources | None = None


Entries = dict[str, dict[str, dict[str, EntrypointConfig]]]


class ApplicationRegistry(msgspec.Struct, frozen=True):
    entries: Entries = {}

    @classmethod
    def parse(cls, document: object) -> "ApplicationRegistry":
        """Validate a decoded YAML document; raises `RegistryError` naming the culprit.

        An empty document is an empty registry. Keys are read as strings, so a
        version written `1.0` is the version "1.0".
        """
        if document is None:
            return cls()
        entries: Entries = {}
        for application, versions in _mapping(document, "The registry").items():
            where = f"application {application!r}"
            for version, entrypoints in _mapping(versions, where).items():
                where = f"application {application!r} version {version!r}"
                for entrypoint, spec in _mapping(entrypoints, where).items():
                    try:
                        config = msgspec.convert(spec, EntrypointConfig, str_keys=True)
                    except msgspec.ValidationError as exc:
                        raise RegistryError(f"{where} entrypoint {entrypoint!r}: {exc}") from None
                    entries.setdefault(application, {}).setdefault(version, {})[entrypoint] = config
        return cls(entries)

    def entrypoint(self, spec: JobSpec) -> EntrypointConfig:
        """The registry entry a job asks for; `InvalidInput` naming what is unknown."""
        versions = self.entries.get(spec.application)
        if versions is None:
            raise InvalidInput(
                f"Unknown application {spec.application!r}; known: {_known(self.entries)}."
            )
        entrypoints = versions.get(spec.version)
        if entrypoints is None:
            raise InvalidInput(
                f"Unknown version {spec.version!r} of {spec.application!r}; "
                f"known: {_known(versions)}."
            )
        config = entrypoints.get(spec.entrypoint)
        if config is None:
            raise InvalidInput(
                f"Unknown entrypoint {spec.entrypoint!r} of {spec.application!r} "
                f"{spec.version!r}; known: {_known(entrypoints)}."
            )
        return config

    def to_builtins(self) -> object:
        return msgspec.to_builtins(self.entries)


def _mapping(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise RegistryError(f"{where} must be a mapping, not {type(value).__name__}.")
    return {str(key): item for key, item in value.items()}


def _known(names: Iterable[str]) -> str:
    return ", ".join(repr(name) for name in sorted(names)) or "none"
