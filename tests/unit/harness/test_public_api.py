"""Everything the harness documents as public is importable from ``harness`` itself, lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import harness


def test_every_public_name_resolves_from_the_package():
    missing = [name for name in harness.__all__ if getattr(harness, name, None) is None]
    assert missing == []
    assert set(harness.__all__) <= set(dir(harness))


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_helper"):
        harness.no_such_helper  # noqa: B018


def test_importing_the_package_loads_no_capability_module_yet():
    code = ("import sys, harness; print(sorted(m for m in sys.modules if m in "
            "{'harness.dlq', 'harness.faults', 'harness.trace', 'harness.deploy', 'boto3'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout
