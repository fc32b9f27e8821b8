"""The files API under a hostile client or a bad day, through HTTP, on both stacks:
parallel renames onto one target, a name that would be both file and folder, look-alike
names, paged listings, multipart bodies over the parser's limits, permissions."""

import asyncio
import stat
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from litestar import Litestar
from litestar.testing import AsyncTestClient

from decode_userapi.entrypoints.container import Container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings
from tests.conftest import TEST_PASSWORD, HeadersFor

Client = AsyncTestClient[Litestar]
BOUNDARY = "hardening-boundary"


def paths(response_json: list[dict[str, object]]) -> list[object]:
    return [item["path"] for item in response_json]


async def upload(
    client: Client, headers: dict[str, str], folder: str, name: str, content: bytes
) -> int:
    response = await client.post(
        f"/files/{folder}/upload", headers=headers, files={"file": (name, content)}
    )
    return response.status_code


@pytest.fixture
async def alice(headers_for: HeadersFor) -> dict[str, str]:
    return await headers_for("alice")


@pytest.fixture
async def served(container: Container) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """The app behind a real uvicorn server on 127.0.0.1 in this test's event loop, and a
    signed-in user's headers. (The test client runs one request at a time, so races
    need a server.)"""
    server = uvicorn.Server(
        uvicorn.Config(create_app(container), host="127.0.0.1", port=0, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "the server did not start"
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    email = "racer@example.org"
    await container.register_user()(email, TEST_PASSWORD, ["users"])
    token = (await container.sign_in()(email, TEST_PASSWORD)).id_token
    try:
        yield f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    finally:
        server.should_exit = True
        await serving


async def test_parallel_renames_onto_one_target_keep_every_file(
    served: tuple[str, dict[str, str]],
) -> None:
    url, headers = served
    sources = [f"data/src/f{index}.txt" for index in range(10)]
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        for index in range(len(sources)):
            stored = await client.post(
                "/files/data/src/upload", files={"file": (f"f{index}.txt", f"{index}".encode())}
            )
            assert stored.status_code == 201

        async def rename(source: str) -> int:
            response = await client.put(f"/files/{source}", json={"path": "artifact/target.txt"})
            return response.status_code

        statuses = await asyncio.gather(*(rename(source) for source in sources))
        assert sorted(statuses) == [200] + [409] * 9
        winner = sources[statuses.index(200)]
        left = (await client.get("/files/data/src")).json()
        assert paths(left) == sorted(set(sources) - {winner})
        target = await client.get("/files/artifact/target.txt/download")
        assert target.content == winner.removeprefix("data/src/f").removesuffix(".txt").encode()


async def test_a_name_is_a_file_or_a_folder_never_both(
    client: Client, alice: dict[str, str]
) -> None:
    assert await upload(client, alice, "data", "a.txt", b"a file") == 201
    assert await upload(client, alice, "data/a.txt", "b.txt", b"below a file") == 409
    assert (await client.post("/files/data/a.txt/sub/", headers=alice)).status_code == 409
    assert await upload(client, alice, "data/folder", "inside.txt", b"in") == 201
    assert await upload(client, alice, "data", "folder", b"over a folder") == 409
    listing = await client.get("/files/data?recursive=true", headers=alice)
    assert paths(listing.json()) == ["data/a.txt", "data/folder/", "data/folder/inside.txt"]


async def test_look_alike_names_are_one_name(client: Client, alice: dict[str, str]) -> None:
    composed, decomposed = "r\u00e9sum\u00e9.txt", "re\u0301sume\u0301.txt"
    assert unicodedata.normalize("NFC", decomposed) == composed != decomposed
    assert await upload(client, alice, "data", decomposed, b"first") == 201
    assert await upload(client, alice, "data", composed, b"second") == 201
    assert paths((await client.get("/files/data", headers=alice)).json()) == [f"data/{composed}"]
    by_decomposed = await client.get(f"/files/data/{decomposed}/download", headers=alice)
    assert by_decomposed.content == b"second"


async def test_a_listing_comes_in_pages_on_request(client: Client, alice: dict[str, str]) -> None:
    for index in range(12):
        assert await upload(client, alice, f"data/d{index % 3}", f"f{index:02}", b"x") == 201
    whole = await client.get("/files/data?recursive=true", headers=alice)
    assert "x-next-cursor" not in whole.headers
    expected = paths(whole.json())
    assert len(expected) == 15

    pages: list[list[object]] = []
    query = "recursive=true&limit=4"
    while True:
        page = await client.get(f"/files/data?{query}", headers=alice)
        assert page.status_code == 200, page.text
        pages.append(paths(page.json()))
        cursor = page.headers.get("x-next-cursor")
        if cursor is None:
            break
        query = f"recursive=true&limit=4&cursor={cursor}"
    assert [len(page) for page in pages] == [4, 4, 4, 3]
    assert [path for page in pages for path in page] == expected

    files_only = await client.get(
        "/files/data?recursive=true&show_dirs=false&limit=20", headers=alice
    )
    assert len(files_only.json()) == 12
    assert "x-next-cursor" not in files_only.headers
    for bad in ("limit=0", "limit=-1", "limit=x", "cursor=%25%25%25", "limit=2&cursor=%FF"):
        response = await client.get(f"/files/data?{bad}", headers=alice)
        assert response.status_code == 400, (bad, response.text)


def _multipart(headers: list[str]) -> bytes:
    lines = [f"--{BOUNDARY}", 'Content-Disposition: form-data; name="file"; filename="f.txt"']
    return ("\r\n".join([*lines, *headers, "", "content", f"--{BOUNDARY}--", ""])).encode()


@pytest.mark.parametrize(
    "extra_headers",
    [
        [f"X-Filler-{index}: {index}" for index in range(20)],
        [f"X-Long: {'a' * 10_000}"],
    ],
    ids=["too-many-headers", "over-long-header"],
)
async def test_a_part_over_the_parsers_limits_is_400(
    client: Client, alice: dict[str, str], embedded_only: None, extra_headers: list[str]
) -> None:
    response = await client.post(
        "/files/data/upload",
        headers={**alice, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
        content=_multipart(extra_headers),
    )
    assert response.status_code == 400, response.text
    assert "multipart" in response.json()["detail"]
    assert (await client.get("/files/data", headers=alice)).json() == []


async def test_user_files_are_not_world_readable(
    client: Client, alice: dict[str, str], settings: Settings, embedded_only: None
) -> None:
    assert await upload(client, alice, "data/sub", "f.txt", b"private") == 201
    modes = _modes_in_the_user_folder(Path(settings.user_data_root_path))
    assert modes["data/sub/f.txt"] == 0o640
    assert {mode for name, mode in modes.items() if name != "data/sub/f.txt"} == {0o750}


def _modes_in_the_user_folder(root: Path) -> dict[str, int]:
    [user_folder] = [path for path in root.iterdir() if not path.name.startswith(".")]
    return {
        str(path.relative_to(user_folder)): stat.S_IMODE(path.stat().st_mode)
        for path in [user_folder, *user_folder.rglob("*")]
    }
