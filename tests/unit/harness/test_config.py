"""Every setting is read by HarnessConfig; a bad value is one line naming it and the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import HarnessConfig
from harness.errors import EnvironmentBuildError, SettingError
from harness.localstack import venvs

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("env, names", [
    ({"LSH_PORT": "abc"}, "LSH_PORT='abc'"),
    ({"LSH_PORT": "0"}, "LSH_PORT='0'"),
    ({"LSH_PORT": "65536"}, "LSH_PORT='65536'"),
    ({"LSH_STARTUP_TIMEOUT": "abc"}, "LSH_STARTUP_TIMEOUT='abc'"),
    ({"LSH_STARTUP_TIMEOUT": "0"}, "LSH_STARTUP_TIMEOUT='0'"),
    ({"LSH_STARTUP_TIMEOUT": "-5"}, "LSH_STARTUP_TIMEOUT='-5'"),
    ({"LSH_BACKEND": "dockr"}, "LSH_BACKEND='dockr'"),
    ({"LSH_ENDPOINT": "127.0.0.1:4566"}, "LSH_ENDPOINT='127.0.0.1:4566'"),
    ({"AWS_ENDPOINT_URL": "nonsense"}, "AWS_ENDPOINT_URL='nonsense'"),
    ({"LSH_FUZZ_EXAMPLES": "many"}, "LSH_FUZZ_EXAMPLES='many'"),
    ({"LSH_STATEFUL_STEPS": "0"}, "LSH_STATEFUL_STEPS='0'"),
])
def test_a_bad_setting_is_one_line_naming_it_and_the_fix(env, names):
    with pytest.raises(SettingError) as error:
        HarnessConfig.from_env(env)
    message = str(error.value)
    assert message.startswith(names) and "\n" not in message
    assert ": " in message  # then what to do


def test_a_bad_option_names_the_option():
    with pytest.raises(SettingError, match="^--lsh-port=70000 "):
        HarnessConfig.from_env({}, port=70000)


def test_every_setting_is_read_here():
    cfg = HarnessConfig.from_env({
        "LSH_BACKEND": "External", "LSH_ENDPOINT": "http://127.0.0.1:4566/", "LSH_PORT": "4599",
        "LSH_STARTUP_TIMEOUT": "12.5", "LSH_IMAGE": "img:1", "LSH_CHANGE_FEED": "off",
        "LSH_CDK_APP": "apps/x", "LSH_FUZZ_EXAMPLES": "40", "LSH_CACHE_DIR": "~/c",
        "LSH_STATEFUL_STEPS": "3", "LSH_EARLY_START": "0",
        "LSH_PYTHON": "/usr/bin/python3.11"})
    assert cfg == HarnessConfig(
        backend="external", endpoint="http://127.0.0.1:4566", port=4599, startup_timeout=12.5,
        image="img:1", change_feed=False, early_start=False, cdk_app="apps/x", fuzz_examples=40, stateful_steps=3,
        cache_dir=Path("~/c").expanduser(), python="/usr/bin/python3.11")


def test_defaults_without_any_setting():
    assert HarnessConfig.from_env({}) == HarnessConfig()


def test_no_setting_of_the_harness_is_read_outside_config():
    """grep: ``os.environ`` reads of LSH_* / AWS_ENDPOINT_URL only in harness/config.py (the
    LocalStack plugins, which run in LocalStack's process, and the fault layer read their own)."""
    out = subprocess.run(["grep", "-rnE", r"environ(\.get)?[\[(]\s*['\"](LSH_|AWS_ENDPOINT_URL)",
                          "harness", "--include=*.py"], cwd=REPO, capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines()
             if not line.startswith(("harness/config.py", "harness/localstack/plugin_src/",
                                     "harness/faults/layer/"))]
    assert lines == []


def test_a_read_only_cache_dir_is_one_line(tmp_path, monkeypatch):
    if os.geteuid() == 0:  # root writes anywhere: a file where the folder should be instead
        cache = tmp_path / "not-a-folder"
        cache.write_text("")
    else:
        cache = tmp_path / "ro"
        cache.mkdir(mode=0o500)
    monkeypatch.setenv("LSH_CACHE_DIR", str(cache))
    with pytest.raises(EnvironmentBuildError, match=r"is not writable .*: point LSH_CACHE_DIR"):
        venvs.function_venv(progress=lambda _: None)


def test_pytest_stops_at_a_bad_setting_with_one_line(tmp_path):
    (tmp_path / "test_x.py").write_text("def test_x():\n    pass\n")
    env = dict(os.environ, LSH_STARTUP_TIMEOUT="soon")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(tmp_path)], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 4  # usage error
    assert "ERROR: LSH_STARTUP_TIMEOUT='soon' is not a number of seconds" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
