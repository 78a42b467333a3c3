"""Progress lines for long steps (venv builds, LocalStack start), printed to the real stderr."""

import sys
from typing import Callable

Progress = Callable[[str], None]


def print_progress(line: str) -> None:
    stream = sys.__stderr__ or sys.stderr
    stream.write(f"lsh: {line}\n")
    stream.flush()
