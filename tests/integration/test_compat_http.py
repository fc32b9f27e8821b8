"""What the original's clients send beyond jobs (issue 12), on both stacks: flags spelled
every way the original reads them, a rename onto itself, CORS for the frontend's
development server, and 4xx answers that read as sentences on every route."""

from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from decode_userapi.entrypoints.container import build_container
from decode_userapi.entrypoints.http.app import create_app
from decode_userapi.entrypoints.settings import Settings, frontend_origins
from tests.conftest import HeadersFor

Client = AsyncTestClient[Litestar]
DEV_FRONTEND = "http://localhost:8080"
TUS = {"tus-resumable": "1.0.0"}
OFFSET_STREAM = {"content-type": "application/offset+octet-stream"}


@pytest.fixture
async def alice(headers_for: HeadersFor) -> dict[str, str]:
    return await headers_for("alice")


async def upload(client: Client, headers: dict[str, str], folder: str, name: str) -> None:
    response = await client.post(
        f"/files/{folder}/upload", headers=headers, files={"file": (name, b"abc")}
    )
    assert response.status_code == 201, response.text


TRUE = ["true", "True", "TRUE", "1", "yes", "Yes", "on", "t", "T", "y", "Y"]
FALSE = ["false", "False", "0", "no", "No", "off", "f", "F", "n", "N"]


async def test_flags_read_every_spelling_of_the_original(
    client: Client, alice: dict[str, str]
) -> None:
    await upload(client, alice, "data/sub", "b.txt")
    everything = ["data/sub/", "data/sub/b.txt"]
    for yes in TRUE:
        listing = await client.get(f"/files/data?recursive={yes}&show_dirs={yes}", headers=alice)
        assert listing.status_code == 200, (yes, listing.text)
        assert [item["path"] for item in listing.json()] == everything, yes
    for no in FALSE:
        listing = await client.get(f"/files/data?recursive={no}&show_dirs={no}", headers=alice)
        assert listing.status_code == 200, (no, listing.text)
        assert listing.json() == [], no


async def test_a_flag_that_is_no_boolean_is_400_naming_it(
    client: Client, alice: dict[str, str]
) -> None:
    response = await client.get("/files/data?show_dirs=maybe", headers=alice)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("The query parameter show_dirs must be true or false"), detail
    assert "'maybe'" in detail


@pytest.mark.parametrize(("path", "same"), [("data/a.txt", "/data//a.txt"), ("data/d/", "data/d")])
async def test_renaming_onto_the_same_path_changes_nothing(
    client: Client, alice: dict[str, str], path: str, same: str
) -> None:
    await upload(client, alice, "data", "a.txt")
    await upload(client, alice, "data/d", "inside.txt")
    before = (await client.get("/files/data?recursive=1", headers=alice)).json()
    response = await client.put(f"/files/{path}", headers=alice, json={"path": same})
    assert response.status_code == 200, response.text
    assert response.json()["path"] == path
    assert (await client.get("/files/data?recursive=1", headers=alice)).json() == before
    download = await client.get("/files/data/a.txt/download", headers=alice)
    assert download.content == b"abc"


PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


async def preflight(client: Client, origin: str) -> Any:
    return await client.options("/jobs", headers={"Origin": origin, **PREFLIGHT})


async def test_cors_lets_the_frontends_dev_server_in_without_configuration(
    client: Client, stack: str
) -> None:
    answer = await preflight(client, DEV_FRONTEND)
    allowed = answer.headers.get("access-control-allow-origin")
    if stack == "embedded":  # no FRONTEND_URL: the development server, as the original
        assert answer.status_code in (200, 204), answer.text
        assert allowed == DEV_FRONTEND
        assert answer.headers["access-control-allow-credentials"] == "true"
        assert "POST" in answer.headers["access-control-allow-methods"]
        assert "authorization" in answer.headers["access-control-allow-headers"].lower()
    else:  # with Cognito (production) no origin is allowed unless configured
        assert allowed is None
    other = await preflight(client, "https://evil.example")
    assert other.headers.get("access-control-allow-origin") is None


async def test_cors_lets_a_browser_tus_client_read_the_upload_headers(
    client: Client, alice: dict[str, str], embedded_only: None
) -> None:
    """(The production stack here has no FRONTEND_URL, hence no CORS.)"""
    headers = {**alice, **TUS, "Origin": DEV_FRONTEND, "Upload-Length": "1"}
    headers["Upload-Metadata"] = "path ZGF0YQ==,filename YQ=="
    answer = await client.post("/uploads/", headers=headers)
    assert answer.status_code == 201, answer.text
    exposed = {
        name.strip().lower() for name in answer.headers["access-control-expose-headers"].split(",")
    }
    assert {"location", "upload-offset", "upload-expires", "tus-resumable"} <= exposed


