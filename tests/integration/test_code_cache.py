"""Unzipped layer code comes from a cache kept across runs (lsh_localstack_plugins.lambda_executor.
code_cache): functions run from it, cannot make a later function see altered code, and the
cache outlives the run's folder.
"""

from __future__ import annotations

import json
import os
import stat
import uuid
from pathlib import Path

from harness.localstack import EmbeddedBackend
from tests.integration.conftest import make_zip

ROLE = "arn:aws:iam::000000000000:role/lsh-code-cache"
HANDLER = '''
import os, lsh_cached_mod
def handler(event, context):
    return {"value": lsh_cached_mod.VALUE, "file": os.path.realpath(lsh_cached_mod.__file__)}
'''


def _function_with_layer(lam, layer_zip: bytes, name: str) -> dict:
    layer = lam.publish_layer_version(LayerName=name, Content={"ZipFile": layer_zip},
                                      CompatibleRuntimes=["python3.11"])
    lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE,
                        Code={"ZipFile": make_zip({"app.py": HANDLER})},
                        Layers=[layer["LayerVersionArn"]])
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})
    response = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


def test_layer_code_runs_from_the_read_only_cache_and_altered_entries_are_replaced(
        tmp_path, monkeypatch):
    cache = tmp_path / "code-cache"
    monkeypatch.setenv("LSH_CODE_CACHE_DIR", str(cache))  # LSH_* variables reach LocalStack
    monkeypatch.setenv("LSH_CODE_CACHE_MIN_BYTES", "0")  # these archives are tiny
    token = uuid.uuid4().hex
    layer_zip = make_zip({"python/lsh_cached_mod.py": f"VALUE = {token!r}\n"})
    backend = EmbeddedBackend(progress=lambda _line: None)
    try:
        lam = backend.start().client("lambda")
        first = _function_with_layer(lam, layer_zip, f"lsh-code-cache-a-{token[:8]}")
        assert first["value"] == token
        module = Path(first["file"])
        assert module.is_relative_to(cache.resolve()), f"{module} is not in the cache {cache}"
        assert not module.stat().st_mode & 0o222, "cached code must be read-only, as /opt on AWS"

        # something altered the cached file (root ignores the read-only mode)
        module.chmod(module.stat().st_mode | stat.S_IWUSR)
        module.write_text("VALUE = 'altered'\n")
        # the same layer content again (same sha256): the altered entry is not used
        second = _function_with_layer(lam, layer_zip, f"lsh-code-cache-b-{token[:8]}")
        assert second["value"] == token
        assert Path(second["file"]).is_relative_to(cache.resolve())
    finally:
        backend.stop()
    # the run's folder is gone, the cache (followed through a symlink) is not
    assert module.read_text() == f"VALUE = {token!r}\n"
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == [], os.listdir(cache)
