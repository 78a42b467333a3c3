"""Deploy a whole CDK app (every stack in dependency order) into a LocalStack."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from harness.deploy.assets import upload_file_assets
from harness.deploy.cloudformation import DeployedStack, deploy_stack
from harness.deploy.synth import StackArtifact, read_assembly, synth
from harness.localstack import venvs
from harness.localstack.base import DEFAULT_REGION, LocalStack

ACCOUNT = "000000000000"  # LocalStack's default account
_BACKGROUND = ThreadPoolExecutor(2, thread_name_prefix="lsh-synth")
WARM_UP = (("ssm", "describe_parameters"), ("s3", "list_buckets"),
           ("cloudformation", "list_stacks"), ("lambda", "list_functions"),
           ("apigateway", "get_rest_apis"))


def _first_call(localstack: LocalStack, service: str, operation: str) -> None:
    getattr(localstack.client(service), operation)()


_NOT_SOURCES = {".git", ".venv", "venv", "node_modules", "cdk.out", "__pycache__", ".hypothesis",
                ".pytest_cache", ".mypy_cache", "results"}


@dataclass
class CdkApp:
    """A CDK app: the folder holding its ``cdk.json``, plus what its synthesis depends on.

    ``sources`` are the folders whose files feed the synthesis (default: the app folder); when
    none of them changed, the previous cloud assembly is reused and synthesis (3-5 s of jsii
    start-up) is skipped. ``env`` are extra environment variables for the app's command.
    """

    app_dir: Path
    context: dict = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    sources: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app_dir = Path(self.app_dir).resolve()
        self.sources = [Path(p).resolve() for p in self.sources] or [self.app_dir]

    def fingerprint(self, region: str) -> str:
        """A hash of the sources' names, sizes and modification times, the context and env."""
        h = hashlib.sha256(json.dumps([str(self.app_dir), self.context, self.env, region],
                                      sort_keys=True).encode())
        for source in self.sources:
            for root, dirs, files in os.walk(source):
                dirs[:] = sorted(d for d in dirs if d not in _NOT_SOURCES and
                                 not d.endswith(".egg-info"))
                for name in sorted(files):
                    st = os.stat(os.path.join(root, name))
                    h.update(f"{root}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        return h.hexdigest()[:16]


def synth_cached(app: CdkApp, region: str) -> tuple[list[StackArtifact], bool]:
    """The app's stacks, from a previous synthesis when nothing changed; and whether it was reused."""
    outdir = venvs.cache_root() / "cdk-out" / app.fingerprint(region)
    if (outdir / ".complete").is_file():
        return read_assembly(outdir), True
    shutil.rmtree(outdir, ignore_errors=True)
    stacks = synth(app.app_dir, outdir, region, ACCOUNT, app.context, app.env)
    (outdir / ".complete").write_text("")
    return stacks, False


@dataclass
class DeployedApp:
    stacks: dict[str, DeployedStack]
    endpoint_url: str
    timings: dict[str, float]

    @property
    def outputs(self) -> dict[str, str]:
        """Outputs of every stack, merged (later stacks win on a name clash)."""
        merged: dict[str, str] = {}
        for stack in self.stacks.values():
            merged.update(stack.outputs)
        return merged

    def api_url(self, path: str = "", api_id: str | None = None, stage: str | None = None) -> str:
        """URL of a REST API path that works here (LocalStack's ``_aws/execute-api`` route).

        The ``*.execute-api.localhost.localstack.cloud`` hosts in AWS-style URLs do not resolve
        offline; this form needs no DNS.
        """
        api_id = api_id or self.outputs["ApiId"]
        stage = stage or self.outputs["ApiStage"]
        return f"{self.endpoint_url}/_aws/execute-api/{api_id}/{stage}/{path.lstrip('/')}"


def bootstrap(localstack: LocalStack, templates: list[dict]) -> None:
    """What ``cdk bootstrap`` provides that synthesized templates read: the version parameter."""
    ssm = localstack.client("ssm")
    for template in templates:
        spec = template.get("Parameters", {}).get("BootstrapVersion")
        if spec and "Default" in spec:
            ssm.put_parameter(Name=spec["Default"], Value="30", Type="String", Overwrite=True)


def synth_in_background(app: CdkApp, region: str = DEFAULT_REGION) -> Future:
    """Start synthesizing now (e.g. while LocalStack starts); pass the result to
    :func:`deploy_app` as ``synthesized``."""
    future = _BACKGROUND.submit(synth_cached, app, region)
    future.region = region  # type: ignore[attr-defined]
    return future


def deploy_app(localstack: LocalStack, app: CdkApp, timeout: float = 300.0,
               synthesized: Future | None = None) -> DeployedApp:
    timings: dict[str, float] = {}
    t = time.monotonic()
    with ThreadPoolExecutor(len(WARM_UP)) as pool:
        # LocalStack loads each service on its first call (SSM ~1.2 s, API Gateway ~0.6 s, ...):
        # let that happen while the app synthesizes instead of one after the other
        warming = [pool.submit(_first_call, localstack, *call) for call in WARM_UP]
        if synthesized is None:
            synthesized = synth_in_background(app, localstack.region)
        stacks, reused = synthesized.result()
        if synthesized.region != localstack.region:  # synthesized for another region: again
            stacks, reused = synth_cached(app, localstack.region)
        timings["synth_s" if not reused else "synth_reused_s"] = round(time.monotonic() - t, 3)
        for future in warming:
            future.result()
    timings["services_warm_s"] = round(time.monotonic() - t, 3)
    templates = [json.loads(s.template_file.read_text()) for s in stacks]
    t = time.monotonic()
    s3 = localstack.client("s3")
    bootstrap(localstack, templates)
    uploads = {"uploaded": 0, "skipped": 0}
    for stack in stacks:
        if stack.assets_file:
            for key, n in upload_file_assets(stack.assets_file, s3, ACCOUNT,
                                             localstack.region).items():
                uploads[key] += n
    timings["assets_s"] = round(time.monotonic() - t, 3)
    cfn = localstack.client("cloudformation")
    deployed = {}
    for stack, template in zip(stacks, templates):
        t = time.monotonic()
        deployed[stack.name] = deploy_stack(cfn, stack.name, template, timeout=timeout)
        deployed[stack.name].details["assets"] = uploads
        timings[f"stack_{stack.name}_s"] = round(time.monotonic() - t, 3)
    return DeployedApp(deployed, localstack.endpoint_url, timings)
