"""The state file of a running ``lsh up`` (``up.json`` in the cache folder), and whether a pytest
session may use that LocalStack instead of starting one.

``lsh up`` records where its LocalStack answers, its stacks, its pid and its *launch signature*:
what decides how that LocalStack behaves (backend, LocalStack's and the functions' venvs, the
plugin source, LocalStack's settings with the ``LSH_*`` plugin settings and ``LS_LOG``), without
what differs on every run (port, folders). A session reuses the up only when the signature it
would start with is the same, so a rerun never tests other code or other settings than a fresh
run would; otherwise it starts fresh and says in one line why.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from harness.config import HARNESS_VARS
from harness.localstack import venvs
from harness.localstack.processes import pid_alive
from harness.localstack.base import DEFAULT_REGION, fetch_health


def state_path() -> Path:
    """Where ``lsh up`` records its endpoint and stacks, for other ``lsh`` commands and sessions."""
    return venvs.cache_root() / "up.json"


def launch_signature(backend: str, settings: Mapping[str, str] | None = None,
                     region: str = DEFAULT_REGION) -> dict[str, Any]:
    """What a LocalStack started now by ``backend`` with ``settings`` runs with (nothing per run)."""
    from harness.localstack.embedded import DEFAULT_SETTINGS

    passed = {k: v for k, v in os.environ.items()
              if (k.startswith("LSH_") and k not in HARNESS_VARS) or k == "LS_LOG"}
    return {
        "backend": backend,
        "region": region,
        "localstack_venv": venvs.localstack_venv_path().name,
        "function_venv": venvs.function_venv_path().name,
        "plugins": venvs.plugins_digest(),
        "settings": {**DEFAULT_SETTINGS, **passed, **(settings or {})},
    }


def running() -> dict[str, Any] | None:
    """The state of a running ``lsh up`` whose LocalStack answers, else None."""
    try:
        state = json.loads(state_path().read_text())
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not pid_alive(pid):
        return None
    endpoint = state.get("endpoint_url")
    return state if endpoint and fetch_health(endpoint, timeout=1.0) is not None else None


def why_not_reusable(state: Mapping[str, Any], wanted: Mapping[str, Any]) -> str | None:
    """None when the up's launch signature is ``wanted``; else the first difference, in words."""
    have = state.get("launch")
    if not isinstance(have, dict):
        return "its up.json records no launch settings (an `lsh up` of an older harness)"
    names = {"backend": "its backend", "region": "its region",
             "localstack_venv": "its LocalStack venv", "function_venv": "its functions' venv",
             "plugins": "the LocalStack plugins' source (changed since it started)"}
    for key, what in names.items():
        if have.get(key) != wanted.get(key):
            return f"{what} differs ({have.get(key)} there, {wanted.get(key)} here)"
    theirs, ours = have.get("settings") or {}, wanted.get("settings") or {}
    for name in sorted(set(theirs) | set(ours)):
        if theirs.get(name) != ours.get(name):
            return (f"its {name}={_shown(theirs.get(name))} differs from this session's "
                    f"{name}={_shown(ours.get(name))}")
    return None


def _shown(value: str | None) -> str:
    return "(unset)" if value is None else repr(value)


def private_cache(folder: Path) -> Path:
    """``folder`` as a cache folder of its own (for ``LSH_CACHE_DIR``): its own ``up.json``, with
    the shared cache's venvs and build caches linked in (built there first if missing).

    For an ``lsh up`` that no other session on the machine may find and reuse (tests that stop or
    kill their ``lsh up``, benchmarks), without building LocalStack's venv again (~40 s)."""
    venvs.localstack_venv()
    venvs.function_venv()
    shared = venvs.cache_root()
    folder.mkdir(parents=True, exist_ok=True)
    for entry in shared.iterdir():
        link = folder / entry.name
        if entry.name != state_path().name and not link.exists() and not link.is_symlink():
            link.symlink_to(entry)
    return folder
