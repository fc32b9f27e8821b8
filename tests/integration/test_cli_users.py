import asyncio
import getpass
from pathlib import Path

import jwt
import pytest

from decode_userapi.entrypoints.cli import main
from decode_userapi.entrypoints.container import build_container
from decode_userapi.entrypoints.settings import Settings, load_settings
from tests.servers.fixtures import CognitoPool
from tests.servers.moto import REGION

PASSWORD = "Operator-set-9"


@pytest.fixture
def cli_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The CLI reads the process environment (and `.env` in the working folder)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/db.sqlite")
    monkeypatch.setenv("USER_DATA_ROOT_PATH", str(tmp_path / "user_data"))
    monkeypatch.setenv("LOCAL_IDENTITY_KEY_PATH", str(tmp_path / "keys" / "identity_key.pem"))
    return load_settings(env_file=None)


@pytest.fixture
def cognito_cli_settings(
    cli_settings: Settings, cognito_pool: CognitoPool, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """The same, with accounts in a Cognito user pool (moto)."""
    monkeypatch.setenv("COGNITO_USER_POOL_ID", cognito_pool.pool_id)
    monkeypatch.setenv("COGNITO_CLIENT_ID", cognito_pool.client_id)
    monkeypatch.setenv("COGNITO_REGION", REGION)
    monkeypatch.setenv("COGNITO_ENDPOINT_URL", cognito_pool.endpoint)
    return load_settings(env_file=None)


def groups_in_token(settings: Settings, email: str, password: str) -> list[str]:
    """Sign in through the provider (`main` runs its own event loop, so tests are sync)."""

    async def sign_in() -> list[str]:
        container = build_container(settings)
        try:
            token = (await container.sign_in()(email, password)).id_token
            user = await container.identity_verifier().verify(token)
        finally:
            await container.engine().dispose()
        assert jwt.decode(token, options={"verify_signature": False})["email"] == email
        return list(user.groups)

    return asyncio.run(sign_in())


def test_operator_adds_and_approves_a_user(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["user", "add", "Op@Example.org", "--password", PASSWORD, "--group", "workers"])
    assert "op@example.org: groups workers" in capsys.readouterr().out
    assert groups_in_token(cli_settings, "op@example.org", PASSWORD) == ["workers"]

    main(["user", "groups", "op@example.org", "--add", "users", "--remove", "workers"])
    assert "op@example.org: groups users" in capsys.readouterr().out
    assert groups_in_token(cli_settings, "op@example.org", PASSWORD) == ["users"]


def test_operator_approves_a_cognito_user(
    cognito_cli_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["user", "add", "cog@example.org", "--password", PASSWORD, "--group", "workers"])
    assert "cog@example.org: groups workers" in capsys.readouterr().out

    main(["user", "groups", "cog@example.org", "--add", "users"])
    assert "cog@example.org: groups users, workers" in capsys.readouterr().out
    assert groups_in_token(cognito_cli_settings, "cog@example.org", PASSWORD) == [
        "users",
        "workers",
    ]

    with pytest.raises(SystemExit) as exited:
        main(["user", "groups", "nobody@example.org", "--add", "users"])
    assert exited.value.code == 1
    assert "No user has the email nobody@example.org." in capsys.readouterr().err


def test_password_is_asked_for_when_not_given(
    cli_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(getpass, "getpass", lambda prompt: PASSWORD)
    main(["user", "add", "asked@example.org"])
    assert groups_in_token(cli_settings, "asked@example.org", PASSWORD) == ["users"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["user", "add", "weak@example.org", "--password", "weak"], "uppercase"),
        (["user", "add", "x@example.org", "--password", PASSWORD, "--group", "root"], "root"),
        (["user", "groups", "nobody@example.org", "--add", "users"], "nobody@example.org"),
    ],
)
def test_refusals_exit_1_with_the_reason(
    cli_settings: Settings, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("back_end", ["cli_settings", "cognito_cli_settings"])
def test_operator_lists_resets_and_deletes_accounts(
    back_end: str, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    settings: Settings = request.getfixturevalue(back_end)
    main(["user", "add", "b@example.org", "--password", PASSWORD, "--group", "workers"])
    main(["user", "add", "a@example.org", "--password", PASSWORD])
    capsys.readouterr()

    main(["user", "list"])
    listed = capsys.readouterr()
    assert listed.out.splitlines() == [
        "a@example.org: groups users",
        "b@example.org: groups workers",
    ]
    assert "INFO" not in listed.err  # no Alembic lines in user commands

    main(["user", "passwd", "a@example.org", "--password", "Changed-pass-7"])
    assert groups_in_token(settings, "a@example.org", "Changed-pass-7") == ["users"]

    main(["user", "delete", "b@example.org"])
    capsys.readouterr()
    main(["user", "list"])
    assert capsys.readouterr().out.splitlines() == ["a@example.org: groups users"]
    for argv in (["user", "delete", "b@example.org"], ["user", "passwd", "b@example.org"]):
        with pytest.raises(SystemExit) as exited:
            main([*argv, "--password", PASSWORD] if argv[1] == "passwd" else argv)
        assert exited.value.code == 1
        assert "b@example.org" in capsys.readouterr().err
