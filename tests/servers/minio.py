"""MinIO through testcontainers, only where a Docker engine answers.

Unlike moto, MinIO checks signatures, expiry and POST policies, so it proves that a bad
presigned request is refused.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import HttpWaitStrategy

IMAGE = "minio/minio:RELEASE.2022-12-02T19-19-22Z"  # the one testcontainers pins
PORT = 9000


@dataclass(frozen=True)
class Minio:
    endpoint: str
    access_key: str = "minio-test"
    secret_key: str = "minio-test-secret"


@contextmanager
def minio_server() -> Iterator[Minio | None]:
    """A MinIO server, or None when no Docker engine runs here."""
    minio = Minio(endpoint="")
    try:
        container = (
            DockerContainer(IMAGE)
            .with_exposed_ports(PORT)
            .with_env("MINIO_ROOT_USER", minio.access_key)
            .with_env("MINIO_ROOT_PASSWORD", minio.secret_key)
            .with_command(f"server /data --address :{PORT}")
            .waiting_for(HttpWaitStrategy(PORT, "/minio/health/live"))
        )
        container.start()
    except Exception:  # DockerException: no engine (or the image cannot be pulled)
        yield None
        return
    try:
        host, port = container.get_container_host_ip(), container.get_exposed_port(PORT)
        yield Minio(endpoint=f"http://{host}:{port}")
    finally:
        container.stop()
