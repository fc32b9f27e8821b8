"""Who a caller is: the user an ID token speaks for."""

from typing import Any, Protocol, runtime_checkable

from decode_userapi.domain.users import User


@runtime_checkable  # handlers receive it as a Litestar dependency, which checks types
class IdentityVerifier(Protocol):
    """Verifies ID tokens shaped like AWS Cognito's."""

    async def verify(self, token: str) -> User:
        """The user an ID token speaks for.

        Raises `NotAuthenticated` for a missing, malformed, expired or forged token, or
        one issued for another audience/issuer or not of `token_use: id`. Group
        membership is *not* checked here.
        """
        ...

    def jwks(self) -> dict[str, list[dict[str, Any]]] | None:
        """The JSON Web Key Set that verifies the tokens when the service publishes it
        itself; None when the identity back-end publishes its keys elsewhere."""
        ...
