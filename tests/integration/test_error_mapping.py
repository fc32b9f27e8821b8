"""How errors the routes do not handle become HTTP answers."""

import logging

import pytest
from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from decode_userapi.domain.errors import DomainError
from decode_userapi.entrypoints.http.errors import EXCEPTION_HANDLERS


class NewKindOfError(DomainError):
    """A domain error nobody gave a status code yet."""


@get("/new-error", sync_to_thread=False)
def raise_new_error() -> None:
    raise NewKindOfError("Something the core refused.")


async def test_an_unmapped_domain_error_is_a_logged_500(caplog: pytest.LogCaptureFixture) -> None:
    app = Litestar(
        [raise_new_error],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        logging_config=None,  # leaves pytest's log capture in place
    )
    async with AsyncTestClient(app) as client:
        with caplog.at_level(logging.ERROR):
            response = await client.get("/new-error")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    [record] = [r for r in caplog.records if "NewKindOfError" in r.getMessage()]
    assert "GET /new-error" in record.getMessage()
