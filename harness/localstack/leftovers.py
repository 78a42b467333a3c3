"""What a LocalStack run leaves on disk, and the sweep that removes what dead runs left.

- A run folder ``<tmp>/lsh-<run id>-XXXX`` (LocalStack's data, temp files, function code; ~19 MB)
  holding ``owner.json`` (the pid and start time of the process that started the run). It is
  removed when the run stops; a run whose owner was SIGKILLed leaves it, and the next start
  removes it (:func:`sweep`) once neither the owner nor any process of the run is alive.
- A log folder ``<tmp>/lsh-logs-<date>-<time>-<run id>`` (LocalStack's log, and the functions'
  CloudWatch logs dumped when a test failed): removed after a clean run, **kept** after a failed,
  interrupted or crashed one, and named in the pytest summary / the error. The sweep removes
  only those older than :data:`KEPT_LOG_DAYS` days, and the oldest beyond :data:`KEPT_LOG_MAX`.
- A deploy lock ``<tmp>/lsh-deploy-<hash of the endpoint>.lock`` (xdist workers sharing one
  LocalStack deploy one after the other): removed when the LocalStack that owns it stops; the
  sweep removes those left behind (unused for 10 min and not held).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from harness.localstack import processes

RUN_DIR_PATTERN = re.compile(r"^lsh-([0-9a-f]{12})-")
LOG_DIR_PREFIX = "lsh-logs-"
OWNER_FILE = "owner.json"
STALE_LOCK_SECONDS = 600
#: kept log folders older than this are removed by the sweep, and beyond the newest KEPT_LOG_MAX
KEPT_LOG_DAYS = 7
KEPT_LOG_MAX = 30


def temp_root() -> Path:
    return Path(tempfile.gettempdir())


def _start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (field 22 of /proc/PID/stat), None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def write_owner(run_dir: Path) -> None:
    """Record this process as the run's owner (the sweep leaves a run alone while it lives)."""
    pid = os.getpid()
    (run_dir / OWNER_FILE).write_text(json.dumps({"pid": pid, "start": _start_time(pid)}))


def owner_alive(run_dir: Path) -> bool:
    try:
        owner = json.loads((run_dir / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return False
    return owner.get("start") is not None and _start_time(int(owner["pid"])) == owner["start"]


def new_log_dir(run_id: str) -> Path:
    path = temp_root() / f"{LOG_DIR_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}-{run_id}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def deploy_lock_path(endpoint_url: str) -> Path:
    """The lock deploys into the LocalStack at ``endpoint_url`` take (one per LocalStack)."""
    name = hashlib.sha256(endpoint_url.encode()).hexdigest()[:12]
    return temp_root() / f"lsh-deploy-{name}.lock"


def _lock_is_free(path: Path) -> bool:
    try:
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
    except OSError:
        return False


def sweep(root: Path | None = None, now: float | None = None) -> list[Path]:
    """Remove run folders of dead runs and stale deploy locks under ``root``; return them."""
    root = root or temp_root()
    now = time.time() if now is None else now
    removed: list[Path] = []
    log_dirs: list[tuple[float, Path]] = []
    try:
        entries = list(root.iterdir())
    except OSError:
        return removed
    for path in entries:
        match = RUN_DIR_PATTERN.match(path.name)
        try:
            if match and path.is_dir():
                if owner_alive(path) or processes.pids_of_run(match.group(1)):
                    continue
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
            elif path.name.startswith(LOG_DIR_PREFIX) and path.is_dir():
                log_dirs.append((path.stat().st_mtime, path))
            elif (path.name.startswith("lsh-deploy-") and path.name.endswith(".lock")
                  and now - path.stat().st_mtime > STALE_LOCK_SECONDS and _lock_is_free(path)):
                path.unlink(missing_ok=True)
                removed.append(path)
        except OSError:
            continue
    log_dirs.sort(reverse=True)  # newest first
    for index, (mtime, path) in enumerate(log_dirs):
        if (index >= KEPT_LOG_MAX or now - mtime > KEPT_LOG_DAYS * 86400) \
                and not run_alive(root, path.name.rsplit("-", 1)[-1]):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def run_alive(root: Path, run_id: str) -> bool:
    """A run still going (its log folder is in use): its owner or one of its processes lives."""
    return (any(owner_alive(path) for path in root.glob(f"lsh-{run_id}-*"))
            or bool(processes.pids_of_run(run_id)))
