"""The harness works with any subset of its extras installed, and a feature whose extra is missing
says which one to install (harness.extras).

A missing package is simulated in a fresh interpreter with an import hook that refuses it, the
way Python refuses a package that is not installed (``ModuleNotFoundError``, ``exc.name`` set).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.deploy.synth import SynthError, synth
from harness.extras import EXTRAS, MissingExtra, install_hint, require

#: every optional package the harness may touch, by the extra that installs it
OPTIONAL = {"aws_cdk": "cdk", "constructs": "cdk", "hypothesis": "fuzz",
            "testcontainers": "containers", "docker": "containers", "pytest_asyncio": "asyncio"}
#: what the project's own dev environment has on top (a user has none of it)
DEV_ONLY = ["matplotlib", "moto", "xdist", "pytest_timeout", "aws_lambda_powertools", "uv"]

BLOCKER = """
import importlib.abc, sys
class _NotInstalled(importlib.abc.MetaPathFinder):
    def __init__(self, names):
        self.names = set(names)
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NotInstalled(%r))
"""


def run_without(packages: list[str], code: str, cwd: Path | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter on which ``packages`` are not installed."""
    import os

    script = BLOCKER % (sorted(packages),) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, **(env or {})}, timeout=120)


def test_install_hint_names_the_distribution_and_the_extra():
    assert install_hint("fuzz") == "pip install 'localstack-e2e-harness[fuzz]'"
    with pytest.raises(ValueError, match="unknown extra 'fuzzy'; the extras are cdk, fuzz"):
        install_hint("fuzzy")


def test_pyproject_declares_every_extra_the_code_names():
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())
    declared = pyproject["project"]["optional-dependencies"]
    assert set(EXTRAS) | {"all"} <= set(declared)
    assert pyproject["tool"]["setuptools"]["packages"]["find"]["include"] == ["harness*"]


def test_require_names_the_extra_when_the_package_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "lsh_no_such_package", None)
    with pytest.raises(MissingExtra) as info:
        require("lsh_no_such_package", "fuzz", "the thing")
    assert str(info.value) == ("the thing needs the Python package `lsh_no_such_package`, which "
                               "is not installed: pip install 'localstack-e2e-harness[fuzz]'")
    assert isinstance(info.value, ImportError)  # `except ImportError` callers keep working


def test_require_shows_a_broken_dependency_of_an_installed_package(tmp_path, monkeypatch):
    (tmp_path / "lsh_installed_but_broken.py").write_text("import lsh_its_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as info:
        require("lsh_installed_but_broken", "fuzz", "the thing")
    assert not isinstance(info.value, MissingExtra)
    assert info.value.name == "lsh_its_missing_dependency"


def test_core_only_every_module_and_public_name_imports():
    """No extra at all: every public name resolves; a module that cannot import says which extra
    it needs (harness.strategies needs [fuzz]); none fails with a bare ImportError."""
    out = run_without([*OPTIONAL, *DEV_ONLY], """
        import importlib, json, pkgutil
        import harness
        from harness.extras import MissingExtra
        failed, names = {}, 0
        for name in harness.__all__:
            getattr(harness, name); names += 1
        for mod in pkgutil.walk_packages(harness.__path__, "harness."):
            try:
                importlib.import_module(mod.name)
            except MissingExtra as exc:
                failed[mod.name] = str(exc)
            except Exception as exc:
                failed[mod.name] = f"bare {type(exc).__name__}: {exc}"
        print(json.dumps({"names": names, "failed": failed}))
    """)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["names"] == len(__import__("harness").__all__)
    bare = {m: e for m, e in result["failed"].items() if e.startswith("bare ")}
    assert bare == {}, ("these modules fail to import without an extra and do not say which to "
                        "install; import the optional package with harness.extras.require("
                        "module, extra, feature) instead")
    assert result["failed"]["harness.strategies"] == (
        "harness.strategies needs the Python package `hypothesis`, which is not installed: "
        "pip install 'localstack-e2e-harness[fuzz]'")
    for module, error in result["failed"].items():
        assert "pip install 'localstack-e2e-harness[" in error, (module, error)


def _pytest_session(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_nothing_of_ours.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
    return run_without([*OPTIONAL, *DEV_ONLY], f"""
        import sys, pytest
        sys.exit(pytest.main(["-p", "harness.pytest_plugin", "-p", "no:cacheprovider", "-q",
                              "test_nothing_of_ours.py", *{list(args)!r}]))
    """, cwd=tmp_path, env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})


def test_the_pytest_plugin_runs_a_session_without_any_extra(tmp_path):
    out = _pytest_session(tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed" in out.stdout
    assert "INTERNALERROR" not in out.stdout + out.stderr


def test_asking_for_fuzz_examples_without_hypothesis_names_the_extra(tmp_path):
    out = _pytest_session(tmp_path, "--lsh-fuzz-examples", "3")
    assert out.returncode == pytest.ExitCode.USAGE_ERROR, out.stdout + out.stderr
    assert ("--lsh-fuzz-examples needs the Python package `hypothesis`, which is not installed: "
            "pip install 'localstack-e2e-harness[fuzz]'") in out.stderr
    assert "Traceback" not in out.stderr


def test_the_containers_backend_without_its_extra_says_which_to_install():
    out = run_without(["testcontainers", "docker"], """
        from harness.localstack.containers.container_backend import TestcontainersBackend
        from harness.localstack.containers.docker_check import DockerUnavailable, docker_client
        for start in (TestcontainersBackend(progress=lambda line: None).start, docker_client):
            try:
                start()
            except DockerUnavailable as exc:
                print(exc)
    """)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "backend 'testcontainers' needs the Python package `testcontainers`, which is not "
        "installed: pip install 'localstack-e2e-harness[containers]'",
        "Docker needs the Python package `docker`, which is not installed: "
        "pip install 'localstack-e2e-harness[containers]'"]


def test_a_cdk_app_whose_python_lacks_aws_cdk_is_told_to_install_the_cdk_extra(tmp_path):
    (tmp_path / "cdk.json").write_text('{"app": "python app.py"}')
    (tmp_path / "app.py").write_text(BLOCKER % (["aws_cdk"],) + "import aws_cdk\n")
    with pytest.raises(SynthError) as info:
        synth(tmp_path, tmp_path / "cdk.out", "us-east-1")
    first_line = str(info.value).splitlines()[0]
    assert first_line.endswith("failed (exit 1); aws-cdk-lib is missing: "
                               "pip install 'localstack-e2e-harness[cdk]':")
    assert "No module named 'aws_cdk'" in str(info.value)  # the app's own error stays visible
