"""The files API of the contract through HTTP, on local storage and on S3."""

import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from decode_userapi.entrypoints.container import Container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings
from tests.conftest import HeadersFor

Client = AsyncTestClient[Litestar]
PREDEFINED = ["artifact/", "config/", "data/", "log/", "output/"]


def paths(response_json: list[dict[str, object]]) -> list[object]:
    return [item["path"] for item in response_json]


async def upload(
    client: Client, headers: dict[str, str], folder: str, name: str, content: bytes
) -> dict[str, object]:
    response = await client.post(
        f"/files/{folder}/upload", headers=headers, files={"file": (name, content)}
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.fixture
async def alice(headers_for: HeadersFor) -> dict[str, str]:
    return await headers_for("alice")


async def test_the_browser_lists_the_root(client: Client, alice: dict[str, str]) -> None:
    response = await client.get("/files/?show_dirs=True&recursive=False", headers=alice)
    assert response.status_code == 200
    assert response.json() == [
        {"path": name, "type": "directory", "size": "", "size_bytes": 0} for name in PREDEFINED
    ]
    for root in ("/files", "/files/", "/files//"):
        assert paths((await client.get(root, headers=alice)).json()) == PREDEFINED


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["data/a.txt", "data/sub/"]),
        ("?show_dirs=False", ["data/a.txt"]),
        ("?show_dirs=false&recursive=True", ["data/a.txt", "data/sub/b.txt"]),
        ("?show_dirs=1&recursive=1", ["data/a.txt", "data/sub/", "data/sub/b.txt"]),
        ("?show_dirs=0&recursive=0", ["data/a.txt"]),
    ],
)
async def test_listing_options(
    client: Client, alice: dict[str, str], query: str, expected: list[str]
) -> None:
    await upload(client, alice, "data", "a.txt", b"hello")
    await upload(client, alice, "data/sub", "b.txt", b"hi")
    response = await client.get(f"/files/data/{query}", headers=alice)
    assert response.status_code == 200
    assert paths(response.json()) == expected


async def test_listing_shows_sizes(client: Client, alice: dict[str, str]) -> None:
    await upload(client, alice, "data", "a.txt", b"x" * 1234)
    [entry] = (await client.get("/files/data", headers=alice)).json()
    assert entry == {"path": "data/a.txt", "type": "file", "size": "1.2 kB", "size_bytes": 1234}


async def test_listing_a_bad_flag_is_400(client: Client, alice: dict[str, str]) -> None:
    assert (await client.get("/files/?recursive=maybe", headers=alice)).status_code == 400


@pytest.mark.parametrize("path", ["data/a.txt", "data/missing", "nothing"])
async def test_listing_what_is_not_a_folder_is_404(
    client: Client, alice: dict[str, str], path: str
) -> None:
    await upload(client, alice, "data", "a.txt", b"hello")
    response = await client.get(f"/files/{path}", headers=alice)
    assert response.status_code == 404
    assert "is not a folder" in response.json()["detail"]


async def test_upload_and_download_a_file(client: Client, alice: dict[str, str]) -> None:
    created = await upload(client, alice, "config/exp1", "param.yaml", b"a: 1\n")
    assert created == {
        "path": "config/exp1/param.yaml",
        "type": "file",
        "size": "5 Bytes",
        "size_bytes": 5,
    }
    response = await client.get("/files/config/exp1/param.yaml/download", headers=alice)
    assert response.status_code == 200
    assert response.content == b"a: 1\n"
    assert response.headers["content-length"] == "5"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == "attachment; filename=param.yaml"


async def test_a_non_ascii_name_downloads_with_rfc5987(
    client: Client, alice: dict[str, str]
) -> None:
    await upload(client, alice, "data", "café frame.tif", b"abc")
    response = await client.get("/files/data/café frame.tif/download", headers=alice)
    assert response.content == b"abc"
    disposition = response.headers["content-disposition"]
    assert disposition == (
        "attachment; filename=\"caf_ frame.tif\"; filename*=UTF-8''caf%C3%A9%20frame.tif"
    )


