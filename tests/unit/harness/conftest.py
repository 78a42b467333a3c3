"""Fixtures for the harness's own unit tests: ``lsh_plugin`` for the pure-Python parts of our
LocalStack plugins."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

PLUGIN_SRC = Path(__file__).resolve().parents[3] / "harness" / "localstack" / "plugin_src"


@pytest.fixture
def lsh_plugin() -> Iterator[Callable[[str], Any]]:
    """``lsh_plugin("changes")``: one of our LocalStack plugin modules, imported from the source
    tree (LocalStack itself is imported only where it is installed) and forgotten afterwards."""
    sys.path.insert(0, str(PLUGIN_SRC))
    try:
        yield lambda name: importlib.import_module(f"lsh_localstack_plugins.{name}")
    finally:
        sys.path.remove(str(PLUGIN_SRC))
        for name in [m for m in sys.modules if m.startswith("lsh_localstack_plugins")]:
            del sys.modules[name]


