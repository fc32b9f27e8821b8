"""The request class of the app: JSON bodies that break the decoder are the client's fault."""

from typing import Any

from litestar import Request
from litestar.exceptions import SerializationException


class JsonSafeRequest(Request[Any, Any, Any]):
    """Litestar turns malformed JSON into 400 but lets two decoder errors through as
    500s: a body nested deeper than the decoder goes (`RecursionError`) and one that is
    not UTF-8 (`UnicodeDecodeError`). Both are refused here as malformed JSON."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError:
            raise SerializationException("The JSON body is nested too deeply.") from None
        except UnicodeDecodeError:
            raise SerializationException("The JSON body is not valid UTF-8.") from None