async def test_an_upload_replaces_the_file(client: Client, alice: dict[str, str]) -> None:
    await upload(client, alice, "data", "a.txt", b"old content")
    await upload(client, alice, "data", "a.txt", b"new")
    assert (await client.get("/files/data/a.txt/download", headers=alice)).content == b"new"


@pytest.mark.parametrize("folder", ["output", "log/run", "elsewhere"])
async def test_uploads_only_go_to_upload_folders(
    client: Client, alice: dict[str, str], folder: str
) -> None:
    response = await client.post(
        f"/files/{folder}/upload", headers=alice, files={"file": ("a.txt", b"x")}
    )
    assert response.status_code == 400
    assert "Uploads go into config/, data/, artifact/" in response.json()["detail"]


@pytest.mark.parametrize(
    ("kwargs", "detail"),
    [
        ({"files": {"other": ("a.txt", b"x")}}, "no field named 'file'"),
        ({"data": {"file": "text"}, "files": {"x": ("x", b"x")}}, "must be a file"),
        ({"content": b"plain body"}, "multipart/form-data"),
        (
            {
                "content": b'--XX\r\nContent-Disposition: form-data; name="file"; '
                b'filename="a.txt"\r\n\r\nunterminated',
                "headers": {"content-type": "multipart/form-data; boundary=XX"},
            },
            "malformed",
        ),
    ],
)
async def test_a_bad_upload_body_is_400_and_stores_nothing(
    client: Client, alice: dict[str, str], kwargs: dict[str, object], detail: str
) -> None:
    # A copy: the parameters are shared by both stacks' runs.
    request = dict(kwargs)
    headers = {**alice, **request.pop("headers", {})}  # type: ignore[dict-item]
    response = await client.post("/files/data/upload", headers=headers, **request)  # type: ignore[arg-type]
    assert response.status_code == 400
    assert detail in response.json()["detail"]
    assert (await client.get("/files/data", headers=alice)).json() == []


@pytest.mark.parametrize("limit", [1000, 6 * 1024 * 1024], ids=["small", "past-one-s3-part"])
async def test_an_upload_over_the_limit_is_413_and_leaves_nothing(
    container: Container, settings: Settings, alice: dict[str, str], limit: int
) -> None:
    container.settings.override(msgspec.structs.replace(settings, max_upload_bytes=limit))
    async with AsyncTestClient(create_app(container)) as small:
        response = await small.post(
            "/files/data/upload", headers=alice, files={"file": ("big.bin", b"x" * (limit + 1))}
        )
        assert response.status_code == 413
        assert f"{limit} bytes" in response.json()["detail"]
        assert (await small.get("/files/data", headers=alice)).json() == []
        await upload(small, alice, "data", "fits.bin", b"x" * limit)
    if settings.filesystem == "local":
        staging = Path(settings.user_data_root_path) / ".staging"
        assert list(staging.iterdir()) == []
    else:  # no unfinished multipart upload left behind, and only the 1000 bytes stored
        s3 = boto3.client(
            "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region
        )
        assert s3.list_multipart_uploads(Bucket=settings.s3_bucket).get("Uploads", []) == []
        assert [key for key in bucket_keys(settings) if key.endswith(".bin")] == [
            f"user_data/{user_folder_holding(settings, 'data/fits.bin')}/data/fits.bin"
        ]


def bucket_keys(settings: Settings) -> list[str]:
    """Every key in the production stack's bucket."""
    s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region)
    listed = s3.list_objects_v2(Bucket=settings.s3_bucket)
    return [item["Key"] for item in listed.get("Contents", [])]


def user_folder_holding(settings: Settings, path: str) -> str:
    """The name of the one user folder (on disk or in the bucket) that holds `path`."""
    if settings.filesystem == "local":
        root = Path(settings.user_data_root_path)
        [found] = root.glob(f"*/{path}")
        return found.relative_to(root).parts[0]
    [key] = [key for key in bucket_keys(settings) if key.endswith(f"/{path}")]
    return key.removeprefix(f"{settings.user_data_root_path}/").split("/")[0]


async def send_upload(
    client: Client, request: dict[str, Any], name: str, content: bytes
) -> httpx.Response:
    """Sends a file to an upload `FileHTTPRequest` as a browser form would."""
    if request["url"].startswith("http://testserver.local/"):
        return await client.request(**request, files={"file": (name, content)})
    async with httpx.AsyncClient() as outside:  # a presigned POST straight to S3
        return await outside.post(
            request["url"], data=request["data"], files={"file": (name, content)}
        )


