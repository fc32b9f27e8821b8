"""What every benchmark shares besides the server (see `benchmarks.live_server`): command
line, header line, a temporary folder for the server and timing statistics."""

import argparse
import os
import platform
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes and fewer repetitions (~30 s)"
    )
    return parser.parse_args()


def print_header(title: str, quick: bool) -> None:
    cores = os.cpu_count()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = "quick" if quick else "full"
    load = os.getloadavg()[0]
    print(
        f"# {title} ({mode} run, {when}, {cores} cores, load average {load:.1f} at start, "
        f"Python {platform.python_version()})"
    )


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A temporary folder for the server's files, removed when the block ends."""
    with tempfile.TemporaryDirectory(prefix="decode-bench-") as name:
        yield Path(name)


def median(values: list[float]) -> float:
    return statistics.median(values)


def p90(values: list[float]) -> float:
    """The 90th percentile (the median when there are too few values to tell)."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[-1]
