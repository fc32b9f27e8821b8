"""A stand-in for the worker-facing API (docker-compose.yml, the README's walk-through):
accepts the jobs the user-facing API enqueues (`POST /_jobs` with `x-api-key`) and logs
them; it runs no job. With local storage (the two APIs share the data folder) it leaves a
`stand-in.txt` in the job's output folder, so that there is a result to download.
Standard library only, so it runs in the plain `python` image.

Usage: python workerfacing_standin.py [PORT]   (INTERNAL_API_KEY_SECRET: the shared key)
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self._answer(200 if self.path == "/health" else 404, {"status": "ok"})

    def do_POST(self) -> None:
        if self.path != "/_jobs":
            self._answer(404, {"detail": "Not found."})
            return
        key = os.environ.get("INTERNAL_API_KEY_SECRET", "")
        if key and self.headers.get("x-api-key") != key:
            self._answer(401, {"detail": "Missing or wrong x-api-key."})
            return
        length = int(self.headers.get("content-length") or 0)
        job = json.loads(self.rfile.read(length) or b"null")
        print(json.dumps({"queued": job}), flush=True)
        output = Path(str(job.get("paths_upload", {}).get("output", "")))
        if output.is_absolute():  # local storage; S3 URIs are left alone
            output.mkdir(parents=True, exist_ok=True)
            (output / "stand-in.txt").write_text(f"Job {job['job']['meta']['job_id']} queued.\n")
        self._answer(200, {"queued": True})

    def _answer(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8001
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
