"""`/docs` in a real browser: Swagger UI renders the document, and "Try it out" on
`GET /jobs` with a token from the Authorize dialog answers 200.

Runs Debian's `chromium` headless against a real server (`benchmarks.live_server`) on
127.0.0.1, with no network: the page and its assets come from the service itself. The
screenshot of the page after the call is kept as `docs.png` in the test's temporary folder.
"""

import json
from pathlib import Path

import pytest

from benchmarks.live_server import running_server
from tests.integration.chromium import Page, chromium_page, chromium_path

CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium (apt-get install chromium; .ci/run installs it)"
)

_OPERATION = """[...document.querySelectorAll('.opblock-get')].find(block =>
    block.querySelector('.opblock-summary-path')?.textContent.trim() === '/jobs')"""


_BEARER = """[...document.querySelectorAll('.auth-container')].find(box =>
    box.querySelector('h4 code')?.textContent === 'bearer')"""


def _present(page: Page, selector: str, within: str = "document") -> None:
    page.wait_for(f"!!({within})?.querySelector({json.dumps(selector)})")


def _click(page: Page, selector: str, within: str = "document") -> None:
    _present(page, selector, within)
    page.evaluate(f"({within}).querySelector({json.dumps(selector)}).click()")


def _authorize(page: Page, token: str) -> None:
    _click(page, ".auth-wrapper .authorize")
    page.wait_for("!!document.querySelector('#auth-bearer-value')")
    page.evaluate("document.querySelector('#auth-bearer-value').focus()")
    page.type_text(token)
    _click(page, "button.authorize", within=_BEARER)
    _present(page, "[aria-label='Remove authorization']", within=_BEARER)  # token taken
    _click(page, "button.btn-done", within=_BEARER)
    page.wait_for("!document.querySelector('.modal-ux')")


def test_swagger_ui_renders_and_try_it_out_calls_the_api(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    with running_server(tmp_path) as server, chromium_page(CHROMIUM) as page:
        token = server.headers["Authorization"].removeprefix("Bearer ")
        page.goto(f"{server.url}/docs")
        operations = page.wait_for("document.querySelectorAll('.opblock').length")
        assert operations >= 10
        assert not page.evaluate("document.body.innerText.includes('Unable to render')")

        _authorize(page, token)
        _click(page, ".opblock-summary-control", within=_OPERATION)
        _click(page, ".try-out__btn", within=_OPERATION)
        _click(page, ".execute", within=_OPERATION)
        status = page.wait_for(
            f"({_OPERATION}).querySelector('.live-responses-table tr.response"
            " .response-col_status')?.textContent.trim()"
        )
        curl = page.evaluate(f"({_OPERATION}).querySelector('.curl').textContent")
        page.screenshot(tmp_path / "docs.png")

    assert status == "200"
    assert f"Authorization: Bearer {token}" in curl
