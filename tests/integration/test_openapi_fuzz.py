"""Schemathesis over the app's own OpenAPI document, against the app served for real.

Every operation gets examples that fit its schema and examples that do not, sent with a
valid bearer token (and the internal `x-api-key`), on both stacks: none may answer 5xx.
Bounded by the number of examples per operation; they are derived from a fixed seed, so
a run is repeatable.
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.core.result import Ok

from decode_userapi.entrypoints.container import Container, build_container
from decode_userapi.entrypoints.settings import Settings
from tests.conftest import TEST_PASSWORD
from tests.integration import test_jobs_api as jobs_api
from tests.integration.live_app import serve_in_thread
from tests.integration.test_jobs_api import KEY, job_body

# The jobs suite's stand-ins for the worker-facing API, Mailjet and the registry.
worker_api = jobs_api.worker_api
mailjet = jobs_api.mailjet
registry = jobs_api.registry
settings = jobs_api.settings

EXAMPLES_PER_OPERATION = {"embedded": 30, "production": 20}
"""About 20 s per stack on the 2-core development machine (S3 and Cognito calls cost more)."""


@pytest.fixture
def live_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(build_container(settings)) as url:
        yield url


async def test_no_operation_answers_5xx(live_url: str, container: Container, stack: str) -> None:
    email = "fuzz@example.org"
    await container.register_user()(email, TEST_PASSWORD, ["users"])
    token = (await container.sign_in()(email, TEST_PASSWORD)).id_token
    headers = {"Authorization": f"Bearer {token}", **KEY}
    async with httpx.AsyncClient(base_url=live_url, headers=headers) as http:
        # Something to find: a file, a folder and a job.
        upload = await http.post("/files/data/run/upload", files={"file": ("a.tif", b"x")})
        assert upload.status_code == 201, upload.text
        assert (await http.post("/jobs", json=job_body(inputs=False))).status_code == 201

    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json")
    operations: list[APIOperation[Any, Any, Any, Any]] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert len(operations) > 10
    server_errors: list[str] = []
    for operation in operations:
        fuzz_one(operation, live_url, headers, EXAMPLES_PER_OPERATION[stack], server_errors)
    assert server_errors == []


LIVE_STREAMS = {"/jobs/events", "/jobs/{job_id}/events", "/jobs/{job_id}/log"}
"""Answers that may stay open as long as the client listens: only their status is read."""


def answer_of_stream(case: Case[Any], url: str, headers: dict[str, str]) -> tuple[int, str]:
    """The status of `case` (and the body of an error), without reading a live stream."""
    arguments = case.as_transport_kwargs(base_url=url, headers=headers)
    request = httpx.Request(
        arguments["method"],
        arguments["url"],
        params=arguments.get("params"),
        headers=arguments.get("headers"),
    )
    with httpx.Client(timeout=30) as client:
        response = client.send(request, stream=True)
        try:
            text = response.read().decode(errors="replace") if response.status_code >= 400 else ""
            return response.status_code, text
        finally:
            response.close()


def fuzz_one(
    operation: APIOperation[Any, Any, Any, Any],
    url: str,
    headers: dict[str, str],
    examples: int,
    server_errors: list[str],
) -> None:
    """Sends examples of `operation` that fit its schema and examples that do not."""
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def send(case: Case[Any]) -> None:
        if operation.path in LIVE_STREAMS:
            status, text = answer_of_stream(case, url, headers)
        else:
            response = case.call(base_url=url, headers=headers, timeout=30)
            status, text = response.status_code, response.text
        if status >= 500:
            server_errors.append(
                f"{case.method} {case.formatted_path} → {status}: "
                f"{text[:200]}\n{case.as_curl_command()}"
            )

    send()
