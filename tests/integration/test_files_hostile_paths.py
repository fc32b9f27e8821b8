"""Generated hostile paths against every file route, on both stacks: whatever the path,
nothing outside the caller's space is read, written, listed or deleted.

Next to the caller (alice) live a second user (bob) with a secret file, and canaries
outside the users' spaces: one at the storage root and one outside the storage root
(beside the data folder; on S3 outside the key prefix). After every generated path the
storage holds exactly bob's file, the canaries and what lies in alice's own space, all
unchanged; no answer ever shows bob's id, his file or a canary, and none is a 5xx.
"""

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar import Litestar
from litestar.testing import AsyncTestClient

from decode_userapi.entrypoints.settings import Settings
from tests.conftest import HeadersFor

Client = AsyncTestClient[Litestar]
BOB_SECRET = b"bob's secret 7f3a"
CANARY = b"canary 91c2"
EXAMPLES = 30

PIECES = [
    "..", ".", "...", "%2e%2e", "%2E%2e", ".%2e", "%2e.", "%252e%252e", "..%2f", "..%5c",
    "%2f", "%5c", "\\", "..\\..", "//", "%00", "\x00", "~", "C:", "etc/passwd",
    "\u2025", "\uff0e\uff0e", "\u202e", "\u200b..", "e\u0301", "\ufe52\ufe52", "%c0%ae%c0%ae",
    "a" * 300, ".staging", "config", "data", "canary.txt", "{bob}", "{alice}",
    "bob-secret.txt", "user_data",
]  # fmt: skip
SEPARATORS = ["/", "\\", "%2f", "%5c", "//"]


@st.composite
def hostile_paths(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(st.text(min_size=1, max_size=40))
    pieces = draw(st.lists(st.sampled_from(PIECES), min_size=1, max_size=7))
    path = pieces[0]
    for piece in pieces[1:]:
        path += draw(st.sampled_from(SEPARATORS)) + piece
    return draw(st.sampled_from(["", "/", "%2f", "\\"])) + path


def _user_id(headers: dict[str, str]) -> str:
    payload = headers["Authorization"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    user_id: str = claims["cognito:username"]
    return user_id


class World:
    """What the storage holds outside alice's space, and how to read all of it."""

    def __init__(self, settings: Settings, alice: str, bob: str) -> None:
        self.settings, self.alice, self.bob = settings, alice, bob
        self.root = settings.user_data_root_path.strip("/")
        self.expected_outside = {
            f"{bob}/config/bob-secret.txt": BOB_SECRET,
            "canary.txt": CANARY,
            "../canary.txt": CANARY,
        }
        if settings.filesystem == "s3":
            self.s3 = boto3.client(
                "s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.s3_region
            )
        self.plant("canary.txt", CANARY)
        self.plant("../canary.txt", CANARY)

    def plant(self, name: str, content: bytes) -> None:
        if self.settings.filesystem == "s3":
            key = name.removeprefix("../") if name.startswith("../") else f"{self.root}/{name}"
            self.s3.put_object(Bucket=self.settings.s3_bucket, Key=key, Body=content)
        else:
            (Path(self.settings.user_data_root_path) / name).write_bytes(content)

    def files_outside_alice(self) -> dict[str, bytes]:
        """Every file outside alice's space, named relative to the storage root."""
        return dict(self._files())

    def _files(self) -> Iterator[tuple[str, bytes]]:
        if self.settings.filesystem == "s3":
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.settings.s3_bucket
            )
            for page in pages:
                for item in page.get("Contents", ()):
                    key = item["Key"]
                    name = (
                        key.removeprefix(f"{self.root}/")
                        if key.startswith(f"{self.root}/")
                        else f"../{key}"
                    )
                    if name.endswith("/") or name.startswith(f"{self.alice}/"):
                        continue
                    body = self.s3.get_object(Bucket=self.settings.s3_bucket, Key=key)["Body"]
                    yield name, body.read()
            return
        root = Path(self.settings.user_data_root_path)
        for path in root.parent.rglob("*"):
            name = (
                str(path.relative_to(root))
                if path.is_relative_to(root)
                else f"../{path.relative_to(root.parent)}"
            )
            if not path.is_file() or name.startswith((f"{self.alice}/", "../user_data")):
                continue
            if path.parent == root.parent and path.name != "canary.txt":
                continue  # the test's own database and signing key
            yield name, path.read_bytes()


@pytest.fixture
async def world(client: Client, headers_for: HeadersFor, settings: Settings) -> World:
    bob = await headers_for("bob")
    stored = await client.post(
        "/files/config/upload", headers=bob, files={"file": ("bob-secret.txt", BOB_SECRET)}
    )
    assert stored.status_code == 201
    alice = await headers_for("alice")
    assert (await client.get("/files/", headers=alice)).status_code == 200
    return World(settings, _user_id(alice), _user_id(bob))


def _leaks(world: World, hostile: str, body: bytes) -> list[str]:
    """Bob's or a canary's content; names and ids too unless the request itself held them
    (a 404 echoes the user's path)."""
    text = body.decode("utf-8", "replace")
    found = [repr(what) for what in (BOB_SECRET, CANARY) if what in body]
    names = [world.bob, "bob-secret", world.alice]
    return found + [name for name in names if name in text and name not in hostile]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=hostile_paths())
async def test_no_hostile_path_reaches_outside_the_callers_space(
    client: Client, headers_for: HeadersFor, world: World, raw: str
) -> None:
    alice = await headers_for("alice")
    hostile = raw.replace("{bob}", world.bob).replace("{alice}", world.alice)
    url = "/files/" + quote(hostile, safe="/%\\")
    form = {"file": ("f.txt", b"alice was here")}
    # Folders an earlier example made may be named after an id ("data/{alice}/"): inside
    # alice's space, not a leak, but a later listing would show the id.
    assert (await client.delete("/files/", headers=alice)).status_code == 204
    own = await client.post(
        "/files/data/upload", headers=alice, files={"file": ("own.txt", b"own")}
    )
    assert own.status_code == 201
    answers = [
        await client.get(url, headers=alice),
        await client.get(url + "?recursive=true", headers=alice),
        await client.get(url + "/download", headers=alice),
        await client.get(url + "/url", headers=alice),
        await client.post(url + "/upload", headers=alice, files=form),
        await client.post(url + "/url", headers=alice),
        await client.post(url + "/", headers=alice),
        await client.post(
            "/files/data/upload", headers=alice, files={"file": (hostile, b"named badly")}
        ),
        await client.put(url, headers=alice, json={"path": "data/moved.txt"}),
        await client.put("/files/data/own.txt", headers=alice, json={"path": hostile}),
        await client.delete(url, headers=alice),
    ]
    for answer in answers:
        request = f"{answer.request.method} {answer.request.url}"
        assert answer.status_code < 500, (request, answer.text)
        presigned = world.settings.filesystem == "s3" and answer.request.url.path.endswith("/url")
        # A presigned S3 URL names the storage key, and so the caller's id.
        body = answer.content.replace(world.alice.encode(), b"") if presigned else answer.content
        assert _leaks(world, hostile, body) == [], (request, answer.text)
    assert world.files_outside_alice() == world.expected_outside
