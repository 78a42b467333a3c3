"""Deploy a whole CDK app (every stack in dependency order) into a LocalStack."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from pathlib import Path

from harness.deploy.assets import upload_file_assets
from harness.deploy.cloudformation import DeployedStack, DeployError, deploy_stack
from harness.deploy.resources import DeployedResource, find, list_resources
from harness.deploy.synth import CLI_CONTEXT, StackArtifact, read_assembly, synth
from harness.errors import HarnessError
from harness.localstack import venvs
from harness.localstack.base import DEFAULT_REGION, LocalStack

ACCOUNT = "000000000000"  # LocalStack's default account
_BACKGROUND = ThreadPoolExecutor(2, thread_name_prefix="lsh-synth")
#: a cheap read per service: LocalStack loads a service on its first call (SSM ~0.9 s, because
#: moto's SSM imports moto's EC2; CloudFormation ~0.7 s; SQS, Lambda, S3 ~0.5 s each; ...)
WARM_UP_CALLS = {
    "cloudformation": "list_stacks", "s3": "list_buckets", "lambda": "list_functions",
    "sqs": "list_queues", "sns": "list_topics", "events": "list_event_buses",
    "dynamodb": "list_tables", "iam": "list_roles", "logs": "describe_log_groups",
    "apigateway": "get_rest_apis", "ssm": "describe_parameters",
    "stepfunctions": "list_state_machines", "kms": "list_keys", "kinesis": "list_streams",
}
#: CloudFormation resource namespaces whose boto3 service name is not the lower-cased namespace
_SERVICE_OF_NAMESPACE = {"stepfunctions": "stepfunctions", "apigatewayv2": "apigatewayv2"}
#: what is warmed while a synthesis runs (its templates are not known yet): what event-driven
#: apps use; the deploy itself always needs CloudFormation and S3 (assets)
DEFAULT_WARM_UP = ("cloudformation", "s3", "lambda", "iam", "sqs", "sns", "events", "dynamodb",
                   "logs", "apigateway")


def services_of(templates: list[dict]) -> set[str]:
    """The services a deploy of these templates touches (those :data:`WARM_UP_CALLS` knows)."""
    found = {"cloudformation", "s3"}
    for template in templates:
        for resource in template.get("Resources", {}).values():
            parts = str(resource.get("Type", "")).split("::")
            if len(parts) == 3 and parts[0] == "AWS":
                namespace = parts[1].lower()
                found.add(_SERVICE_OF_NAMESPACE.get(namespace, namespace))
        for spec in template.get("Parameters", {}).values():  # SSM-typed parameters read SSM
            if str(spec.get("Type", "")).startswith("AWS::SSM::"):
                found.add("ssm")
    return found & set(WARM_UP_CALLS)


def services_to_warm(synthesized: Future, wait: float = 0.2) -> list[str]:
    """What a LocalStack started for this synthesis should load as soon as it is ready
    (``LSH_WARM_SERVICES``), in order: its templates' services when the synthesis is done
    within ``wait`` seconds (a cached one is), else :data:`DEFAULT_WARM_UP`; then CloudWatch
    for apps with functions (Lambda publishes metrics there on each function's first invoke)."""
    wait_futures([synthesized], timeout=wait)
    wanted: set[str] = set(DEFAULT_WARM_UP)
    if synthesized.done() and synthesized.exception() is None:
        wanted = services_of(_templates(synthesized.result()[0]))
    order = [*DEFAULT_WARM_UP, *sorted(set(WARM_UP_CALLS) - set(DEFAULT_WARM_UP))]
    return [s for s in order if s in wanted] + (["cloudwatch"] if "lambda" in wanted else [])


def _first_call(localstack: LocalStack, service: str) -> None:
    getattr(localstack.client(service), WARM_UP_CALLS[service])()


def running_services(localstack: LocalStack) -> set[str]:
    """The services LocalStack has loaded already (``running`` in its health document), which a
    first call would not speed up: e.g. all of an app's in a reused ``lsh up``. Empty when it
    does not answer."""
    services = (localstack.health() or {}).get("services") or {}
    return {name for name, state in services.items() if state == "running"}


def warmed_by_localstack(localstack: LocalStack, services: set[str],
                         timeout: float = 120.0) -> set[str]:
    """Of ``services``, those LocalStack has loaded itself (its ``LSH_WARM_SERVICES`` warm-up,
    ``lsh_localstack_plugins.warm_up``), waiting until it has dealt with them; empty when it
    warms nothing (or is not ours: no such route)."""
    import urllib.parse
    import urllib.request

    if not services:
        return set()
    query = urllib.parse.urlencode({"services": ",".join(sorted(services)), "timeout": timeout})
    try:
        with urllib.request.urlopen(f"{localstack.endpoint_url}/_lsh/warm-up?{query}",
                                    timeout=timeout + 5) as response:
            state = json.load(response)
    except (OSError, ValueError):  # no warm-up route (another LocalStack), or no answer
        return set()
    return services & set(state.get("loaded") or {})


#: what is never a source of a synthesis: folders of tools and caches, test output and logs.
#: Glob patterns, matched against each file's and folder's name and its path in the source
#: folder; ``CdkApp(ignore=...)`` replaces them, ``CdkApp(ignore=[*DEFAULT_IGNORE, ...])`` adds.
DEFAULT_IGNORE = (
    ".git", ".venv", "venv", "node_modules", "cdk.out", "__pycache__", "*.egg-info",
    ".hypothesis", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".nox", "results",
    "tests", "test", "htmlcov", ".coverage", ".coverage.*", "*.log", "*.pyc", "junit*.xml",
    ".DS_Store",
)


def _ignored(name: str, relative: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relative, p) for p in patterns)


