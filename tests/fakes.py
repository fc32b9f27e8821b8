"""In-memory fakes of our own ports, for tests that are not about those ports."""

from collections.abc import Sequence

from decode_userapi.domain.errors import NotAuthenticated, NotImplementedByBackend
from decode_userapi.domain.users import User
from decode_userapi.ports.identity_provider import IssuedToken


class FakeIdentityProvider:
    """Accepts tokens `fake:<user id>:<group>,<group>`; users in `users` unless told."""

    async def verify(self, token: str) -> User:
        prefix, _, rest = token.partition(":")
        user_id, _, groups = rest.partition(":")
        if prefix != "fake" or not user_id:
            raise NotAuthenticated("Not a fake token.")
        return User(id=user_id, email=f"{user_id}@example.org", groups=tuple(groups.split(",")))

    async def register(self, email: str, password: str, groups: Sequence[str]) -> User:
        raise NotImplementedByBackend("The fake identity provider registers nobody.")

    async def issue_token(self, email: str, password: str) -> IssuedToken:
        raise NotImplementedByBackend("The fake identity provider signs nobody in.")

    def access_info(self) -> dict[str, dict[str, str]]:
        return {"fake": {}}


def fake_token(user_id: str, groups: Sequence[str] = ("users",)) -> str:
    return f"fake:{user_id}:{','.join(groups)}"
