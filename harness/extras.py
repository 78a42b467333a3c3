"""Optional features and the pip extra that installs each.

The core (``boto3``, ``tenacity``) is all ``import harness`` and the pytest plugin need. A feature
that needs more imports it through :func:`require`, so a missing package is one line naming the
extra to install instead of a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from harness.errors import HarnessError

DISTRIBUTION = "localstack-e2e-harness"

#: extra -> what it is for (docs/install.md lists the same)
EXTRAS = {
    "cdk": "aws-cdk-lib and constructs, for CDK apps the `deploy` fixture synthesizes",
    "fuzz": "Hypothesis, for harness.strategies and the `lsh-fuzz` profile",
    "containers": "testcontainers and docker, for the `testcontainers` backend and `lsh image`",
    "asyncio": "pytest-asyncio, for async tests awaiting eventually_async and the *_async probes",
}


class MissingExtra(HarnessError, ImportError):
    """A feature needs a package of an extra that is not installed."""


def install_hint(extra: str) -> str:
    """The pip command that installs ``extra``, e.g. ``pip install 'localstack-e2e-harness[fuzz]'``."""
    if extra not in EXTRAS:
        raise ValueError(f"unknown extra {extra!r}; the extras are {', '.join(EXTRAS)}")
    return f"pip install '{DISTRIBUTION}[{extra}]'"


def missing_extra(package: str, extra: str, feature: str) -> MissingExtra:
    """The error for ``feature`` when ``package`` (of ``extra``) cannot be imported."""
    return MissingExtra(f"{feature} needs the Python package `{package}`, which is not installed: "
                        f"{install_hint(extra)}")


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module``, or raise :class:`MissingExtra` naming ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and module.split(".")[0] != exc.name.split(".")[0]:
            raise  # the module is there but something it imports is broken: show that
        raise missing_extra(module.split(".")[0], extra, feature) from None
