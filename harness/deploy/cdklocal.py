"""Deploy a CDK app with the npm CLI ``cdklocal`` (aws-cdk-local wrapping aws-cdk), for comparison.

The harness's own deployer is the fast path; this proves the same app deploys with the tools a
team already uses. The CLI comes from this repo's ``package.json`` (``npm ci``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from harness.errors import HarnessError
from harness.localstack.base import LocalStack

REPO_ROOT = Path(__file__).resolve().parents[2]


class CdkLocalError(HarnessError):
    """The cdklocal CLI is missing or failed."""


def cdklocal_bin() -> Path:
    found = REPO_ROOT / "node_modules" / ".bin" / "cdklocal"
    if found.exists():
        return found
    which = shutil.which("cdklocal")
    if which:
        return Path(which)
    raise CdkLocalError(f"cdklocal is not installed: run `npm ci` in {REPO_ROOT}")


def _run(args: list[str], app_dir: Path, env: dict[str, str], timeout: float) -> str:
    result = subprocess.run([str(cdklocal_bin()), *args], cwd=app_dir, env=env, text=True,
                            capture_output=True, timeout=timeout)
    if result.returncode != 0:
        raise CdkLocalError(f"`cdklocal {' '.join(args)}` failed (exit {result.returncode}):\n"
                            f"{(result.stderr + result.stdout)[-4000:]}")
    return result.stdout


def release_bootstrap_parameter(localstack: LocalStack,
                                name: str = "/cdk-bootstrap/hnb659fds/version") -> None:
    """Delete the bootstrap version parameter the harness's deployer wrote, if no CDKToolkit stack
    owns it: ``cdk bootstrap`` creates it through CloudFormation and fails if it already exists."""
    from botocore.exceptions import ClientError

    try:
        localstack.client("cloudformation").describe_stacks(StackName="CDKToolkit")
        return  # bootstrapped by the CDK CLI already; the parameter is its own
    except ClientError:
        pass
    try:
        localstack.client("ssm").delete_parameter(Name=name)
    except ClientError:
        pass


def deploy_with_cdklocal(localstack: LocalStack, app_dir: Path, stacks: str = "--all",
                         timeout: float = 600.0,
                         context: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    """``cdklocal bootstrap`` then ``cdklocal deploy`` (with ``-c key=value`` for each
    ``context`` entry); return each stack's outputs."""
    app_dir = Path(app_dir).resolve()
    outputs_file = app_dir / "cdk.out" / "lsh-cdklocal-outputs.json"
    env = dict(os.environ, **localstack.env())
    env.update({
        "CDK_DEFAULT_ACCOUNT": "000000000000", "CDK_DEFAULT_REGION": localstack.region,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_VALIDATION": os.environ.get("CDK_VALIDATION", "false"),
        # the app command in cdk.json says `python`: run it with this interpreter's environment
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    started = time.monotonic()
    release_bootstrap_parameter(localstack)
    _run(["bootstrap", f"aws://000000000000/{localstack.region}"], app_dir, env, timeout)
    # --no-previous-parameters: LocalStack 4.8.1 otherwise fails updates on BootstrapVersion
    context_args = [arg for key, value in (context or {}).items() for arg in ("-c", f"{key}={value}")]
    _run(["deploy", stacks, *context_args, "--require-approval", "never", "--no-previous-parameters",
          "--outputs-file", str(outputs_file), "--no-notices", "--progress", "events"],
         app_dir, env, timeout)
    outputs = json.loads(outputs_file.read_text())
    outputs["_seconds"] = {"total": round(time.monotonic() - started, 3)}
    return outputs
