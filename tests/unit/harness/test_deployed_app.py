"""DeployedApp's outputs per stack, stack selection, and the app fingerprint (no LocalStack)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.deploy import CdkApp, DeployedStack
from harness.deploy.deployer import DeployedApp, OutputClash, select_stacks
from harness.deploy.synth import StackArtifact
from harness.errors import HarnessError


def _app(**stacks: dict[str, str]) -> DeployedApp:
    return DeployedApp({name: DeployedStack(name, outputs, "CREATE_COMPLETE", True)
                        for name, outputs in stacks.items()}, "http://127.0.0.1:1", {})


def test_outputs_of_every_stack_are_merged_when_names_differ():
    app = _app(A={"QueueUrl": "q"}, B={"TableName": "t"})
    assert app.outputs == {"QueueUrl": "q", "TableName": "t"}
    assert app.stack_outputs("B") == {"TableName": "t"}


def test_an_output_name_two_stacks_share_is_an_error_naming_both():
    app = _app(A={"Name": "a"}, B={"Name": "b"})
    with pytest.raises(OutputClash, match=r"'Name' exists in stacks 'A' and 'B'.*stack_outputs"):
        app.outputs
    assert app.stack_outputs("A")["Name"] == "a" and app.stack_outputs("B")["Name"] == "b"
    with pytest.raises(HarnessError, match="no stack 'C'.*A, B"):
        app.stack_outputs("C")


def test_select_stacks_keeps_deployment_order_and_names_unknown_ones(tmp_path):
    stacks = [StackArtifact(n, tmp_path / f"{n}.json", None, []) for n in ("Net", "Api", "Jobs")]
    assert [s.name for s in select_stacks(stacks, None)] == ["Net", "Api", "Jobs"]
    assert [s.name for s in select_stacks(stacks, ["Jobs", "Net"])] == ["Net", "Jobs"]
    with pytest.raises(HarnessError, match="no stack 'Nope'; its stacks: Api, Jobs, Net"):
        select_stacks(stacks, ["Nope"])


def test_fingerprint_follows_file_and_folder_sources_context_and_stacks(tmp_path: Path):
    (tmp_path / "cdk.json").write_text("{}")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 1")
    single = tmp_path / "app.py"
    single.write_text("print(1)")
    app = CdkApp(tmp_path, sources=[tmp_path / "src", single])
    first = app.fingerprint("us-east-1")
    assert first == CdkApp(tmp_path, sources=[tmp_path / "src", single]).fingerprint("us-east-1")
    single.write_text("print(22)")  # a file source counts (os.walk alone would skip it)
    os.utime(single, ns=(1, 1))
    second = app.fingerprint("us-east-1")
    assert second != first
    assert CdkApp(tmp_path, context={"apps": "a"}, sources=[tmp_path / "src", single]
                  ).fingerprint("us-east-1") != second
    assert app.fingerprint("eu-west-1") != second