async def test_cors_allows_each_configured_origin(settings: Settings) -> None:
    origins = "https://decode.example.org, http://localhost:8080/"
    configured = msgspec.structs.replace(
        settings, frontend_urls=frontend_origins(origins, cognito=settings.identity == "cognito")
    )
    async with AsyncTestClient(create_app(build_container(configured))) as client:
        for origin in ("https://decode.example.org", DEV_FRONTEND):
            answer = await preflight(client, origin)
            assert answer.headers.get("access-control-allow-origin") == origin
            assert answer.headers["access-control-allow-credentials"] == "true"
        simple = await client.get("/", headers={"Origin": "https://decode.example.org"})
        assert simple.headers["access-control-allow-origin"] == "https://decode.example.org"
        other = await preflight(client, "https://other.example.org")
        assert other.headers.get("access-control-allow-origin") is None


KEY = {"x-api-key": "internal-test-key"}
FORM = "application/x-www-form-urlencoded"
APPLICATION = {"application": "decode", "version": "v1", "entrypoint": "train"}


def job(**changes: object) -> dict[str, object]:
    return {"job_name": "exp", "application": APPLICATION} | changes


BAD_REQUESTS: list[tuple[str, str, str, dict[str, Any]]] = [
    # (route, method, url, request arguments); "auth" in arguments: send alice's token
    ("/files/{path:path}", "GET", "/files/data?show_dirs=maybe", {}),
    ("/files/{path:path}", "GET", "/files/data?recursive=", {}),
    ("/files/{path:path}", "GET", "/files/data/missing/download", {}),
    ("/files/{path:path}", "GET", "/files/data/a%5Cb", {}),
    ("/files/{path:path}", "GET", "/files/data/a%0Ab/url", {}),
    ("/files/{path:path}", "POST", "/files/config/x/upload", {"content": b"not multipart"}),
    ("/files/{path:path}", "POST", "/files/other/x/", {}),
    ("/files/{path:path}", "PUT", "/files/data/a", {"json": {"path": 3}}),
    ("/files/{path:path}", "PUT", "/files/data/a", {"json": {}}),
    ("/files/{path:path}", "PUT", "/files/data/a", {"json": ["data/b"]}),
    ("/files/{path:path}", "PUT", "/files/data/a", {"content": b"{not json"}),
    ("/files/{path:path}", "DELETE", "/files/data/..%2F..", {}),
    ("/files/{path:path}", "GET", "/files/data/?limit=0", {}),
    ("/files/{path:path}", "GET", "/files/data/?limit=5&cursor=%21%21", {}),
    ("/files", "PUT", "/files", {"json": {"path": None}}),
    ("/files", "POST", "/files", {}),
    ("/jobs", "GET", "/jobs?limit=abc", {}),
    ("/jobs", "GET", "/jobs?limit=0", {}),
    ("/jobs", "GET", "/jobs?offset=-1", {}),
    ("/jobs", "GET", "/jobs?status=paused", {}),
    ("/jobs", "GET", "/jobs?status=queued&status=paused", {}),
    ("/jobs", "GET", "/jobs?tag=novalue", {}),
    ("/jobs", "GET", "/jobs?tag=a%20b:c", {}),
    ("/jobs", "GET", "/jobs?created_after=yesterday", {}),
    ("/jobs", "GET", "/jobs?created_before=2026-02-30", {}),
    ("/jobs", "GET", "/jobs?q=" + "x" * 300, {}),
    ("/jobs", "GET", "/jobs?cursor=%21%21", {}),
    ("/jobs", "GET", "/jobs?offset=1&cursor=abc", {}),
    ("/jobs", "POST", "/jobs", {"json": job(tags={"a b": "c"})}),
    ("/jobs", "POST", "/jobs", {"json": job(tags={"k": 1})}),
    ("/jobs", "POST", "/jobs", {"json": job(tags=["k"])}),
    ("/jobs", "POST", "/jobs", {"json": job(priority="high")}),
    ("/jobs", "POST", "/jobs", {"json": job(priority=1.5)}),
    ("/jobs", "POST", "/jobs", {"json": job(environment="mars")}),
    ("/jobs", "POST", "/jobs", {"json": job(hardware={"cpu_cores": "many"})}),
    ("/jobs", "POST", "/jobs", {"json": job(hardware=[])}),
    ("/jobs", "POST", "/jobs", {"json": job(attributes={"files_down": {"data_ids": [1]}})}),
    ("/jobs", "POST", "/jobs", {"json": job(attributes={"env_vars": {"SEED": 42}})}),
    ("/jobs", "POST", "/jobs", {"json": job(application={"application": "decode"})}),
    ("/jobs", "POST", "/jobs", {"json": {"application": APPLICATION}}),
    ("/jobs", "POST", "/jobs", {"json": job(job_name=None)}),
    ("/jobs", "POST", "/jobs", {"json": []}),
    (
        "/jobs",
        "POST",
        "/jobs",
        {"content": b"null", "headers": {"content-type": "application/json"}},
    ),
    ("/jobs", "POST", "/jobs", {"content": b"{", "headers": {"content-type": "application/json"}}),
    ("/jobs", "PATCH", "/jobs", {}),
    ("/jobs", "POST", "/jobs", {"json": job(), "headers": {"Idempotency-Key": "x" * 300}}),
    ("/jobs/applications", "POST", "/jobs/applications", {}),
    ("/jobs/{job_id:int}", "GET", "/jobs/424242", {}),
    ("/jobs/{job_id:int}", "DELETE", "/jobs/424242", {}),
    ("/jobs/{job_id:int}", "PUT", "/jobs/1", {"json": {}}),
    ("/jobs/events", "GET", "/jobs/events?last_event_id=abc", {}),
    ("/jobs/events", "GET", "/jobs/events", {"headers": {"Last-Event-ID": "-3"}}),
    ("/jobs/events", "POST", "/jobs/events", {}),
    ("/jobs/{job_id:int}/events", "GET", "/jobs/424242/events", {}),
    ("/jobs/{job_id:int}/events", "GET", "/jobs/1/events?last_event_id=1e3", {}),
    (
        "/jobs/{job_id:int}/events",
        "GET",
        "/jobs/1/events",
        {"headers": {"Last-Event-ID": "99999999999999999999"}},
    ),
    ("/jobs/{job_id:int}/log", "GET", "/jobs/424242/log", {}),
    ("/jobs/{job_id:int}/log", "GET", "/jobs/1/log?follow=maybe", {}),
    ("/jobs/{job_id:int}/cancel", "POST", "/jobs/424242/cancel", {}),
    ("/jobs/{job_id:int}/cancel", "GET", "/jobs/1/cancel", {}),
    ("/jobs/{job_id:int}/cancel", "POST", "/jobs/abc/cancel", {}),
    ("/jobs/{job_id:int}/rerun", "POST", "/jobs/424242/rerun", {}),
    ("/jobs/{job_id:int}/rerun", "POST", "/jobs/1/rerun", {"json": {"priority": "high"}}),
    ("/jobs/{job_id:int}/rerun", "POST", "/jobs/1/rerun", {"json": ["x"]}),
    ("/jobs/{job_id:int}/rerun", "POST", "/jobs/1/rerun", {"json": {"job_name": 3}}),
    ("/jobs/{job_id:int}/rerun", "DELETE", "/jobs/1/rerun", {}),
    ("/jobs/{job_id:int}/rerun", "POST", "/jobs/1/rerun", {"headers": {"Idempotency-Key": ""}}),
    ("/_job_status", "PUT", "/_job_status", {"json": {"job_id": "x", "status": "running"}}),
    ("/_job_status", "PUT", "/_job_status", {"json": {"job_id": 1, "status": "paused"}}),
    ("/_job_status", "PUT", "/_job_status", {"json": {"status": "running"}}),
    ("/_job_status", "PUT", "/_job_status", {"json": {"job_id": 424242, "status": "running"}}),
    ("/_job_status", "PUT", "/_job_status", {"json": {"job_id": 1, "runtime_details": 5}}),
    ("/user", "POST", "/user", {"content": b"username=a%40example.org", "form": True}),
    ("/user", "POST", "/user", {"content": b"username=a&password=x", "form": True}),
    ("/user", "POST", "/user", {"json": {"username": "a@example.org"}}),
    ("/user", "DELETE", "/user", {}),
    ("/token", "POST", "/token", {"content": b"password=x", "form": True}),
    ("/token", "POST", "/token", {"content": b"username=nobody%40example.org&password=Wrong-1x"}),
    ("/login", "POST", "/login", {"content": b"username=", "form": True}),
    ("/access_info", "POST", "/access_info", {}),
    ("/", "POST", "/", {}),
    ("/health/live", "POST", "/health/live", {}),
    ("/health/ready", "DELETE", "/health/ready", {}),
    ("/.well-known/jwks.json", "POST", "/.well-known/jwks.json", {}),
    ("/openapi.json", "POST", "/openapi.json", {}),
    ("/docs", "POST", "/docs", {}),
    ("/metrics", "POST", "/metrics", {}),
    ("/docs/{path:str}", "POST", "/docs/swagger", {}),
    ("/docs/openapi.json", "POST", "/docs/openapi.json", {}),
    ("/docs/oauth2-redirect.html", "POST", "/docs/oauth2-redirect.html", {}),
    ("/docs/assets/{file_path:path}", "GET", "/docs/assets/..%2F..%2Fsecret", {}),
    ("/files/{path:path}", "POST", "/files/data/multipart", {"json": {"filename": "a"}}),
    ("/files/{path:path}", "POST", "/files/data/multipart", {"content": b"{"}),
    ("/files/{path:path}", "POST", "/files/data/multipart/x/complete", {"json": {"parts": []}}),
    ("/uploads", "POST", "/uploads/", {}),
    ("/uploads", "POST", "/uploads/", {"headers": {**TUS, "upload-metadata": "path ZGF0YQ=="}}),
    (
        "/uploads",
        "POST",
        "/uploads/",
        {"headers": {**TUS, "upload-length": "3", "upload-metadata": "path ZGF0YQ=="}},
    ),
    (
        "/uploads",
        "POST",
        "/uploads/",
        {"headers": {**TUS, "upload-length": "3", "upload-metadata": "path !!,filename YQ=="}},
    ),
    (
        "/uploads/{upload_id:str}",
        "PATCH",
        "/uploads/nope",
        {"headers": {**TUS, **OFFSET_STREAM, "upload-offset": "0"}, "content": b"x"},
    ),
    ("/uploads/{upload_id:str}", "PATCH", "/uploads/nope", {"headers": TUS, "content": b"x"}),
    ("/uploads/{upload_id:str}", "DELETE", "/uploads/nope", {"headers": TUS}),
    ("(none)", "GET", "/nowhere", {}),
]


