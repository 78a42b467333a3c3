"""The functions' code assets, built at synth time without Docker (``infra/layer.py``).

The first run on a machine builds the dependency layer with pip (PyPI needed, ~5-10 s); later
runs reuse it from the build cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra.common import layer  # noqa: E402
from infra.app import build_app  # noqa: E402


@pytest.fixture(scope="module")
def assembly(tmp_path_factory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk.out")
    build_app(outdir=str(outdir), apps=["upload_pipeline"]).synth()
    return outdir


@pytest.fixture(scope="module")
def assets(assembly) -> dict[str, Path]:
    """``{display name: asset folder}`` of the stack's file assets."""
    manifest = json.loads((assembly / "LshPipeline.assets.json").read_text())
    found = {}
    for asset in manifest["files"].values():
        if asset["source"]["path"].endswith(".template.json"):
            continue
        assert asset["source"]["packaging"] == "zip"
        found[asset["displayName"]] = assembly / asset["source"]["path"]
    return found


def test_our_two_file_assets_cdks_handler_and_no_docker_images(assembly, assets):
    # our code, shared by 3 functions; CDK's auto-delete handler (its notifications handler is
    # inline Python)
    assert sorted(assets) == ["Dependencies/Code",
                              "LshPipeline/Custom::S3AutoDeleteObjectsCustomResourceProvider Code",
                              "Processor/Code"]
    manifest = json.loads((assembly / "LshPipeline.assets.json").read_text())
    assert not manifest.get("dockerImages")


def test_code_asset_is_the_functions_package(assets):
    code = assets["Processor/Code"]
    assert sorted(p.name for p in code.iterdir()) == ["functions"]
    files = sorted(str(p.relative_to(code)) for p in code.rglob("*") if p.is_file())
    assert "functions/__init__.py" in files
    assert "functions/upload_pipeline/processor.py" in files
    assert "functions/upload_pipeline/api_handler.py" in files
    assert "functions/upload_pipeline/confirmation_sender.py" in files
    assert "functions/upload_pipeline/common/models.py" in files
    assert not [f for f in files if f.startswith("functions/") and f.count("/") > 1
                and not f.startswith("functions/upload_pipeline/")]  # no other app's code
    assert not [f for f in files if "__pycache__" in f or f.endswith((".pyc", "requirements.txt"))]


def test_layer_holds_the_pinned_dependencies_precompiled(assets):
    site = assets["Dependencies/Code"] / "python"
    for package in ("aws_lambda_powertools", "pydantic", "pydantic_core", "jmespath"):
        assert (site / package).is_dir(), package
    assert list((site / "pydantic_core").glob("_pydantic_core.cpython-311-x86_64-linux-gnu.so"))
    assert (site / "aws_lambda_powertools-3.37.0.dist-info").is_dir()
    assert list((site / "pydantic" / "__pycache__").glob("*.cpython-311.pyc"))
    assert not (site / "boto3").exists()  # the Lambda runtime provides it


def test_handlers_import_from_the_assets(assets, tmp_path):
    """What the runtime does: code folder and layer on sys.path, plus boto3 (from here)."""
    import boto3

    boto_site = str(Path(boto3.__file__).parent.parent)
    site = assets["Dependencies/Code"] / "python"
    probe = ("import functions.upload_pipeline.processor, functions.upload_pipeline.api_handler, functions.upload_pipeline.confirmation_sender,"
             " pydantic, aws_lambda_powertools; print(pydantic.__file__);"
             " print(aws_lambda_powertools.__file__)")
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1",
           "IDEMPOTENCY_TABLE": "t", "EVENTS_TABLE": "t", "TOPIC_ARN": "arn",
           "PYTHONPATH": os.pathsep.join([str(assets["Processor/Code"]), str(site), boto_site])}
    result = subprocess.run([sys.executable, "-S", "-c", probe], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert all(line.startswith(str(site)) for line in result.stdout.split())


def test_a_second_build_reuses_the_cache(monkeypatch, assets):
    first = layer.build_dependency_layer()

    def no_pip(*args, **kwargs):
        raise AssertionError("pip ran again")

    monkeypatch.setattr(layer.subprocess, "run", no_pip)
    assert layer.build_dependency_layer() == first


def test_the_cache_key_follows_the_pins(monkeypatch, tmp_path):
    before = layer.layer_digest()
    pins = tmp_path / "requirements.txt"
    pins.write_text(layer.REQUIREMENTS.read_text() + "six==1.17.0\n")
    monkeypatch.setattr(layer, "REQUIREMENTS", pins)
    assert layer.layer_digest() != before


def test_build_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv("LSH_LAYER_BUILD_DIR", str(tmp_path / "a"))
    assert layer.build_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("LSH_LAYER_BUILD_DIR")
    monkeypatch.setenv("LSH_CACHE_DIR", str(tmp_path / "b"))
    assert layer.build_cache_dir() == tmp_path / "b" / "lambda-layers"
    monkeypatch.delenv("LSH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert layer.build_cache_dir() == tmp_path / "c" / "localstack-e2e-harness" / "lambda-layers"


def test_a_failed_pip_run_says_so_and_leaves_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv("LSH_LAYER_BUILD_DIR", str(tmp_path))
    pins = tmp_path / "requirements.txt"
    pins.write_text("this-package-does-not-exist-lsh==0.0.0\n")
    monkeypatch.setattr(layer, "REQUIREMENTS", pins)
    monkeypatch.setattr(layer, "PLATFORM", "not-a-platform")  # fails fast, before any download
    with pytest.raises(layer.LayerBuildError, match="pip install"):
        layer.build_dependency_layer()
    assert [p.name for p in tmp_path.iterdir()] == ["requirements.txt"]