async def fetch(client: Client, request: dict[str, Any]) -> bytes:
    """The bytes a download `FileHTTPRequest` gets, from this API or from S3."""
    if request["url"].startswith("http://testserver.local/"):
        return (await client.request(**request)).content
    async with httpx.AsyncClient() as outside:  # a presigned GET straight to S3
        answer = await outside.request(
            request["method"], request["url"], headers=request["headers"]
        )
        assert answer.status_code == 200, answer.text
        return answer.content


def own_request(method: str, path: str, user: dict[str, str]) -> dict[str, Any]:
    """The request spec that sends `user` to the API's own route `/files/{path}`."""
    return {
        "method": method,
        "url": f"http://testserver.local/files/{path}",
        "headers": {"authorization": user["Authorization"]},
        "data": {},
    }


async def test_the_upload_url_is_sent_as_is(
    client: Client, alice: dict[str, str], settings: Settings
) -> None:
    response = await client.post("/files/config/x/url", headers=alice)
    assert response.status_code == 201
    body = response.json()
    if settings.filesystem == "local":
        assert body == own_request("post", "config/x/upload", alice)
    else:
        assert body["method"] == "post"
        assert body["headers"] == {}
        assert body["url"].startswith(f"{settings.s3_endpoint_url}/{settings.s3_bucket}")
        space = user_folder_holding(settings, "config/")
        assert body["data"]["key"] == f"user_data/{space}/config/x/${{filename}}"
        assert {"policy", "x-amz-signature"} <= set(body["data"])
    sent = await send_upload(client, body, "param.yaml", b"k: v")
    assert sent.status_code in (201, 204), sent.text
    listing = await client.get("/files/config/x", headers=alice)
    assert listing.json() == [
        {"path": "config/x/param.yaml", "type": "file", "size": "4 Bytes", "size_bytes": 4}
    ]


async def test_the_upload_url_needs_an_upload_folder(client: Client, alice: dict[str, str]) -> None:
    assert (await client.post("/files/output/x/url", headers=alice)).status_code == 400


async def test_the_download_url_is_sent_as_is(
    client: Client, alice: dict[str, str], settings: Settings
) -> None:
    await upload(client, alice, "data", "a.txt", b"hello")
    response = await client.get("/files/data/a.txt/url", headers=alice)
    assert response.status_code == 200
    body = response.json()
    if settings.filesystem == "local":
        assert body == own_request("get", "data/a.txt/download", alice)
    else:
        space = user_folder_holding(settings, "data/a.txt")
        key = f"user_data/{space}/data/a.txt"
        assert body["method"] == "get"
        assert body["url"].startswith(f"{settings.s3_endpoint_url}/{settings.s3_bucket}/{key}?")
        assert "X-Amz-Expires=600" in body["url"]
        assert (body["headers"], body["data"]) == ({}, {})
    assert await fetch(client, body) == b"hello"
    assert (await client.get("/files/data/nothing/url", headers=alice)).status_code == 404


async def test_urls_of_names_with_reserved_characters_work(
    client: Client, alice: dict[str, str], settings: Settings
) -> None:
    await upload(client, alice, "data/x y", "a#b?c%d é.txt", b"hello")
    download = (await client.get("/files/data/x y/a%23b%3Fc%25d é.txt/url", headers=alice)).json()
    if settings.filesystem == "local":
        assert download["url"].endswith("/files/data/x%20y/a%23b%3Fc%25d%20%C3%A9.txt/download")
    assert await fetch(client, download) == b"hello"
    upload_request = (await client.post("/files/data/x y/url", headers=alice)).json()
    sent = await send_upload(client, upload_request, "z é#.txt", b"z")
    assert sent.status_code in (201, 204), sent.text
    listing = await client.get("/files/data/x y", headers=alice)
    assert paths(listing.json()) == ["data/x y/a#b?c%d é.txt", "data/x y/z é#.txt"]


