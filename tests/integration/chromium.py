"""Headless Chromium driven through the DevTools protocol over a pipe.

Chromium started with `--remote-debugging-pipe` reads protocol commands on its file
descriptor 3 and writes answers and events on 4, each message JSON ended by a NUL byte:
no WebSocket client and no browser download are needed, only Debian's `chromium`.
"""

import base64
import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

COMMAND_TIMEOUT_SECONDS = 30.0


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class BrowserError(Exception):
    pass


class Page:
    """One tab, attached in flat mode: commands carry its `sessionId`."""

    def __init__(self, process: "subprocess.Popen[bytes]", commands: int, answers: int) -> None:
        self._process = process
        self._commands = commands
        self._answers = answers
        self._buffer = b""
        self._next_id = 0
        self._session: str | None = None

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer (events in between are dropped)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if self._session is not None:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + COMMAND_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            answer = self._read_message()
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                result: dict[str, Any] = answer["result"]
                return result
        raise BrowserError(f"{method}: no answer within {COMMAND_TIMEOUT_SECONDS} s")

    def _read_message(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                raise BrowserError(f"chromium closed the pipe (exit code {self._process.poll()})")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def open_tab(self, width: int, height: int) -> None:
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0) -> Any:
        """Evaluate `expression` until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise BrowserError(f"still false after {timeout} s: {expression}")

    def type_text(self, text: str) -> None:
        """Type into the focused element, as a keyboard would."""
        self.send("Input.insertText", text=text)

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))


def _high_fd(fd: int) -> int:
    """A copy of `fd` numbered 10 or more, so that moving it to 3 or 4 clobbers nothing
    (closed on exec: only the copies made in the child reach Chromium)."""
    copy = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return copy


@contextmanager
def chromium_page(executable: str, *, width: int = 1280, height: int = 900) -> Iterator[Page]:
    """A headless Chromium with one blank tab; closed when the block ends."""
    commands_read, commands_write = map(_high_fd, os.pipe())
    answers_read, answers_write = map(_high_fd, os.pipe())

    def wire_pipes() -> None:  # in the child, before exec
        os.dup2(commands_read, 3)
        os.dup2(answers_write, 4)

    # Chromium's helper processes may still write to the profile after the main process
    # exits: they share its process group, which is ended as a whole below.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [
                executable,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            close_fds=False,  # keeps the 3 and 4 made by `wire_pipes`; the rest is CLOEXEC
            preexec_fn=wire_pipes,
            start_new_session=True,  # its own process group, helpers included
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(answers_write)
        try:
            page = Page(process, commands_write, answers_read)
            page.open_tab(width, height)
            yield page
        finally:
            os.close(commands_write)
            os.close(answers_read)
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # helpers left behind
