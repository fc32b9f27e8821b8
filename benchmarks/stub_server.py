"""A real HTTP server on 127.0.0.1 standing in, for the tests and the benchmarks, for a
service we call (the worker-facing API, Mailjet). It records every request, answers
`status`, and can be stopped and started again on the same port to play "down". It can
also play a slow peer (`delay` seconds before each answer) and one that acts before it
answers (`before_answer`, e.g. a worker reporting a job `pulled` before the enqueue call
returns)."""

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec

Validator = Callable[[str, Any], list[str]]
"""(path, decoded JSON body) → problems; any problem is answered 422."""


class Recorded(msgspec.Struct, frozen=True):
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops connections when many requests arrive at once; the
    # client then retries only after a second or more.
    request_queue_size = 128


class StubServer:
    def __init__(self, validate: Validator | None = None) -> None:
        self.requests: list[Recorded] = []
        self.status = 200
        self.answer: Any = {"ok": True}
        self.delay = 0.0
        self.before_answer: Callable[[Recorded], None] | None = None
        """Called in the server's thread with each request, before the answer is sent."""
        self._validate = validate
        self._port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> "StubServer":
        self._server = _Server(("127.0.0.1", self._port), self._handler())
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                recorded = Recorded(
                    self.command,
                    self.path,
                    {key.lower(): value for key, value in self.headers.items()},
                    body,
                )
                stub.requests.append(recorded)
                if stub.before_answer is not None:
                    stub.before_answer(recorded)
                time.sleep(stub.delay)
                problems = stub._validate(self.path, body) if stub._validate else []
                status, answer = (
                    (422, {"detail": problems}) if problems else (stub.status, stub.answer)
                )
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PUT = do_GET = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def enqueue_problems(path: str, body: Any) -> list[str]:
    """What the worker-facing API would refuse in `POST /_jobs`: keys and types exactly
    as the contract's enqueue JSON."""
    problems: list[str] = []

    def check(value: Any, shape: Any, where: str) -> None:
        if isinstance(shape, dict):
            if not isinstance(value, dict) or set(value) != set(shape):
                problems.append(f"{where}: {value!r} does not have exactly {sorted(shape)}")
                return
            for key, inner in shape.items():
                check(value[key], inner, f"{where}.{key}")
        elif isinstance(shape, list):
            if not isinstance(value, list) or not all(isinstance(item, shape[0]) for item in value):
                problems.append(f"{where}: {value!r} is not a list of {shape[0].__name__}")
        elif shape == "str->str":
            if not isinstance(value, dict) or not all(
                isinstance(key, str) and isinstance(item, str) for key, item in value.items()
            ):
                problems.append(f"{where}: {value!r} is not a str->str mapping")
        elif isinstance(value, bool) or not isinstance(value, shape):
            problems.append(f"{where}: {value!r} is not {shape}")

    if path != "/_jobs":
        return [f"unexpected path {path}"]
    optional_int, optional_str = (int, type(None)), (str, type(None))
    check(
        body,
        {
            "job": {
                "app": {"cmd": [str], "env": "str->str"},
                "handler": {
                    "image_url": str,
                    "image_name": str,
                    "image_version": str,
                    "entrypoint": str,
                    "files_down": "str->str",
                    "files_up": "str->str",
                },
                "meta": {"job_id": int, "date_created": str},
                "hardware": {
                    "cpu_cores": optional_int,
                    "memory": optional_int,
                    "gpu_model": optional_str,
                    "gpu_archi": optional_str,
                    "gpu_mem": optional_int,
                },
            },
            "environment": optional_str,
            "group": optional_str,
            "priority": int,
            "paths_upload": {"output": str, "log": str, "artifact": str},
        },
        "$",
    )
    if not problems and body["environment"] not in ("cloud", "local", None):
        problems.append(f"$.environment: {body['environment']!r}")
    return problems