@dataclass
class CdkApp:
    """A CDK app: the folder holding its ``cdk.json``, plus what its synthesis depends on.

    ``sources`` are the folders whose files feed the synthesis (default: the app folder); when
    none of them changed, the previous cloud assembly is reused and synthesis (3-5 s of jsii
    start-up) is skipped. ``env`` are extra environment variables for the app's command.
    ``stacks`` chooses which of the app's stacks are deployed (default: all). ``ignore`` are
    glob patterns of files and folders that are not sources (default :data:`DEFAULT_IGNORE`:
    tools' folders, tests, logs). ``parameters`` are CloudFormation parameter values, by
    ``Name`` or ``Stack:Name`` (one no stack declares is an error); ``fallback_parameters``
    fill in where a stack declares them (what ``--lsh-parameter`` gives). A resource LocalStack has no provider for fails the deploy
    unless ``allow_skipped``.
    """

    app_dir: Path
    context: dict = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    sources: list[Path] = field(default_factory=list)
    #: deploy only these stacks (by stack name; default: every stack of the app)
    stacks: list[str] | None = None
    #: glob patterns of what is not a source (names or paths relative to a source folder)
    ignore: list[str] | tuple[str, ...] = DEFAULT_IGNORE
    #: CloudFormation parameter values, by parameter name or ``StackName:Name``
    parameters: dict[str, str] = field(default_factory=dict)
    #: values for parameters a stack declares and ``parameters`` does not give (the pytest
    #: option ``--lsh-parameter``); unlike ``parameters``, a name no stack declares is no error
    fallback_parameters: dict[str, str] = field(default_factory=dict)
    #: deploy even if LocalStack skips resources it has no provider for
    allow_skipped: bool = False

    def __post_init__(self) -> None:
        self.app_dir = Path(self.app_dir).resolve()
        self.sources = [Path(p).resolve() for p in self.sources] or [self.app_dir]

    def synth_fingerprint(self, region: str) -> str:
        """A hash of the sources' names, sizes and modification times (without what ``ignore``
        names), the context and env: what the synthesis depends on."""
        patterns = tuple(self.ignore)
        h = hashlib.sha256(json.dumps([str(self.app_dir), self.context, self.env, region,
                                       CLI_CONTEXT], sort_keys=True).encode())
        for source in self.sources:
            if source.is_file():  # a single file (os.walk yields nothing for one)
                st = source.stat()
                h.update(f"{source}:{st.st_size}:{st.st_mtime_ns}\n".encode())
                continue
            for root, dirs, files in os.walk(source):
                rel = os.path.relpath(root, source)
                rel = "" if rel == "." else rel + "/"
                dirs[:] = sorted(d for d in dirs if not _ignored(d, rel + d, patterns))
                for name in sorted(files):
                    if _ignored(name, rel + name, patterns):
                        continue
                    st = os.stat(os.path.join(root, name))
                    h.update(f"{root}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
        return h.hexdigest()[:16]

    def fingerprint(self, region: str) -> str:
        """What makes two deployments of the app the same: its synthesis and its parameters."""
        return hashlib.sha256(json.dumps(
            [self.synth_fingerprint(region), self.parameters, self.fallback_parameters,
             self.allow_skipped],
            sort_keys=True).encode()).hexdigest()[:16]


def synth_cached(app: CdkApp, region: str) -> tuple[list[StackArtifact], bool]:
    """The app's stacks, from a previous synthesis when nothing changed; and whether it was reused."""
    outdir = venvs.cache_root() / "cdk-out" / app.synth_fingerprint(region)
    if (outdir / ".complete").is_file():
        return read_assembly(outdir), True
    shutil.rmtree(outdir, ignore_errors=True)
    stacks = synth(app.app_dir, outdir, region, ACCOUNT, app.context, app.env)
    (outdir / ".complete").write_text("")
    return stacks, False


class OutputClash(HarnessError):
    """Two stacks of one app export an output of the same name: ``outputs`` cannot choose."""


@dataclass
class DeployedApp:
    """A CDK app deployed into a LocalStack: its stacks (each with its own outputs) and timings."""

    stacks: dict[str, DeployedStack]
    endpoint_url: str
    timings: dict[str, float]
    #: the LocalStack it is deployed in (set by :func:`deploy_app`; lookups need its clients)
    localstack: LocalStack | None = field(default=None, repr=False, compare=False)

    @property
    def outputs(self) -> dict[str, str]:
        """Outputs of every stack. A name that two stacks share is an error naming both (use
        ``stack_outputs(name)`` for one stack's)."""
        merged: dict[str, str] = {}
        owner: dict[str, str] = {}
        for stack in self.stacks.values():
            for key, value in stack.outputs.items():
                if key in owner:
                    raise OutputClash(
                        f"output {key!r} exists in stacks {owner[key]!r} and {stack.name!r}: "
                        f"read it with .stack_outputs({owner[key]!r})[{key!r}] or "
                        f".stack_outputs({stack.name!r})[{key!r}]")
                owner[key] = stack.name
                merged[key] = value
        return merged

    def stack_outputs(self, stack_name: str) -> dict[str, str]:
        """One stack's outputs."""
        if stack_name not in self.stacks:
            raise HarnessError(f"no stack {stack_name!r} in this deployment; it has "
                               f"{', '.join(self.stacks) or 'none'}")
        return dict(self.stacks[stack_name].outputs)

    def resources(self, resource_type: str | None = None) -> list[dict]:
        """The deployed stacks' resources (``describe_stack_resources``), optionally of one type,
        each with ``StackName``, ``LogicalResourceId``, ``PhysicalResourceId``, ``ResourceType``."""
        if self.localstack is None:
            raise HarnessError("this DeployedApp has no LocalStack attached (made by hand?)")
        cfn = self.localstack.client("cloudformation")
        found = []
        for name in self.stacks:
            for r in cfn.describe_stack_resources(StackName=name)["StackResources"]:
                if resource_type is None or r["ResourceType"] == resource_type:
                    found.append(r)
        return found

    def resource(self, name: str, resource_type: str | None = None) -> DeployedResource:
        """The resource ``name`` means: a logical id (``OrdersTable3F5A2B1C``), a CDK construct
        path (``Orders/OrdersTable/Resource``) or its end (``OrdersTable``), optionally of
        ``resource_type``; with its physical id and, where one fits, a boto3 ``handle``. No match
        or several are an error listing the app's resources."""
        if self.localstack is None:
            raise HarnessError("this DeployedApp has no LocalStack attached (made by hand?)")
        return find(list_resources(self.localstack, self.stacks), name, resource_type)

    def queue_url(self, name: str) -> str:
        """URL of the SQS queue ``name`` (see :meth:`resource`)."""
        return self.resource(name, "AWS::SQS::Queue").physical_id

    def state_machine(self, name: str) -> str:
        """ARN of the Step Functions state machine ``name``."""
        return self.resource(name, "AWS::StepFunctions::StateMachine").physical_id

    def table(self, name: str) -> str:
        """Name of the DynamoDB table ``name``."""
        return self.resource(name, "AWS::DynamoDB::Table").physical_id

    def bucket(self, name: str) -> str:
        """Name of the S3 bucket ``name``."""
        return self.resource(name, "AWS::S3::Bucket").physical_id

    def function(self, name: str) -> str:
        """Name of the Lambda function ``name``."""
        return self.resource(name, "AWS::Lambda::Function").physical_id

    def topic(self, name: str) -> str:
        """ARN of the SNS topic ``name``."""
        return self.resource(name, "AWS::SNS::Topic").physical_id

    def api_url(self, path: str = "", api_id: str | None = None, stage: str | None = None) -> str:
        """URL of a REST API path that works here (LocalStack's ``_aws/execute-api`` route).

        The API is the app's one ``AWS::ApiGateway::RestApi`` (pass ``api_id`` when it has
        several) and its one stage (pass ``stage`` when it has several). The
        ``*.execute-api.localhost.localstack.cloud`` hosts in AWS-style URLs do not resolve
        offline; this form needs no DNS.
        """
        if api_id is None:
            apis = [r["PhysicalResourceId"] for r in self.resources("AWS::ApiGateway::RestApi")]
            if len(apis) != 1:
                raise HarnessError(f"the app has {len(apis)} REST APIs ({', '.join(apis) or 'none'})"
                                   ": pass api_id=... to api_url")
            api_id = apis[0]
        if stage is None:
            apigw = self.localstack.client("apigateway")  # type: ignore[union-attr]
            stages = [s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]]
            if len(stages) != 1:
                raise HarnessError(f"REST API {api_id} has {len(stages)} stages "
                                   f"({', '.join(stages) or 'none'}): pass stage=... to api_url")
            stage = stages[0]
        return f"{self.endpoint_url}/_aws/execute-api/{api_id}/{stage}/{path.lstrip('/')}"