def test_every_route_has_bad_requests(app: Litestar) -> None:
    routes = {route.path for route in app.routes}
    assert routes <= {route for route, *_ in BAD_REQUESTS}, "add bad requests for new routes"


async def test_no_4xx_answer_shows_python_reprs(client: Client, alice: dict[str, str]) -> None:
    shown: list[str] = []
    for _, method, url, arguments in BAD_REQUESTS:
        options = dict(arguments)
        headers = {**alice, **KEY, **options.pop("headers", {})}
        if options.pop("form", False):
            headers["content-type"] = FORM
        response = await client.request(method, url, headers=headers, **options)
        where = f"{method} {url}: {response.status_code} {response.text}"
        assert 400 <= response.status_code < 500, where
        assert "{'" not in response.text, where
        assert "'key':" not in response.text, where
        detail = response.json()["detail"]
        assert isinstance(detail, str), where
        assert "`" not in detail, where
        assert "Validation failed" not in detail, where
        shown.append(f"{method} {url} -> {response.status_code} {detail}")
    print("\n".join(shown))  # shown with -s: what users read


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (job(priority="high"), "priority must be a whole number or null, not text."),
        (job(job_name=None), "job_name must be text, not null."),
        ({"application": APPLICATION}, "job_name is required."),
        (job(application={"application": "decode"}), "application.version is required."),
        (
            job(attributes={"files_down": {"data_ids": ["a", 1]}}),
            "attributes.files_down.data_ids[1] must be text, not a whole number.",
        ),
        (job(environment="mars"), "environment must be one of cloud, local, not 'mars'."),
        (
            job(attributes={"env_vars": {"SEED": 42}}),
            "Each value of attributes.env_vars must be text, not a whole number.",
        ),
        ([], "The request body must be an object, not a list."),
    ],
)
async def test_validation_errors_are_sentences_naming_the_field(
    client: Client, alice: dict[str, str], body: object, detail: str
) -> None:
    response = await client.post("/jobs", json=body, headers=alice)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail), response.json()["detail"]


async def test_a_body_that_is_no_json_is_400_saying_so(
    client: Client, alice: dict[str, str]
) -> None:
    headers = {**alice, "content-type": "application/json"}
    response = await client.post("/jobs", content=b'{"job_name": ', headers=headers)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("The request body is not valid JSON: ")


async def test_query_errors_name_the_parameter(client: Client, alice: dict[str, str]) -> None:
    answers = {
        "limit=abc": "The query parameter limit must be a whole number.",
        "limit=0": "The query parameter limit must be a whole number of at least 1.",
        "status=paused": (
            "The query parameter status must be one of queued, pulled, preprocessing, running,"
            " postprocessing, finished, error, canceled, not 'paused'."
        ),
    }
    for query, detail in answers.items():
        response = await client.get(f"/jobs?{query}", headers=alice)
        assert response.status_code == 400
        assert response.json()["detail"].startswith(detail), response.json()["detail"]
