"""The dependency layer of the functions, built with pip at synth time (no Docker).

AWS Lambda layers put ``python/`` on ``sys.path``; pip installs the pinned requirements there for
the Lambda platform (manylinux x86_64, CPython 3.11), once per set of pins: the folder name is a
hash of them, so an unchanged synth reuses it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = Path(__file__).with_name("layer-requirements.txt")
PYTHON_VERSION = "3.11"
BUILD_ROOT = Path(os.environ.get("LSH_LAYER_BUILD_DIR", Path(__file__).parent / ".build"))


def layer_digest() -> str:
    """Identifies the layer's content: the pins and the Python version it was built for."""
    return hashlib.sha256(REQUIREMENTS.read_bytes() + PYTHON_VERSION.encode()).hexdigest()[:12]


def build_dependency_layer() -> Path:
    """The folder to use as layer code (holding ``python/``), built if missing."""
    pins = REQUIREMENTS.read_bytes()
    digest = layer_digest()
    target = BUILD_ROOT / f"layer-{digest}"
    if (target / ".complete").is_file():
        return target
    staging = BUILD_ROOT / f"layer-{digest}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-compile", "--target", str(staging / "python"), "--requirement", str(REQUIREMENTS),
         "--platform", "manylinux2014_x86_64", "--implementation", "cp",
         "--python-version", PYTHON_VERSION, "--only-binary=:all:"],
        capture_output=True, text=True)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise RuntimeError(f"building the dependency layer from {REQUIREMENTS} failed:\n"
                           f"{result.stderr[-3000:]}")
    (staging / ".complete").write_text(pins.decode())
    try:
        staging.rename(target)
    except OSError:  # built by a parallel synth meanwhile
        shutil.rmtree(staging, ignore_errors=True)
    return target
