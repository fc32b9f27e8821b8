"""The worker-facing API, over HTTP."""
