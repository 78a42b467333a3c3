"""Synthesize a CDK app into a cloud assembly by running its ``app`` command, as the CDK CLI does."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.extras import install_hint


#: context the CDK CLI gives every app by default (``--path-metadata``, ``--asset-metadata``)
CLI_CONTEXT = {"aws:cdk:enable-path-metadata": True, "aws:cdk:enable-asset-metadata": True}


class SynthError(HarnessError):
    """The CDK app failed to synthesize."""


@dataclass
class StackArtifact:
    name: str
    template_file: Path
    assets_file: Path | None
    dependencies: list[str]


def read_app_command(cdk_json: Path) -> str:
    try:
        return json.loads(cdk_json.read_text())["app"]
    except (OSError, ValueError, KeyError) as exc:
        raise SynthError(f"{cdk_json} must be a JSON file with an \"app\" command ({exc})") from exc


def synth(app_dir: Path, outdir: Path, region: str, account: str = "000000000000",
          context: dict | None = None, env: dict[str, str] | None = None) -> list[StackArtifact]:
    """Run the app's command with ``CDK_OUTDIR`` set; return its stacks in deployment order."""
    command = read_app_command(app_dir / "cdk.json")
    # as the CDK CLI does: its defaults (construct paths in the template's metadata, which
    # DeployedApp.resource looks resources up by), cdk.json's context, what the caller passes
    context = {**CLI_CONTEXT, **json.loads((app_dir / "cdk.json").read_text()).get("context", {}),
               **(context or {})}
    outdir.mkdir(parents=True, exist_ok=True)
    run_env = dict(os.environ)
    run_env.update({
        "CDK_OUTDIR": str(outdir),
        "CDK_DEFAULT_ACCOUNT": account,
        "CDK_DEFAULT_REGION": region,
        "CDK_CONTEXT_JSON": json.dumps(context),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        # CDK's built-in CloudFormation validation costs 3-8 s per synth
        "CDK_VALIDATION": os.environ.get("CDK_VALIDATION", "false"),
    })
    run_env.update(env or {})
    argv = app_argv(command, app_dir, run_env.get("PATH"))
    result = subprocess.run(argv, cwd=app_dir, env=run_env, capture_output=True, text=True)
    if result.returncode != 0:
        output = result.stderr or result.stdout
        cdk_missing = any(f"No module named '{m}" in output for m in ("aws_cdk", "constructs"))
        hint = f"; aws-cdk-lib is missing: {install_hint('cdk')}" if cdk_missing else ""
        raise SynthError(f"CDK app `{command}` in {app_dir} failed (exit {result.returncode})"
                         f"{hint}:\n{output[-4000:]}")
    return read_assembly(outdir)


#: characters that make the CDK CLI's shell matter (pipes, chaining, variables, redirection)
_SHELL_SYNTAX = set("|&;<>$`")


def app_argv(command: str, app_dir: Path, path: str | None = None) -> list[str]:
    """The app command as the CDK CLI runs it: in the app folder, a relative program path
    (``./.venv/bin/python3``) taken from there, other programs from ``PATH``, shell syntax by a
    shell. A bare ``python``/``python3`` is this test environment's interpreter, which has the
    harness's aws-cdk-lib. A program that is missing is a :class:`SynthError` naming it and the fix.
    """
    where = app_dir / "cdk.json"
    if _SHELL_SYNTAX & set(command):
        return ["/bin/sh", "-c", command]
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise SynthError(f"the \"app\" command in {where} cannot be parsed ({exc}): {command!r}")
    if not argv:
        raise SynthError(f"the \"app\" command in {where} is empty: set it to e.g. "
                         "\"python3 app.py\"")
    program, rest = argv[0], " ".join(argv[1:])
    if program in ("python", "python3", f"python3.{sys.version_info.minor}"):
        argv[0] = sys.executable
    elif "/" in program:
        found = Path(program) if Path(program).is_absolute() else app_dir / program
        if not found.exists():
            fix = ("create that virtualenv in the app folder (`python3 -m venv .venv && "
                   ".venv/bin/pip install -r requirements.txt`)" if ".venv" in program or
                   "venv" in program else "create it")
            raise SynthError(
                f"the \"app\" command in {where}, `{command}`, runs {program}, which does not "
                f"exist in {app_dir}: {fix}, or set \"app\" to \"python3 {rest}\" to run the app "
                "with this test environment's Python")
        if not os.access(found, os.X_OK):
            raise SynthError(f"the \"app\" command in {where} runs {found}, which is not "
                             f"executable: `chmod +x {found}`")
        argv[0] = str(found)
    elif shutil.which(program, path=path) is None:
        raise SynthError(f"the \"app\" command in {where}, `{command}`, runs {program!r}, which is "
                         f"not on PATH: install it, or change \"app\" in {where}")
    return argv


def read_assembly(outdir: Path) -> list[StackArtifact]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    artifacts = manifest.get("artifacts", {})
    stacks: dict[str, StackArtifact] = {}
    for art_id, art in artifacts.items():
        if art.get("type") != "aws:cloudformation:stack":
            continue
        props = art.get("properties", {})
        deps = art.get("dependencies", [])
        assets = next((d for d in deps if artifacts.get(d, {}).get("type") == "cdk:asset-manifest"),
                      None)
        stacks[art_id] = StackArtifact(
            name=props.get("stackName", art_id),
            template_file=outdir / props["templateFile"],
            assets_file=outdir / artifacts[assets]["properties"]["file"] if assets else None,
            dependencies=[d for d in deps if artifacts.get(d, {}).get("type") ==
                          "aws:cloudformation:stack"])
    ordered: list[StackArtifact] = []
    seen: set[str] = set()

    def visit(art_id: str) -> None:
        if art_id in seen:
            return
        seen.add(art_id)
        for dep in stacks[art_id].dependencies:
            visit(dep)
        ordered.append(stacks[art_id])

    for art_id in stacks:
        visit(art_id)
    return ordered
