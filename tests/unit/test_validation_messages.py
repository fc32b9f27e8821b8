from typing import Literal

import msgspec
import pytest

from decode_userapi.domain.jobs import JobState
from decode_userapi.entrypoints.http.validation_messages import (
    choices,
    sentence,
    validation_detail,
)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            {"message": "Expected `int | null`, got `str`", "key": "priority", "source": "body"},
            "priority must be a whole number or null, not text.",
        ),
        (
            {"message": "Expected `int`, got `str`", "key": "limit", "source": "query"},
            "The query parameter limit must be a whole number.",
        ),
        (
            {"message": "Expected `int` >= 1", "key": "limit", "source": "query"},
            "The query parameter limit must be a whole number of at least 1.",
        ),
        (
            {"message": "Expected `str` of length <= 255", "key": "name", "source": "body"},
            "name must be text of at most 255 characters.",
        ),
        (
            {"message": "Expected `array` of length >= 1", "key": "ids", "source": "body"},
            "ids must be a list of at least 1 item.",
        ),
        (
            {"message": "Expected `str` matching regex '^[a-z]+$'", "key": "n", "source": "body"},
            "n must match the pattern '^[a-z]+$'.",
        ),
        (
            {
                "message": "Object missing required field `job_name`",
                "key": "data",
                "source": "body",
            },
            "job_name is required.",
        ),
        (
            {"message": "Object contains unknown field `colour`", "key": "hardware"},
            "hardware.colour is not a known field.",
        ),
        (
            {"message": "Invalid enum value 'mars'", "key": "environment", "source": "body"},
            "environment may not be 'mars'; the API documentation (/docs) lists the accepted"
            " values.",
        ),
        (
            {"message": "Expected `str`, got `int`", "key": "env_vars[...]", "source": "body"},
            "Each value of env_vars must be text, not a whole number.",
        ),
        (
            {"message": "Expected `object`, got `null`", "key": "data", "source": "body"},
            "The request body must be an object, not null.",
        ),
        (
            {"message": "Invalid RFC3339 encoded datetime", "key": "since", "source": "query"},
            "The query parameter since is not valid: Invalid RFC3339 encoded datetime.",
        ),
    ],
)
def test_each_error_reads_as_a_sentence_naming_the_field(
    error: dict[str, object], expected: str
) -> None:
    assert sentence(error) == expected


def test_several_errors_are_joined_and_odd_extras_fall_back() -> None:
    errors = [
        {"message": "Expected `int`, got `str`", "key": "a", "source": "body"},
        {"message": "Object missing required field `b`", "key": "data", "source": "body"},
    ]
    assert validation_detail(errors, "x") == "a must be a whole number, not text. b is required."
    assert validation_detail({"a": 1}, "Validation failed") == "Validation failed"
    assert validation_detail([], "Validation failed") == "Validation failed"


class Inner(msgspec.Struct):
    mode: Literal["fast", "slow"] | None = None


class Body(msgspec.Struct):
    inner: Inner
    state: JobState
    count: int = 0


def test_choices_name_what_an_enum_or_literal_accepts() -> None:
    assert choices(Body, ["inner", "mode"]) == ["fast", "slow"]
    assert choices(Body, ["state"])[:2] == ["queued", "pulled"]
    assert choices(JobState | None, []) == [s.value for s in JobState]
    assert choices(Body, ["count"]) == []
    assert choices(Body, ["nowhere"]) == []
    assert choices(Body, ["count", "deeper"]) == []


def test_a_bad_enum_value_lists_the_accepted_ones() -> None:
    error = {"message": "Invalid enum value 'warp'", "key": "inner.mode", "source": "body"}
    assert sentence(error, {"data": Body}) == "inner.mode must be one of fast, slow, not 'warp'."
    query = {"message": "Invalid enum value 'x'", "key": "state", "source": "query"}
    assert sentence(query, {"state": JobState}).startswith(
        "The query parameter state must be one of queued, pulled,"
    )
