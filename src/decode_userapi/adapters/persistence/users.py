"""Accounts of the local identity provider, in the `users` table."""

from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec
from sqlalchemy import JSON, DateTime, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from decode_userapi.adapters.persistence.orm import Base
from decode_userapi.domain.errors import AlreadyExists, NotFound


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    groups: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Account(msgspec.Struct, frozen=True):
    """A stored account: `id` is the token's `cognito:username` and the user's folder."""

    id: str
    email: str
    password_hash: str
    groups: tuple[str, ...]


def _account(row: UserRow) -> Account:
    return Account(row.id, row.email, row.password_hash, tuple(row.groups))


class SqlaAccounts:
    """Accounts by (lower-cased) email."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, account: Account) -> None:
        """`AlreadyExists` when the email is taken."""
        row = UserRow(
            id=account.id,
            email=account.email,
            password_hash=account.password_hash,
            groups=list(account.groups),
            created_at=datetime.now(UTC),
        )
        try:
            async with self._sessions() as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise AlreadyExists(f"A user with the email {account.email} exists.") from None

    async def find(self, email: str) -> Account | None:
        async with self._sessions() as session:
            row = await session.scalar(select(UserRow).where(UserRow.email == email))
            return None if row is None else _account(row)

    async def replace_password_hash(self, account_id: str, old: str, new: str) -> None:
        """Store `new` as the account's hash if it still holds `old` (a concurrent change
        of password wins)."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(UserRow)
                .where(UserRow.id == account_id, UserRow.password_hash == old)
                .values(password_hash=new)
            )

    async def change_groups(
        self, email: str, *, add: Sequence[str], remove: Sequence[str]
    ) -> Account:
        """`NotFound` for an unknown email."""
        async with self._sessions() as session, session.begin():
            row = await session.scalar(
                select(UserRow).where(UserRow.email == email).with_for_update()
            )
            if row is None:
                raise NotFound(f"No user has the email {email}.")
            kept = [group for group in row.groups if group not in remove]
            row.groups = [*kept, *(group for group in add if group not in kept)]
            return _account(row)

    async def all(self) -> list[Account]:
        async with self._sessions() as session:
            rows = await session.scalars(select(UserRow).order_by(UserRow.email))
            return [_account(row) for row in rows]

    async def delete(self, email: str) -> None:
        """`NotFound` for an unknown email."""
        async with self._sessions() as session, session.begin():
            row = await session.scalar(select(UserRow).where(UserRow.email == email))
            if row is None:
                raise NotFound(f"No user has the email {email}.")
            await session.delete(row)

    async def set_password_hash(self, email: str, password_hash: str) -> None:
        """`NotFound` for an unknown email."""
        async with self._sessions() as session, session.begin():
            row = await session.scalar(
                select(UserRow).where(UserRow.email == email).with_for_update()
            )
            if row is None:
                raise NotFound(f"No user has the email {email}.")
            row.password_hash = password_hash
