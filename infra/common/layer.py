"""The functions' two code assets, built locally at synth time (no Docker).

- The dependency layer: ``functions/requirements.txt`` installed with pip for the Lambda platform
  (manylinux2014 x86_64, CPython 3.11, binary wheels only) into ``python/`` (which Lambda puts on
  ``sys.path``), byte-compiled with hash-based ``.pyc`` files (valid whatever the file dates, so
  nothing is compiled at cold start). Built once per set of pins: its folder in the build cache is
  named after a hash of the requirements and this recipe, so a later synth reuses it and costs
  only a copy (hard links where possible) into the cloud assembly.
- The function code of one app: ``functions/<app>/`` copied as ``functions/<app>/`` (so the
  handler strings are ``functions.<app>.<module>.handler``), without caches, tests and
  requirements. One asset per app: a change to one app's handlers leaves the others' alone.

Both use CDK's local bundling (``ILocalBundling``): CDK asks for them only when the cloud assembly
does not already hold them, and skips them for stacks excluded from bundling (the
``aws:cdk:bundling-stacks`` context, as ``cdk synth --exclusively`` does).

The build cache is ``$LSH_LAYER_BUILD_DIR``, else ``$LSH_CACHE_DIR/lambda-layers``, else
``$XDG_CACHE_HOME`` (or ``~/.cache``) ``/localstack-e2e-harness/lambda-layers``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
REQUIREMENTS = FUNCTIONS_DIR / "requirements.txt"
PYTHON_VERSION = "3.11"
PLATFORM = "manylinux2014_x86_64"
RUNTIME = lambda_.Runtime.PYTHON_3_11
ARCHITECTURE = lambda_.Architecture.X86_64
#: bump when the build steps below change, so cached layers are rebuilt
_RECIPE = "pip-target/no-compile/compileall-unchecked-hash/v1"
_CODE_EXCLUDE = ["__pycache__", "*.pyc", "tests", "requirements.txt"]
# CDK needs an image name even when local bundling always succeeds; it is never pulled
_NO_DOCKER = cdk.DockerImage.from_registry("local-bundling-only")


class LayerBuildError(RuntimeError):
    """pip could not build the dependency layer."""


def build_cache_dir() -> Path:
    if os.environ.get("LSH_LAYER_BUILD_DIR"):
        return Path(os.environ["LSH_LAYER_BUILD_DIR"]).expanduser()
    if os.environ.get("LSH_CACHE_DIR"):
        return Path(os.environ["LSH_CACHE_DIR"]).expanduser() / "lambda-layers"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "localstack-e2e-harness" / "lambda-layers"


def layer_digest() -> str:
    """Hash of everything the layer is built from: the pins, Python version, platform, recipe."""
    h = hashlib.sha256(REQUIREMENTS.read_bytes())
    h.update(f"\0{PYTHON_VERSION}\0{PLATFORM}\0{_RECIPE}".encode())
    return h.hexdigest()[:16]


def build_dependency_layer() -> Path:
    """The folder holding the layer's ``python/``, built with pip unless already in the cache.

    Safe under parallel synths: each builds in its own temporary folder, the first rename wins.
    """
    target = build_cache_dir() / f"layer-py{PYTHON_VERSION}-{layer_digest()}"
    if (target / ".complete").is_file():
        return target
    staging = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    site = staging / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_USER")}
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--no-input", "--no-compile", "--target", str(site), "--requirement",
           str(REQUIREMENTS), "--platform", PLATFORM, "--implementation", "cp",
           "--python-version", PYTHON_VERSION, "--only-binary=:all:"]
    compileall = [sys.executable, "-m", "compileall", "-q", "-j", "0",
                  "--invalidation-mode", "unchecked-hash", str(site)]
    for argv, what in ((pip, "pip install"), (compileall, "compileall")):
        result = subprocess.run(argv, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise LayerBuildError(
                f"building the functions' dependency layer from {REQUIREMENTS} failed at "
                f"{what} (exit {result.returncode}); is PyPI reachable?\n"
                f"{(result.stderr or result.stdout)[-3000:]}")
    (staging / ".complete").write_text(REQUIREMENTS.read_text())
    try:
        staging.rename(target)
    except OSError:  # a parallel synth finished first
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / ".complete").is_file():
            raise
    return target


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES):
            raise
        shutil.copy2(src, dst)


@jsii.implements(cdk.ILocalBundling)
class _DependencyLayerBundling:
    def try_bundle(self, output_dir: str, *args, **kwargs) -> bool:
        shutil.copytree(build_dependency_layer() / "python", Path(output_dir) / "python",
                        copy_function=_link_or_copy, dirs_exist_ok=True)
        return True


@jsii.implements(cdk.ILocalBundling)
class _FunctionPackageBundling:
    def __init__(self, app: str) -> None:
        self.app = app

    def try_bundle(self, output_dir: str, *args, **kwargs) -> bool:
        package = Path(output_dir) / FUNCTIONS_DIR.name
        shutil.copytree(FUNCTIONS_DIR / self.app, package / self.app,
                        ignore=shutil.ignore_patterns(*_CODE_EXCLUDE), dirs_exist_ok=True)
        shutil.copy2(FUNCTIONS_DIR / "__init__.py", package / "__init__.py")
        return True


def dependency_layer_code() -> lambda_.Code:
    """Layer code: the pinned requirements, built by pip (asset hash = :func:`layer_digest`)."""
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR), asset_hash=layer_digest(), asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=cdk.BundlingOptions(image=_NO_DOCKER, local=_DependencyLayerBundling()))


def function_code(app: str) -> lambda_.Code:
    """Function code of one app: ``functions/<app>`` as the package ``functions.<app>`` (asset
    hash = a hash of that folder's sources)."""
    if not (FUNCTIONS_DIR / app / "__init__.py").is_file():
        raise ValueError(f"no package functions/{app}/ (with an __init__.py) in {REPO_ROOT}")
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR / app), asset_hash_type=cdk.AssetHashType.SOURCE,
        exclude=[f"**/{p}" for p in _CODE_EXCLUDE] + _CODE_EXCLUDE,
        bundling=cdk.BundlingOptions(image=_NO_DOCKER, local=_FunctionPackageBundling(app)))
