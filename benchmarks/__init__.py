"""Speed measurements against a real server; run each as a module, e.g.
`.venv/bin/python -m benchmarks.file_transfer --quick`."""
