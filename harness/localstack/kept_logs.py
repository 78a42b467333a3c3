"""Logs kept after a failed session: LocalStack's log and the functions' CloudWatch logs.

A session with a failed test, an interrupted one, or one whose LocalStack died keeps the run's
log folder (:mod:`harness.localstack.leftovers`) and the pytest plugin prints its path in the
summary. Before LocalStack stops, :func:`dump_function_logs` copies every CloudWatch log group
into that folder (``functions/<group>.log``), since they live only in LocalStack's memory.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.localstack.base import Backend, LocalStack

MAX_GROUPS = 100
MAX_EVENTS_PER_GROUP = 10_000


def _file_name(group: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", group.strip("/")) + ".log"


def dump_function_logs(localstack: LocalStack, folder: Path) -> list[Path]:
    """Write each CloudWatch log group's events to ``folder/functions/``; return the files."""
    logs = localstack.client("logs")
    written: list[Path] = []
    out_dir = folder / "functions"
    groups = []
    for page in logs.get_paginator("describe_log_groups").paginate():
        groups += [g["logGroupName"] for g in page.get("logGroups", [])]
    for group in groups[:MAX_GROUPS]:
        lines, token = [], None
        while len(lines) < MAX_EVENTS_PER_GROUP:
            kwargs = {"logGroupName": group, **({"nextToken": token} if token else {})}
            page = logs.filter_log_events(**kwargs)
            lines += [f"{e.get('timestamp')} {e.get('logStreamName')} {e.get('message', '').rstrip()}"
                      for e in page.get("events", [])]
            token = page.get("nextToken")
            if not token:
                break
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / _file_name(group)
        path.write_text("\n".join(lines) + "\n", errors="replace")
        written.append(path)
    return written


def keep(backend: Backend, localstack: LocalStack | None, reason: str) -> Path | None:
    """Mark ``backend``'s logs as kept (function logs dumped while LocalStack still answers);
    return the folder, or None when the backend keeps no logs of its own (external, Docker)."""
    folder = getattr(backend, "log_dir", None)
    if folder is None or not hasattr(backend, "keep_logs"):
        return None
    backend.keep_logs = True
    (folder / "KEPT").write_text(reason + "\n")
    if localstack is not None and localstack.death is not None and localstack.death() is None:
        try:
            dump_function_logs(localstack, folder)
        except Exception as exc:  # the kept LocalStack log still matters
            (folder / "functions-dump-failed.txt").write_text(f"{type(exc).__name__}: {exc}\n")
    return folder
