"""Sentences for the validation errors Litestar reports, one per bad value.

Litestar describes a request that does not fit the handler's signature as a list of
`{"message": msgspec's message, "key": "priority", "source": "body"}`. Users read the
`detail` of the answer (the frontend shows it under the form), so each entry becomes a
sentence that names the field: `priority must be a whole number or null, not text.`
"""

import re
from collections.abc import Callable, Mapping

_TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
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


def _types(expected: str) -> str:
    """`int | null` → `a whole number or null`."""
    words = [_TYPE_WORDS.get(name.strip(), name.strip()) for name in expected.split("|")]
    return " or ".join(words)


def _unit(expected: str) -> str:
    return "items" if expected == "array" else "characters"


_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str], str, bool], str]]] = [
    (
        re.compile(r"Expected `(?P<expected>[^`]+)`, got `(?P<got>[^`]+)`"),
        lambda m, subject, typed: (
            f"{subject} must be {_types(m['expected'])}"
            + (f", not {_types(m['got'])}." if typed else ".")
        ),
    ),
    (
        re.compile(r"Expected `(?P<expected>[^`]+)` (?P<op>[<>]=?) (?P<bound>\S+)"),
        lambda m, subject, _: (
            f"{subject} must be {_types(m['expected'])} {_BOUND_WORDS[m['op']]} {m['bound']}."
        ),
    ),
    (
        re.compile(r"Expected `(?P<expected>[^`]+)` of length (?P<op>[<>]=?) (?P<bound>\d+)"),
        lambda m, subject, _: (
            f"{subject} must be {_types(m['expected'])} of "
            f"{_BOUND_WORDS[m['op']]} {m['bound']} {_unit(m['expected'])}."
        ),
    ),
    (
        re.compile(r"Expected `(?P<expected>[^`]+)` matching regex (?P<pattern>.+)"),
        lambda m, subject, _: f"{subject} must match the pattern {m['pattern']}.",
    ),
    (
        re.compile(r"Object missing required field `(?P<field>[^`]+)`"),
        lambda m, subject, _: f"{_inside(subject, m['field'])} is required.",
    ),
    (
        re.compile(r"Object contains unknown field `(?P<field>[^`]+)`"),
        lambda m, subject, _: f"{_inside(subject, m['field'])} is not a known field.",
    ),
    (
        re.compile(r"Invalid (?:enum )?value (?P<value>.+)"),
        lambda m, subject, _: (
            f"{subject} may not be {m['value']}; "
            "the API documentation (/docs) lists the accepted values."
        ),
    ),
]

_BODY = "the request body"


def _inside(subject: str, field: str) -> str:
    return field if subject == _BODY else f"{subject}.{field}"


def _subject(key: object, source: object) -> str:
    if not isinstance(key, str) or not key or (source == "body" and key == "data"):
        return _BODY
    if source in ("query", "path", "header", "cookie"):
        return f"the {source} parameter {key}"
    return key


def _capitalised(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:] if sentence.startswith("the ") else sentence


def sentence(error: Mapping[str, object]) -> str:
    """One of Litestar's validation entries as a sentence naming the field."""
    message = str(error.get("message", "")).strip()
    source = error.get("source")
    subject = _subject(error.get("key"), source)
    typed = source not in ("query", "path", "header", "cookie")  # those are always text
    for pattern, word in _RULES:
        match = pattern.search(message)
        if match:
            return _capitalised(word(match, subject, typed))
    return _capitalised(f"{subject} is not valid: {message.replace('`', '')}.")


def validation_detail(errors: object, fallback: str) -> str:
    """The `detail` of a 400 for Litestar's `ValidationException.extra`."""
    if not isinstance(errors, list):
        return fallback
    sentences = [sentence(error) for error in errors if isinstance(error, Mapping)]
    return " ".join(sentences) or fallback
