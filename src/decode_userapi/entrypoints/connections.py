"""Slow and idle connections to the server the CLI starts (uvicorn, httptools).

uvicorn closes a connection only when it stays idle after a response
(`timeout_keep_alive`): one that sends nothing, or trickles its headers or its body,
stays open for ever, and it accepts connections until file descriptors run out. Its
httptools protocol also takes request heads of any size. This protocol adds what is
missing:

- a deadline for a request's headers, from the connection's start or from the first
  byte after a keep-alive pause, that trickling does not extend;
- a cap on a request's head (request line and headers): a larger one is answered 400 and
  the connection closed, as uvicorn's h11 protocol does;
- a body idle timeout: a request whose body stops arriving while the app waits for it is
  closed (the app sees the client disconnect); a body the app is slow to read is not;
- a cap on open connections: above it, the connections idle longest (no request in
  progress, waiting for headers included) are closed to make room, and a newcomer is
  refused only when every connection is busy with a request;
- at shutdown, live streams (marked by `mark_live_stream`) are closed at once: uvicorn
  waits for every response to complete, and a stream of events has no end of its own, so
  one open browser tab would hold the process for ever. Their clients reconnect (to
  another replica) and resume; other responses (downloads) still complete.
"""

import asyncio
import time
from typing import Any

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 16 * 1024
"""The request line and headers of one request, as uvicorn's h11 protocol allows."""

LIVE_STREAM = "decode_userapi.live_stream"


def mark_live_stream(scope: Any) -> None:
    """Marks the request of `scope` (its ASGI scope) as a live stream: closed at shutdown."""
    scope.setdefault("state", {})[LIVE_STREAM] = True


class ConnectionLimits(msgspec.Struct, frozen=True):
    header_timeout_seconds: float
    body_idle_timeout_seconds: float
    max_connections: int


class HeadTooLarge(Exception):
    """Raised from a parser callback: httptools turns it into a parser error, which
    uvicorn answers with 400 and a closed connection."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with `ConnectionLimits`; pass it as uvicorn's `http`
    with `functools.partial(GuardedHttpToolsProtocol, limits=...)`."""

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits
        self._timer: asyncio.TimerHandle | None = None
        self._phase: str | None = None
        """"headers" (deadline running), "body" (idle timer running) or None."""
        self._headers_after: object = None
        """The request cycle that was current when the headers' deadline started."""
        self._idle_since = time.monotonic()
        self._head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._make_room()
        if not self.transport.is_closing():
            self._await_headers()

    def data_received(self, data: bytes) -> None:
        if self._phase is None and self._between_requests():
            self._await_headers()
        super().data_received(data)
        self._follow_request()

    def on_message_begin(self) -> None:
        self._head_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_response_complete(self) -> None:
        self._idle_since = time.monotonic()
        super().on_response_complete()

    def shutdown(self) -> None:
        cycle = self.cycle
        streaming = cycle is not None and not cycle.response_complete
        if streaming and cycle.scope.get("state", {}).get(LIVE_STREAM):
            self.transport.close()
            return
        super().shutdown()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            raise HeadTooLarge

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _await_headers(self) -> None:
        self._phase, self._headers_after = "headers", self.cycle
        self._start_timer(self._limits.header_timeout_seconds, self._headers_too_slow)

    def _follow_request(self) -> None:
        """After new bytes: end the headers' deadline once a request has begun, and keep
        the body's idle timer running (restarted) while its body is incomplete."""
        cycle = self.cycle
        if self._phase == "headers":
            if cycle is None or cycle is self._headers_after:
                return
            self._stop_timer()
        if cycle is not None and cycle.more_body and not cycle.response_complete:
            self._phase = "body"
            self._start_timer(self._limits.body_idle_timeout_seconds, self._body_stalled)
        elif self._phase == "body":
            self._stop_timer()

    def _headers_too_slow(self) -> None:
        self._timer = None
        if self._phase == "headers":
            self.transport.close()

    def _body_stalled(self) -> None:
        self._timer = None
        if self._phase != "body" or self.cycle is None or not self.cycle.more_body:
            return
        if self.flow.read_paused:  # the app is not reading yet: not the client's fault
            self._start_timer(self._limits.body_idle_timeout_seconds, self._body_stalled)
            return
        self.transport.close()

    def _start_timer(self, seconds: float, callback: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(seconds, callback)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._phase = None, None

    def _is_idle(self) -> bool:
        return not self.transport.is_closing() and self._between_requests()

    def _make_room(self) -> None:
        open_ = [c for c in self.connections if not c.transport.is_closing()]
        excess = len(open_) - self._limits.max_connections
        if excess <= 0:
            return
        idle = sorted(
            (
                c
                for c in open_
                if c is not self and isinstance(c, GuardedHttpToolsProtocol) and c._is_idle()
            ),
            key=lambda c: c._idle_since,
        )
        for connection in idle[:excess]:
            connection.transport.close()
        if len(idle) < excess:
            self.transport.close()
