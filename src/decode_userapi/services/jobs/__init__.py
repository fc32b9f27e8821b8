"""Use cases of jobs: the registry, starting, following and deleting jobs."""

from decode_userapi.domain.files import FileRef
from decode_userapi.domain.users import User


def user_space(user_id: str) -> FileRef:
    """The root of a user's private space in the storage."""
    return FileRef((user_id,))


def in_space(user: User | str, ref: FileRef) -> FileRef:
    """`ref` (relative to the user's space) as a path from the storage root."""
    user_id = user if isinstance(user, str) else user.id
    return FileRef((*user_space(user_id).parts, *ref.parts))