async def test_a_folder_downloads_as_a_zip(client: Client, alice: dict[str, str]) -> None:
    await upload(client, alice, "data/run", "a.txt", b"first")
    await upload(client, alice, "data/run/deep", "b.bin", bytes(range(256)) * 1000)
    await client.post("/files/data/run/empty/", headers=alice)
    response = await client.get("/files/data/run/download", headers=alice)
    assert response.status_code == 200
    assert response.headers["content-disposition"] == "attachment; filename=run.zip"
    assert response.headers["content-length"] == str(len(response.content))
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["a.txt", "deep/", "deep/b.bin", "empty/"]
        assert archive.read("a.txt") == b"first"
        assert archive.read("deep/b.bin") == bytes(range(256)) * 1000
    whole_space = await client.get("/files/download", headers=alice)
    assert whole_space.headers["content-disposition"] == "attachment; filename=files.zip"
    with zipfile.ZipFile(io.BytesIO(whole_space.content)) as archive:
        assert archive.read("data/run/a.txt") == b"first"
        assert "output/" in archive.namelist()
    folder_url = (await client.get("/files/data/run/url", headers=alice)).json()
    assert folder_url["url"] == "http://testserver.local/files/data/run/download"


async def test_downloading_nothing_is_404(client: Client, alice: dict[str, str]) -> None:
    response = await client.get("/files/data/missing.txt/download", headers=alice)
    assert response.status_code == 404


async def test_suffixes_win_unless_the_path_ends_with_a_slash(
    client: Client, alice: dict[str, str]
) -> None:
    await upload(client, alice, "data/url", "inside.txt", b"x")
    as_url = await client.get("/files/data/url", headers=alice)
    assert as_url.json()["url"] == "http://testserver.local/files/data/download"
    as_folder = await client.get("/files/data/url/", headers=alice)
    assert paths(as_folder.json()) == ["data/url/inside.txt"]
    created = await client.post("/files/data/upload/", headers=alice)
    assert created.status_code == 201
    assert created.json()["path"] == "data/upload/"


async def test_create_a_folder(client: Client, alice: dict[str, str]) -> None:
    response = await client.post("/files/data/a/b/", headers=alice)
    assert response.status_code == 201
    assert response.json() == {
        "path": "data/a/b/",
        "type": "directory",
        "size": "",
        "size_bytes": 0,
    }
    assert (await client.post("/files/data/a/b/", headers=alice)).status_code == 201
    listing = await client.get("/files/data?recursive=true", headers=alice)
    assert paths(listing.json()) == ["data/a/", "data/a/b/"]
    assert (await client.post("/files/output/x/", headers=alice)).status_code == 400
    await upload(client, alice, "data", "f.txt", b"x")
    assert (await client.post("/files/data/f.txt/", headers=alice)).status_code == 409


async def test_rename(client: Client, alice: dict[str, str]) -> None:
    await upload(client, alice, "data", "a.txt", b"abc")
    await upload(client, alice, "data/full", "b.txt", b"x")
    await client.post("/files/data/empty/", headers=alice)

    moved = await client.put("/files/data/a.txt", headers=alice, json={"path": "artifact/n/a.txt"})
    assert moved.status_code == 200
    assert moved.json() == {
        "path": "artifact/n/a.txt",
        "type": "file",
        "size": "3 Bytes",
        "size_bytes": 3,
    }
    folder = await client.put("/files/data/empty/", headers=alice, json={"path": "config/e"})
    assert folder.json()["path"] == "config/e/"

    async def status(path: str, new_path: object) -> int:
        response = await client.put(f"/files/{path}", headers=alice, json={"path": new_path})
        return response.status_code

    assert await status("data/missing", "data/x") == 404
    assert await status("data/full", "data/x") == 405
    assert await status("data", "data2/x") == 405
    assert await status("", "data/x") == 405
    assert await status("artifact/n/a.txt", "data/full/b.txt") == 409
    assert await status("artifact/n/a.txt", "toplevel.txt") == 400
    assert await status("artifact/n/a.txt", "../escape.txt") == 400
    assert await status("artifact/n/a.txt", 42) == 400


