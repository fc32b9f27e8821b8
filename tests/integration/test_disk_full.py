"""A full disk under the local storage, caused for real: the server's files on a 1 MiB
tmpfs (mounting needs root; skipped otherwise), and `/dev/full` under the writer threads.
An upload that does not fit is a 507 naming the problem, and leaves nothing behind."""

import base64
import os
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from benchmarks.live_server import Server, running_server
from decode_userapi.adapters.storage.local import _WriteBehind
from decode_userapi.domain.errors import OutOfSpace

MIB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("disk-full")
    data_root = folder / "user_data"  # where `running_server` keeps the files
    data_root.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(data_root)]
    mounted = subprocess.run(mount, capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        with running_server(folder) as started:
            yield started
    finally:
        subprocess.run(["umount", "-l", str(data_root)], check=True)


def _left_in(server: Server, folder: str) -> list[str]:
    return sorted(os.listdir(server.data_root / folder))


def test_an_upload_onto_a_full_disk_is_507_and_leaves_nothing(server: Server) -> None:
    url = f"{server.url}/files/data/upload"
    files = {"file": ("big.bin", b"x" * (3 * MIB))}
    answer = httpx.post(url, files=files, headers=server.headers, timeout=30)
    assert answer.status_code == 507, answer.text
    assert "disk is full" in answer.json()["detail"]
    listing = httpx.get(f"{server.url}/files/data/", headers=server.headers)
    assert listing.json() == []
    assert _left_in(server, ".staging") == []
    small = httpx.post(url, files={"file": ("small.txt", b"fits")}, headers=server.headers)
    assert small.status_code == 201, small.text  # the failed upload's space came back


def test_a_resumable_upload_onto_a_full_disk_keeps_its_offset(server: Server) -> None:
    meta = ",".join(
        f"{key} {base64.b64encode(value).decode()}"
        for key, value in (("path", b"data"), ("filename", b"resumed.bin"))
    )
    headers = {**server.headers, **TUS}
    created = httpx.post(
        f"{server.url}/uploads/",
        headers={**headers, "Upload-Length": str(3 * MIB), "Upload-Metadata": meta},
    )
    assert created.status_code == 201, created.text
    upload = created.headers["Location"]
    patch = {**headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    answer = httpx.patch(upload, content=b"y" * (3 * MIB), headers=patch, timeout=30)
    assert answer.status_code == 507, answer.text
    assert "disk is full" in answer.json()["detail"]
    assert httpx.head(upload, headers=headers).headers["Upload-Offset"] == "0"
    assert httpx.delete(upload, headers=headers).status_code == 204
    assert _left_in(server, ".uploads") == []


async def test_a_full_disk_under_the_writer_threads_is_out_of_space() -> None:
    writer = _WriteBehind(os.open("/dev/full", os.O_WRONLY | os.O_CLOEXEC))
    await writer.write([b"z" * MIB])
    with pytest.raises(OutOfSpace, match="disk is full"):
        await writer.wait()
    writer.close()
