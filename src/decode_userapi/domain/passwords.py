"""The password policy of the local identity provider (Cognito's default policy)."""

from decode_userapi.domain.errors import InvalidInput

MIN_LENGTH = 8
MAX_LENGTH = 256


def check_password_policy(password: str) -> None:
    """Raise `InvalidInput` naming every rule the password breaks.

    At least 8 and at most 256 characters, with a lowercase letter, an uppercase
    letter, a digit and a symbol (any character that is neither a letter nor a digit).
    """
    missing = []
    if len(password) < MIN_LENGTH:
        missing.append(f"at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        missing.append(f"at most {MAX_LENGTH} characters")
    if not any(ch.islower() for ch in password):
        missing.append("a lowercase letter")
    if not any(ch.isupper() for ch in password):
        missing.append("an uppercase letter")
    if not any(ch.isdigit() for ch in password):
        missing.append("a digit")
    if all(ch.isalnum() for ch in password):
        missing.append("a symbol such as !, #, - or _")
    if missing:
        raise InvalidInput(f"The password does not meet the policy: it needs {', '.join(missing)}.")
