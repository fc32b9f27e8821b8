"""Sentences for the validation errors Litestar reports, one per bad value.

Litestar describes a request that does not fit the handler's signature as a list of
`{"message": msgspec's message, "key": "priority", "source": "body"}`. Users read the
`detail` of the answer (the frontend shows it under the form), so each entry becomes a
sentence that names the field: `priority must be a whole number or null, not text.`
"""

import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from litestar import Request

_TYPE_WORDS = {
    "int": "a whole number",
    "float": "a decimal number",
    "str": "text",
    "bool": "true or false",
    "null": "null",
    "object": "an object",
    "array": "a list",
    "datetime": "a date and time (ISO 8601)",
    "date": "a date (ISO 8601)",
    "uuid": "a UUID",
}
_BOUND_WORDS = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than"}
_TEXT_SOURCES = ("query", "path", "header", "cookie")
"""Where every value arrives as text: saying `not text` would not help."""
_BODY = "the request body"

_WRONG_TYPE = re.compile(r"Expected `(?P<expected>[^`]+)`, got `(?P<got>[^`]+)`")
_OUT_OF_BOUNDS = re.compile(r"Expected `(?P<expected>[^`]+)` (?P<op>[<>]=?) (?P<bound>\S+)")
_BAD_LENGTH = re.compile(r"Expected `(?P<expected>[^`]+)` of length (?P<op>[<>]=?) (?P<bound>\d+)")
_NO_MATCH = re.compile(r"Expected `[^`]+` matching regex (?P<pattern>.+)")
_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")
_BAD_VALUE = re.compile(r"Invalid (?:enum )?value (?P<value>.+)")


def _types(expected: str) -> str:
    """`int | null` → `a whole number or null`."""
    return " or ".join(_TYPE_WORDS.get(name.strip(), name.strip()) for name in expected.split("|"))


def _subject(key: object, source: object) -> str:
    if not isinstance(key, str) or not key or (source == "body" and key == "data"):
        return _BODY
    if source in _TEXT_SOURCES:
        return f"the {source} parameter {key}"
    if key.endswith("[...]"):  # msgspec's path to the values of a mapping
        return f"each value of {key.removesuffix('[...]')}"
    return key


def _field(subject: str, field: str) -> str:
    return field if subject == _BODY else f"{subject}.{field}"


def _unwrap(info: msgspec.inspect.Type) -> msgspec.inspect.Type:
    """`X | None` and `Annotated[X, Meta(...)]` → X."""
    if isinstance(info, msgspec.inspect.Metadata):
        return _unwrap(info.type)
    if isinstance(info, msgspec.inspect.UnionType):
        kinds = [kind for kind in info.types if not isinstance(kind, msgspec.inspect.NoneType)]
        return _unwrap(kinds[0]) if len(kinds) == 1 else info
    return info


def choices(annotation: object, path: Sequence[str]) -> list[str]:
    """The values an enum or `Literal` at `path` inside `annotation` accepts (or each item
    of a list there); [] otherwise."""
    try:
        info = msgspec.inspect.type_info(annotation)
    except TypeError:  # not a type msgspec describes
        return []
    for name in path:
        info = _unwrap(info)
        if not isinstance(info, msgspec.inspect.StructType):
            return []
        found = next((field.type for field in info.fields if field.encode_name == name), None)
        if found is None:
            return []
        info = found
    info = _unwrap(info)
    if isinstance(info, msgspec.inspect.ListType):  # a repeated query parameter
        info = _unwrap(info.item_type)
    if isinstance(info, msgspec.inspect.LiteralType):
        return [str(value) for value in info.values if value is not None]
    if isinstance(info, msgspec.inspect.EnumType):
        return [str(member.value) for member in info.cls]
    return []


def _describe(message: str, subject: str, typed: bool, accepted: Sequence[str]) -> str:
    if found := _WRONG_TYPE.search(message):
        got = f", not {_types(found['got'])}" if typed else ""
        return f"{subject} must be {_types(found['expected'])}{got}."
    if found := _OUT_OF_BOUNDS.search(message):
        bound = f"{_BOUND_WORDS[found['op']]} {found['bound']}"
        return f"{subject} must be {_types(found['expected'])} of {bound}."
    if found := _BAD_LENGTH.search(message):
        unit = "item" if found["expected"] == "array" else "character"
        unit += "" if found["bound"] == "1" else "s"
        bound = f"{_BOUND_WORDS[found['op']]} {found['bound']} {unit}"
        return f"{subject} must be {_types(found['expected'])} of {bound}."
    if found := _NO_MATCH.search(message):
        return f"{subject} must match the pattern {found['pattern']}."
    if found := _MISSING.search(message):
        return f"{_field(subject, found['field'])} is required."
    if found := _UNKNOWN.search(message):
        return f"{_field(subject, found['field'])} is not a known field."
    if (found := _BAD_VALUE.search(message)) and accepted:
        return f"{subject} must be one of {', '.join(accepted)}, not {found['value']}."
    if found := _BAD_VALUE.search(message):
        return (
            f"{subject} may not be {found['value']}; "
            "the API documentation (/docs) lists the accepted values."
        )
    return f"{subject} is not valid: {message.replace('`', '')}."


def sentence(error: Mapping[str, object], parameters: Mapping[str, object] | None = None) -> str:
    """One of Litestar's validation entries as a sentence naming the field.

    `parameters` maps the handler's parameter names to their types (the body is `data`);
    with them, a bad enum value is answered with the accepted ones.
    """
    source = getattr(error.get("source"), "value", error.get("source"))  # a ParamType or text
    key = error.get("key")
    subject = _subject(key, source)
    accepted: list[str] = []
    if parameters and isinstance(key, str):
        root, path = ("data", key.split(".")) if source == "body" else (key, [])
        accepted = choices(parameters.get(root), path)
    message = str(error.get("message", "")).strip()
    text = _describe(message, subject, source not in _TEXT_SOURCES, accepted)
    return text[:1].upper() + text[1:] if text.startswith(("the ", "each ")) else text


def handler_parameters(request: Request[Any, Any, Any]) -> dict[str, object]:
    """The types of the parameters of the handler `request` was routed to."""
    handler = request.scope.get("route_handler")
    if handler is None:
        return {}
    parameters = handler.parsed_fn_signature.parameters
    return {name: field.annotation for name, field in parameters.items()}


def validation_detail(
    errors: object, fallback: str, parameters: Mapping[str, object] | None = None
) -> str:
    """The `detail` of a 400 for Litestar's `ValidationException.extra`."""
    if not isinstance(errors, list):
        return fallback
    sentences = [sentence(error, parameters) for error in errors if isinstance(error, Mapping)]
    return " ".join(sentences) or fallback
