"""The reference apps as the harness sees them: one :class:`~harness.deploy.CdkApp` each, all
from the repository's one ``cdk.json`` (``python -m infra.app``), each synthesized and deployed
alone (the ``apps`` context value), re-synthesized only when its own sources change."""

from __future__ import annotations

from pathlib import Path

from harness.deploy import CdkApp

REPO = Path(__file__).resolve().parents[2]


def reference_app(name: str, context: dict | None = None) -> CdkApp:
    """The reference app ``name`` (``infra/<name>/``, ``functions/<name>/``) as a CdkApp.

    ``context`` adds CDK context values (e.g. shorter retry delays for tests)."""
    if not (REPO / "infra" / name).is_dir():
        known = sorted(p.name for p in (REPO / "infra").iterdir()
                       if p.is_dir() and p.name not in ("common", "__pycache__"))
        raise ValueError(f"no reference app {name!r}; known: {', '.join(known)}")
    sources = [REPO / "infra" / "app.py", REPO / "infra" / "common", REPO / "infra" / name,
               REPO / "functions" / "__init__.py", REPO / "functions" / "requirements.txt",
               REPO / "functions" / name, REPO / "cdk.json"]
    return CdkApp(REPO, context={"apps": name, **(context or {})},
                  sources=[s for s in sources if s.exists()])