async def test_delete(client: Client, alice: dict[str, str]) -> None:
    await upload(client, alice, "data/run", "a.txt", b"abc")
    await upload(client, alice, "config", "c.yaml", b"abc")
    assert (await client.delete("/files/data/run/a.txt", headers=alice)).status_code == 204
    assert (await client.delete("/files/data/run/a.txt", headers=alice)).status_code == 204
    assert (await client.delete("/files/data", headers=alice)).status_code == 204
    listing = await client.get("/files/?recursive=true", headers=alice)
    assert paths(listing.json()) == [*PREDEFINED[:2], "config/c.yaml", *PREDEFINED[2:]]
    assert (await client.delete("/files/", headers=alice)).status_code == 204
    assert paths((await client.get("/files/?recursive=true", headers=alice)).json()) == PREDEFINED


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/files/"),
        ("GET", "/files/data/a/download"),
        ("GET", "/files/data/a/url"),
        ("POST", "/files/data/upload"),
        ("POST", "/files/data/url"),
        ("POST", "/files/data/x/"),
        ("PUT", "/files/data/a"),
        ("DELETE", "/files/data/a"),
    ],
)
async def test_every_route_needs_a_token(client: Client, method: str, path: str) -> None:
    response = await client.request(method, path, json={"path": "data/b"})
    assert response.status_code == 401


class TestTwoUsers:
    """Bob cannot see or touch Alice's files, whatever he sends."""

    @pytest.fixture
    async def alice_folder(
        self, client: Client, alice: dict[str, str], settings: Settings
    ) -> AsyncIterator[str]:
        await upload(client, alice, "config", "secret.txt", b"alice's secret")
        yield user_folder_holding(settings, "config/secret.txt")
        secret = await client.get("/files/config/secret.txt/download", headers=alice)
        assert secret.content == b"alice's secret"
        assert paths((await client.get("/files/?recursive=1", headers=alice)).json()) == [
            *PREDEFINED[:2],
            "config/secret.txt",
            *PREDEFINED[2:],
        ]

    async def test_bob_sees_only_his_own_space(
        self, client: Client, headers_for: HeadersFor, alice_folder: str
    ) -> None:
        bob = await headers_for("bob")
        listing = await client.get("/files/?recursive=true", headers=bob)
        assert paths(listing.json()) == PREDEFINED
        own = await client.get("/files/config/secret.txt/download", headers=bob)
        assert own.status_code == 404

    @pytest.mark.parametrize(
        "hostile",
        [
            "%2e%2e/{alice}/config/secret.txt",
            "..%2f{alice}%2fconfig%2fsecret.txt",
            "config/%2e%2e/%2e%2e/{alice}/config/secret.txt",
            "config%2F..%2F..%2F{alice}%2Fconfig%2Fsecret.txt",
            "%2F{alice}/config/secret.txt",
            "/{alice}/config/secret.txt",
            "{alice}/config/secret.txt",
            "..%5c{alice}%5cconfig%5csecret.txt",
            "config%5c..%5c..%5c{alice}%5cconfig%5csecret.txt",
            "%2e%2e%2f%2e%2e%2f{alice}/config/secret.txt",
            ".%2e/{alice}/config/secret.txt",
        ],
    )
    async def test_no_route_escapes_bobs_space(
        self, client: Client, headers_for: HeadersFor, alice_folder: str, hostile: str
    ) -> None:
        bob = await headers_for("bob")
        path = "/files/" + hostile.format(alice=alice_folder)
        for suffix in ("", "/download", "/url"):
            response = await client.get(path + suffix, headers=bob)
            assert response.status_code in (400, 404), (suffix, response.text)
            assert b"alice's secret" not in response.content
        config_path = "/files/config/" + hostile.format(alice=alice_folder)
        for target in (path, config_path):
            for suffix in ("/upload", "/url", "/"):
                response = await client.post(
                    target + suffix, headers=bob, files={"file": ("secret.txt", b"bob was here")}
                )
                assert response.status_code in (400, 201), (suffix, response.text)
            response = await client.put(path, headers=bob, json={"path": "data/stolen.txt"})
            assert response.status_code in (400, 404), response.text
            response = await client.put(
                "/files/data/x", headers=bob, json={"path": hostile.format(alice=alice_folder)}
            )
            assert response.status_code in (400, 404), response.text
            assert (await client.delete(target, headers=bob)).status_code in (400, 204)
