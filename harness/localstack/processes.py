"""Finding and killing the processes of one LocalStack run.

Every process the embedded backend starts is found even after its parent is gone: LocalStack and
its Lambda environments carry ``LSH_RUN_ID=<id>`` in their environment (``/proc/<pid>/environ``),
and the function runtimes (whose environment is the function's own) work in a folder inside the
run's folder, named ``lsh-<id>-...`` (``/proc/<pid>/cwd``).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

RUN_ID_VAR = "LSH_RUN_ID"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pids_of_run(run_id: str) -> list[int]:
    """Live processes whose environment carries ``LSH_RUN_ID=run_id``."""
    needle = f"{RUN_ID_VAR}={run_id}".encode()
    run_dir_mark = f"/lsh-{run_id}-"
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            cwd = ""
        if state != "Z" and (needle in environ.split(b"\0") or run_dir_mark in cwd + "/"):
            found.append(int(entry.name))
    return found


def describe(pid: int) -> str:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        cmd = "?"
    return f"{pid} {cmd.strip()[:200]}"


def kill_run(run_id: str, timeout: float = 5.0) -> list[str]:
    """SIGKILL whatever is left of a run; return a description of each process that was killed."""
    killed = []
    deadline = time.monotonic() + timeout
    while (pids := pids_of_run(run_id)) and time.monotonic() < deadline:
        for pid in pids:
            desc = describe(pid)
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(desc)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    return killed


def children(pid: int) -> list[int]:
    """Live descendants of ``pid`` (from /proc/*/stat's parent field), children first."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [child for child, ppid in parents.items() if ppid == parent]
        found += kids
        frontier += kids
    return found


def kill_children(pid: int | None = None) -> list[str]:
    """SIGKILL every descendant of ``pid`` (default: this process); describe each one."""
    killed = []
    for child in children(os.getpid() if pid is None else pid):
        desc = describe(child)
        try:
            os.kill(child, signal.SIGKILL)
            killed.append(desc)
        except ProcessLookupError:
            pass
    return killed
