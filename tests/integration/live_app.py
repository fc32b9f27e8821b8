"""The app served for real by uvicorn on 127.0.0.1, in a thread of the test process.

The in-process test client runs one request at a time (each call waits for the app's
answer), so tests of requests that overlap in time, or of a peer calling the app back
while the app waits on it, need a real server.
"""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from decode_userapi.entrypoints.container import Container
from decode_userapi.entrypoints.http.app import create_app


@contextmanager
def serve_in_thread(container: Container) -> Iterator[str]:
    """Serves the app around `container` (migrations applied at start); yields its URL.

    The server runs its own event loop: give it a container of its own, used by no other
    loop (database connections belong to the loop that opened them).
    """
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(create_app(container), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("The app did not start; see the log above.")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()
