"""``LSH_REUSE_UP=1``: a pytest session reuses the LocalStack of a running ``lsh up`` (its
``up.json`` in the cache folder) instead of starting one, and says so in its header."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from harness.pytest_plugin import running_up

pytestmark = pytest.mark.integration


def write_up_json(cache, endpoint: str, pid: int) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "up.json").write_text(json.dumps({"endpoint_url": endpoint, "region": "us-east-1",
                                               "app": None, "stacks": {}, "pid": pid}))


def test_a_session_reuses_the_running_lsh_up_and_says_so(localstack, tmp_path):
    # the session's LocalStack stands in for `lsh up`'s; this process stands in for its pid
    cache = tmp_path / "cache"  # holds no venv: a LocalStack start would have to build one
    write_up_json(cache, localstack.endpoint_url, os.getpid())
    (tmp_path / "test_one.py").write_text(textwrap.dedent(f'''
        def test_uses_it(localstack):
            assert localstack.endpoint_url == {localstack.endpoint_url!r}
            assert localstack.backend == "external"
            assert localstack.client("sqs").create_queue(QueueName="lsh-reuse-up")["QueueUrl"]
    '''))
    env = {**os.environ, "LSH_CACHE_DIR": str(cache), "LSH_REUSE_UP": "1"}
    for name in ("LSH_BACKEND", "LSH_ENDPOINT", "LSH_PORT", "AWS_ENDPOINT_URL"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider",  # header shown
                             str(tmp_path / "test_one.py")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (f"lsh: reusing the LocalStack of a running `lsh up` (pid {os.getpid()}) at "
            f"{localstack.endpoint_url}") in result.stdout
    assert not (cache / "localstack-4.8.1").exists()  # nothing was built or started
    localstack.client("sqs").get_queue_url(QueueName="lsh-reuse-up")  # made in this LocalStack


def test_an_up_json_whose_process_is_gone_is_not_reused(localstack, tmp_path, monkeypatch):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    write_up_json(tmp_path, localstack.endpoint_url, gone.pid)
    monkeypatch.setenv("LSH_CACHE_DIR", str(tmp_path))
    assert running_up() is None
    write_up_json(tmp_path, localstack.endpoint_url, os.getpid())
    assert running_up()["endpoint_url"] == localstack.endpoint_url
