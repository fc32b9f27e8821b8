"""Boolean query parameters, read as the original API reads them.

Clients written for the original send `True`/`False` (the frontend), `1`/`0`, `yes`/`no`,
`on`/`off`, `t`/`f` or `y`/`n`; any case is fine.
"""

from typing import Any

from litestar.openapi.spec import OpenAPIType
from litestar.params import QueryParameter

from decode_userapi.domain.errors import InvalidInput

_TRUE = frozenset(("true", "1", "yes", "on", "t", "y"))
_FALSE = frozenset(("false", "0", "no", "off", "f", "n"))


def flag_parameter(description: str, default: bool) -> Any:
    """The `QueryParameter` of a flag: documented as a boolean, received as text."""
    return QueryParameter(
        description=f"{description} (`true`/`false`; also `1`/`0`, `yes`/`no`, `on`/`off`).",
        schema_extra={"type": OpenAPIType.BOOLEAN, "default": default},
    )


def read_flag(name: str, raw: str) -> bool:
    """`raw` as a boolean; `InvalidInput` naming the parameter when it is none."""
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InvalidInput(
        f"The query parameter {name} must be true or false (or 1/0, yes/no, on/off, t/f, y/n), "
        f"not '{raw}'."
    )