def bootstrap(localstack: LocalStack, templates: list[dict]) -> None:
    """What ``cdk bootstrap`` provides that synthesized templates read: the version parameter."""
    ssm = None  # a client only when needed (~30 ms; CDK apps without the version rule never do)
    for template in templates:
        spec = template.get("Parameters", {}).get("BootstrapVersion")
        if spec and "Default" in spec:
            ssm = ssm or localstack.client("ssm")
            ssm.put_parameter(Name=spec["Default"], Value="30", Type="String", Overwrite=True)


def _templates(stacks: list[StackArtifact]) -> list[dict]:
    return [json.loads(s.template_file.read_text()) for s in stacks]


def synth_in_background(app: CdkApp, region: str = DEFAULT_REGION) -> Future:
    """Start synthesizing now (e.g. while LocalStack starts); pass the result to
    :func:`deploy_app` as ``synthesized``."""
    future = _BACKGROUND.submit(synth_cached, app, region)
    future.region = region  # type: ignore[attr-defined]
    return future


def select_stacks(stacks: list[StackArtifact], names: list[str] | None) -> list[StackArtifact]:
    """The stacks named (by stack name), in deployment order; unknown names list the known."""
    if not names:
        return stacks
    known = {s.name for s in stacks}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise HarnessError(f"the app has no stack {', '.join(map(repr, unknown))}; its stacks: "
                           f"{', '.join(sorted(known)) or 'none'}")
    return [s for s in stacks if s.name in names]


