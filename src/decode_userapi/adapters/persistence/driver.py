"""SQLAlchemy Core statements run straight on the database driver, for the job routes.

Through an `AsyncSession` a primary-key SELECT of a job cost about 0.25 ms of Python
(session, greenlet hand-offs, execution context) against 10 µs in `sqlite3` itself: on
the busiest routes SQLAlchemy's execution machinery, not the database, was most of the
time. Here SQLAlchemy still builds and compiles every statement (once per dialect for the
statements built at import) and still converts every value (its types' bind and result
processors for the dialect), but the compiled SQL goes to the driver directly:
- SQLite: `sqlite3` connections of our own, used on the event loop's thread (see
  `sqlite_inline`: a lock held by another connection is waited for with `asyncio.sleep`);
  transactions as `sqlite3` opens them (before the first write).
- PostgreSQL: the asyncpg connection under a connection of the engine's pool (its
  pre-ping, recycling and JSON codecs apply), with a transaction opened at the first
  statement.

Driver errors are raised as SQLAlchemy's (`IntegrityError`, `OperationalError`,
`DBAPIError`), so callers and the HTTP error mapping see one kind of database error.
"""

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

from asyncpg.exceptions import IntegrityConstraintViolationError
from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from decode_userapi.adapters.persistence.sqlite_inline import sqlite_pragmas, waiting_for_locks

Processor = Callable[[Any], Any] | None
Params = Mapping[str, Any]