def check_parameters(app: CdkApp, stacks: list[StackArtifact], templates: list[dict]) -> None:
    """A parameter value no stack declares is a typo: say which parameters exist."""
    declared = {(s.name, key) for s, t in zip(stacks, templates) for key in t.get("Parameters", {})}
    names = {key for _, key in declared}
    unknown = [k for k in app.parameters
               if not (tuple(k.split(":", 1)) in declared if ":" in k else k in names)]
    if unknown:
        known = ", ".join(sorted(f"{s}:{k}" for s, k in declared if k != "BootstrapVersion"))
        raise DeployError(f"parameter(s) {', '.join(map(repr, unknown))} given, but no stack "
                          f"declares them; the stacks' parameters: {known or 'none'}")


def deploy_app(localstack: LocalStack, app: CdkApp, timeout: float = 300.0,
               synthesized: Future | None = None) -> DeployedApp:
    """Synthesize (or reuse), upload assets, and create or update the app's stacks (all of them,
    or ``app.stacks``), in dependency order."""
    timings: dict[str, float] = {}
    t = time.monotonic()
    # One thread, one service after the other: loading is GIL-bound in LocalStack, so parallel
    # first calls gain nothing, and they can make two services import the same moto module at
    # once ("deadlock detected by _ModuleLock('moto.events.models')", seen in ~1 deploy of 5).
    with ThreadPoolExecutor(1, thread_name_prefix="lsh-warm-up") as pool:
        # LocalStack loads each service on its first call, on its one (GIL-bound) core: let that
        # happen while the app synthesizes (on another core), not during the stack's creation.
        # Only the services the templates use: when the synthesis is cached they are known at
        # once; otherwise the usual ones are warmed meanwhile and the rest once it is done.
        if synthesized is None:
            synthesized = synth_in_background(app, localstack.region)
        wait_futures([synthesized], timeout=0.2)
        templates: list[dict] | None = None
        if synthesized.done() and synthesized.region == localstack.region:
            templates = _templates(synthesized.result()[0])
            first = services_of(templates)
        else:
            first = set(DEFAULT_WARM_UP)
        # what LocalStack has loaded already (a reused, warm LocalStack: all of it) or warms
        # itself (LSH_WARM_SERVICES, set when it was started before the app was known) needs no
        # first call: wait for the warm-up, then call the rest (one client each, ~30 ms)
        running = running_services(localstack)
        pending = first - running
        warming = [pool.submit(_first_call, localstack, name)
                   for name in sorted(pending - warmed_by_localstack(localstack, pending))]
        stacks, reused = synthesized.result()
        if synthesized.region != localstack.region:  # synthesized for another region: again
            stacks, reused = synth_cached(app, localstack.region)
        timings["synth_s" if not reused else "synth_reused_s"] = round(time.monotonic() - t, 3)
        stacks = select_stacks(stacks, app.stacks)
        if templates is None or app.stacks:
            templates = _templates(stacks)
        check_parameters(app, stacks, templates)
        rest = services_of(templates) - first - running
        warming += [pool.submit(_first_call, localstack, name)
                    for name in sorted(rest - warmed_by_localstack(localstack, rest))]
        for future in warming:
            future.result()
    timings["services_warm_s"] = round(time.monotonic() - t, 3)
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
        deployed[stack.name] = deploy_stack(cfn, stack.name, template, timeout=timeout,
                                            parameters={**app.fallback_parameters,
                                                        **app.parameters},
                                            allow_skipped=app.allow_skipped)
        deployed[stack.name].details["assets"] = uploads
        deployed[stack.name].details["template"] = template
        timings[f"stack_{stack.name}_s"] = round(time.monotonic() - t, 3)
    return DeployedApp(deployed, localstack.endpoint_url, timings, localstack=localstack)