class _Plan:
    """One statement compiled for one dialect: its SQL, the order of its parameters and
    the conversions of parameters and result columns."""

    __slots__ = ("_bind_processors", "_compiled", "_conversions", "_fixed", "_positions", "sql")

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = cast(
            SQLCompiler,
            statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True}),
        )
        self._compiled = compiled
        self.sql = compiled.string
        self._positions = tuple(compiled.positiontup or ())
        binds = compiled.binds
        self._bind_processors: tuple[Processor, ...] = tuple(
            binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if name in binds
            else None
            for name in self._positions
        )
        self._fixed: dict[str, Any] | None = (
            {
                name: binds[name].effective_value
                for name in self._positions
                if not binds[name].required
            }
            if all(name in binds for name in self._positions)
            else None
        )
        """The values the statement carries, when each parameter is one of its own binds
        (not one of an IN list expanded at compile time): then no `construct_params`."""
        columns = getattr(statement, "exported_columns", ())
        processors = (
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        self._conversions: tuple[tuple[int, Callable[[Any], Any]], ...] = tuple(
            (place, process) for place, process in enumerate(processors) if process is not None
        )
        """The result columns that need converting: (place, converter)."""

    def parameters(self, given: Params | None) -> list[Any]:
        if self._fixed is None:
            values = self._compiled.construct_params(dict(given) if given else None)
        else:
            values = {**self._fixed, **given} if given else self._fixed
        return [
            value if process is None else process(value)
            for process, value in zip(
                self._bind_processors, (values[name] for name in self._positions), strict=True
            )
        ]

    def convert(self, rows: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        conversions = self._conversions
        if not conversions:
            return list(rows)
        converted: list[Sequence[Any]] = []
        for row in rows:
            values = list(row)
            for place, process in conversions:
                values[place] = process(values[place])
            converted.append(values)
        return converted


class Prepared:
    """A statement built and compiled once per dialect, on first use: `build` answers
    the statement for a dialect's name (`sqlite`, `postgresql`)."""

    __slots__ = ("_build", "_plans")

    def __init__(self, build: Callable[[str], ClauseElement]) -> None:
        self._build = build
        self._plans: dict[str, _Plan] = {}

    def plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = _Plan(self._build(dialect.name), dialect)
        return plan


Statement = Prepared | ClauseElement
"""A `Prepared` statement, or one built for this call (compiled for this call too)."""


class _DriverConnection(Protocol):
    async def fetch(self, sql: str, parameters: list[Any]) -> Sequence[Sequence[Any]]: ...

    async def execute(self, sql: str, parameters: list[Any]) -> int: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    async def release(self) -> None:
        """Roll back what was not committed and give the connection back."""
        ...


class SqlConnection:
    """One unit of work's connection and transaction, taken from the pool at the first
    statement. Rows come back as sequences in the order of the statement's columns."""

    def __init__(self, database: "Database") -> None:
        self._database = database
        self._driver: _DriverConnection | None = None

    @property
    def dialect(self) -> Dialect:
        return self._database.dialect

    async def rows(
        self, statement: Statement, parameters: Params | None = None
    ) -> list[Sequence[Any]]:
        plan = self._plan(statement)
        driver = await self._connection()
        return plan.convert(await driver.fetch(plan.sql, plan.parameters(parameters)))

    async def first(
        self, statement: Statement, parameters: Params | None = None
    ) -> Sequence[Any] | None:
        found = await self.rows(statement, parameters)
        return found[0] if found else None

    async def run(self, statement: Statement, parameters: Params | None = None) -> int:
        """Runs a statement that returns no rows; answers how many rows it changed."""
        plan = self._plan(statement)
        driver = await self._connection()
        return await driver.execute(plan.sql, plan.parameters(parameters))

    async def commit(self) -> None:
        if self._driver is not None:
            await self._driver.commit()

    async def rollback(self) -> None:
        if self._driver is not None:
            await self._driver.rollback()

    async def close(self) -> None:
        """Rolls back what was not committed; the connection goes back to the pool."""
        driver, self._driver = self._driver, None
        if driver is not None:
            await driver.release()

    def _plan(self, statement: Statement) -> _Plan:
        if isinstance(statement, Prepared):
            return statement.plan(self._database.dialect)
        return _Plan(statement, self._database.dialect)

    async def _connection(self) -> _DriverConnection:
        if self._driver is None:
            self._driver = await self._database.acquire()
        return self._driver


class Database(Protocol):
    dialect: Dialect

    async def acquire(self) -> _DriverConnection: ...

    async def close(self) -> None: ...


def _raised(
    error: Exception, sql: str, parameters: list[Any], *, lost: bool = False
) -> exc.DBAPIError:
    """The driver's `error` as SQLAlchemy's exception of the same kind."""
    if isinstance(error, sqlite3.IntegrityError | IntegrityConstraintViolationError):
        return exc.IntegrityError(sql, parameters, error)
    if isinstance(error, sqlite3.OperationalError) or lost:
        return exc.OperationalError(sql, parameters, error, connection_invalidated=lost)
    return exc.DBAPIError(sql, parameters, error)


# --- SQLite ---------------------------------------------------------------------------------


class _SqliteConnection:
    def __init__(self, connection: sqlite3.Connection, pool: "SqliteDatabase") -> None:
        self._connection = connection
        self._pool = pool

    async def fetch(self, sql: str, parameters: list[Any]) -> Sequence[Sequence[Any]]:
        try:
            return await waiting_for_locks(
                lambda: self._connection.execute(sql, parameters).fetchall()
            )
        except sqlite3.Error as error:
            raise _raised(error, sql, parameters) from error

    async def execute(self, sql: str, parameters: list[Any]) -> int:
        try:
            cursor = await waiting_for_locks(lambda: self._connection.execute(sql, parameters))
        except sqlite3.Error as error:
            raise _raised(error, sql, parameters) from error
        return cursor.rowcount

    async def commit(self) -> None:
        try:
            await waiting_for_locks(self._connection.commit)
        except sqlite3.Error as error:
            raise _raised(error, "COMMIT", []) from error

    async def rollback(self) -> None:
        self._connection.rollback()

    async def release(self) -> None:
        if self._connection.in_transaction:
            self._connection.rollback()
        self._pool.give_back(self._connection)


class SqliteDatabase:
    """`sqlite3` connections to one database file, kept for reuse (as many as were ever
    in use at once, at most `KEPT` idle)."""

    KEPT = 8

    def __init__(self, path: str, dialect: Dialect) -> None:
        self.dialect = dialect
        self._path = path
        self._idle: list[sqlite3.Connection] = []

    async def acquire(self) -> _SqliteConnection:
        if self._idle:
            return _SqliteConnection(self._idle.pop(), self)
        connection = sqlite3.connect(self._path, timeout=0, check_same_thread=False)
        sqlite_pragmas(connection)
        return _SqliteConnection(connection, self)

    def give_back(self, connection: sqlite3.Connection) -> None:
        if len(self._idle) < self.KEPT:
            self._idle.append(connection)
        else:
            connection.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


# --- PostgreSQL -----------------------------------------------------------------------------


class _AsyncpgConnection:
    def __init__(self, pooled: AsyncConnection, driver: Any) -> None:
        self._pooled = pooled
        self._driver = driver
        self._transaction: Any = None
        self._lost = False

    async def _in_transaction(self) -> None:
        if self._transaction is None:
            self._transaction = self._driver.transaction()
            await self._transaction.start()

    async def fetch(self, sql: str, parameters: list[Any]) -> Sequence[Sequence[Any]]:
        try:
            await self._in_transaction()
            rows: Sequence[Sequence[Any]] = await self._driver.fetch(sql, *parameters)
        except Exception as error:
            raise self._failed(error, sql, parameters) from error
        return rows

    async def execute(self, sql: str, parameters: list[Any]) -> int:
        try:
            await self._in_transaction()
            status: str = await self._driver.execute(sql, *parameters)
        except Exception as error:
            raise self._failed(error, sql, parameters) from error
        count = status.rpartition(" ")[2]  # "UPDATE 1", "INSERT 0 1", "DELETE 3"
        return int(count) if count.isdigit() else 0

    def _failed(self, error: Exception, sql: str, parameters: list[Any]) -> exc.DBAPIError:
        self._lost = self._driver.is_closed() or isinstance(error, OSError)
        return _raised(error, sql, parameters, lost=self._lost)

    async def commit(self) -> None:
        await self._end("COMMIT")

    async def rollback(self) -> None:
        await self._end("ROLLBACK")

    async def _end(self, how: str) -> None:
        transaction, self._transaction = self._transaction, None
        if transaction is None:
            return
        try:
            await (transaction.commit() if how == "COMMIT" else transaction.rollback())
        except Exception as error:
            raise self._failed(error, how, []) from error

    async def release(self) -> None:
        transaction, self._transaction = self._transaction, None
        try:
            if transaction is not None and not self._lost:
                await transaction.rollback()
        finally:
            if self._lost or self._driver.is_closed():
                await self._pooled.invalidate()
            await self._pooled.close()


class AsyncpgDatabase:
    """Connections of the engine's pool, used through their asyncpg connection."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.dialect = engine.dialect
        self._engine = engine

    async def acquire(self) -> _AsyncpgConnection:
        pooled = await self._engine.connect()
        try:
            raw = await pooled.get_raw_connection()
        except BaseException:
            await pooled.close()
            raise
        return _AsyncpgConnection(pooled, raw.driver_connection)

    async def close(self) -> None:
        """The engine's pool is closed with the engine."""


def database_for(engine: AsyncEngine) -> SqliteDatabase | AsyncpgDatabase:
    if engine.url.get_backend_name() == "sqlite":
        return SqliteDatabase(engine.url.database or ":memory:", engine.dialect)
    return AsyncpgDatabase(engine)
