"""``lsh``: the command line of the harness; it serves any CDK app.

- ``lsh up [--app PATH] [--stack NAME ...]``: start LocalStack, deploy the CDK app whose
  ``cdk.json`` is in PATH (default: the current folder; ``--no-deploy`` to skip), print each
  stack's outputs and ``export`` lines for other shells, and stay in the foreground (Ctrl-C stops).
- ``lsh send queue|topic|bus|api|upload|invoke TARGET WHAT``: send one message, event, request,
  object or invocation into the app of a running ``lsh up``. TARGET is a URL/ARN/name, a stack
  output's name or a resource's logical id (e.g. ``OrdersQueue``).
- ``lsh trace NEEDLE``: where an event is now, stage by stage, across every topic, queue, DLQ,
  function, table and state machine of the deployed app.
- ``lsh prepare``: build the cached virtualenvs now (``make`` does this once).
- ``lsh image build``: build the LocalStack Docker image for ``--backend testcontainers`` and
  ``docker-compose.yml`` (from Debian packages and PyPI; skipped when it is up to date).

The reference apps' own demos run with ``make demo`` (``tests/e2e/demo.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness.config import HarnessConfig
from harness.errors import HarnessError
from botocore.exceptions import ClientError, ParamValidationError

from harness import up_state
from harness.localstack import ExternalBackend, LocalStack, create_backend, processes, venvs
from harness.localstack.base import DEFAULT_REGION
from harness.localstack.embedded import INTERRUPT_GRACE_SECONDS, EmbeddedBackend

DEFAULT_UP_PORT = 4566


def state_file():
    """Where ``lsh up`` records its endpoint and stacks, for other ``lsh`` commands and shells."""
    return up_state.state_path()


def _backend_from_args(args: argparse.Namespace, default_port: int | None = None):
    cfg = HarnessConfig.from_env(backend=args.backend, endpoint=args.endpoint, port=args.port)
    if cfg.port is None and default_port is not None:
        cfg.port = default_port
    return create_backend(cfg.backend, **cfg.backend_options())


def print_exports(localstack: LocalStack) -> None:
    print(f"LocalStack is up at {localstack.endpoint_url} (backend {localstack.backend}, "
          f"region {localstack.region}). In another shell:")
    for key, value in localstack.env().items():
        print(f"export {key}={value}")
    sys.stdout.flush()


def _app_from_args(args: argparse.Namespace):
    from harness.deploy import CdkApp

    folder = Path(args.app or ".").resolve()
    if not (folder / "cdk.json").is_file():
        raise HarnessError(f"no cdk.json in {folder}: run `lsh up` in your CDK app's folder, pass "
                           "--app PATH (the folder holding cdk.json), or --no-deploy")
    context = {}
    for pair in args.context or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise HarnessError(f"--context {pair!r} is not KEY=VALUE (e.g. --context stage=test)")
        context[key] = value
    return CdkApp(folder, context=context, stacks=args.stack or None)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP of ``lsh up``: exit code 128 + the signal."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def cmd_up(args: argparse.Namespace) -> int:
    """Start (and deploy) in a worker thread; the main thread only waits for a signal, so
    Ctrl-C / SIGTERM / SIGHUP stop it within ~2 s wherever it is (a venv build, the start, a
    deploy, serving): LocalStack gets a short grace, every child process is killed (main)."""
    app = None if args.no_deploy else _app_from_args(args)
    backend = _backend_from_args(args, default_port=DEFAULT_UP_PORT)
    # interrupted or failed before it serves: its log is kept (and named); Ctrl-C later is the
    # normal way to stop, and a clean stop leaves nothing
    backend.keep_logs = True
    signalled: list[int] = []
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        signalled.append(signum)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            outcome["code"] = _serve(backend, app, stop)
        except BaseException as exc:  # handed to the main thread
            outcome["error"] = exc
        finally:
            stop.set()

    worker = threading.Thread(target=work, name="lsh-up", daemon=True)
    worker.start()
    # a timeout, so this (main) thread runs its signal handler promptly: a signal the kernel
    # hands to another thread does not wake a wait without one
    while not stop.wait(0.1):
        pass
    if signalled:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # the clean-up that follows is not cut short
        state_file().unlink(missing_ok=True)
        grace = {"grace": INTERRUPT_GRACE_SECONDS} if isinstance(backend, EmbeddedBackend) else {}
        backend.stop(**grace)
        deadline = time.monotonic() + 0.5
        while True:  # a pip or CDK synth child; what the worker starts before it gives up
            processes.kill_children()
            worker.join(timeout=0.1)
            if not worker.is_alive() or time.monotonic() > deadline:
                break
        backend.stop(**grace)  # whatever the worker started in between
        if getattr(backend, "kept_logs", None):
            print(f"lsh: LocalStack's log is kept in {backend.kept_logs}", file=sys.stderr)
        raise Interrupted(signalled[0])
    if "error" in outcome:
        if getattr(backend, "kept_logs", None):
            print(f"lsh: LocalStack's log is kept in {backend.kept_logs}", file=sys.stderr)
        raise outcome["error"]  # type: ignore[misc]
    return int(outcome.get("code", 1))  # type: ignore[call-overload]


def _serve(backend, app, stop: threading.Event) -> int:
    synthesized = None
    settings = dict(getattr(backend, "settings", None) or {})  # what it runs with (up.json)
    if app is not None:
        from harness.deploy.deployer import services_to_warm, synth_in_background

        # synthesize while LocalStack starts, and have it load the app's services as soon as it
        # is ready (as a pytest session's early start does); the warm-up changes when services
        # load, not what runs, so it is no part of the launch signature
        region = getattr(backend, "region", DEFAULT_REGION)
        synthesized = synth_in_background(app, region)
        if isinstance(backend, EmbeddedBackend) and "LSH_WARM_SERVICES" not in os.environ:
            backend.settings.setdefault("LSH_WARM_SERVICES",
                                        ",".join(services_to_warm(synthesized)))
    with backend as localstack:
        stacks: dict[str, dict[str, str]] = {}
        if app is not None:
            from harness.deploy import deploy_app

            deployed = deploy_app(localstack, app, synthesized=synthesized)
            stacks = {name: s.outputs for name, s in deployed.stacks.items()}
            print(f"deployed {', '.join(stacks) or 'no stack'} from {app.app_dir} in "
                  f"{sum(deployed.timings.values()):.1f} s")
            for name, outputs in stacks.items():
                print(f"stack {name}, outputs:")
                for key, value in sorted(outputs.items()):
                    print(f"  {key:<32} {value}")
            try:
                print(f"  {'(REST API here)':<32} {deployed.api_url()}")
            except HarnessError:
                pass  # no REST API, or several: nothing to print
        print_exports(localstack)
        state_file().parent.mkdir(parents=True, exist_ok=True)
        state_file().write_text(json.dumps({
            "endpoint_url": localstack.endpoint_url, "region": localstack.region,
            "app": str(app.app_dir) if app else None, "stacks": stacks, "pid": os.getpid(),
            # what it runs with: a pytest session reuses this LocalStack only if the same
            "launch": up_state.launch_signature(localstack.backend, settings, localstack.region)}))
        print("Send into it from another shell with `lsh send queue|topic|bus|api|upload|invoke "
              "TARGET WHAT`, follow an event with `lsh trace ID`. Press Ctrl-C to stop.",
              flush=True)
        backend.keep_logs = False
        try:
            while not stop.wait(0.2):  # until a signal; LocalStack's death is an error (exit 2)
                localstack.check_alive()
        finally:
            state_file().unlink(missing_ok=True)
            print("stopping LocalStack ...", flush=True)
    return 0


def _running() -> tuple[LocalStack, dict[str, dict[str, str]]]:
    """The LocalStack of a running ``lsh up`` (or ``LSH_ENDPOINT``) and its stacks' outputs."""
    state = json.loads(state_file().read_text()) if state_file().is_file() else {}
    if state.get("pid") and not processes.pid_alive(int(state["pid"])):  # an `lsh up` that was SIGKILLed
        state_file().unlink(missing_ok=True)
        state = {}
    endpoint = HarnessConfig.from_env().endpoint or state.get("endpoint_url")
    if not endpoint:
        raise HarnessError("no running LocalStack found: start one with `lsh up` (or set "
                           "LSH_ENDPOINT to one)")
    localstack = ExternalBackend(endpoint, wait_seconds=3).start()
    stacks = state.get("stacks")
    if stacks is None or state.get("endpoint_url") != endpoint:  # not ours: ask CloudFormation
        cfn = localstack.client("cloudformation")
        stacks = {s["StackName"]: {o["OutputKey"]: o["OutputValue"] for o in s.get("Outputs", [])}
                  for s in cfn.describe_stacks()["Stacks"]
                  if not s["StackStatus"].startswith("DELETE")}
    return localstack, stacks


class Targets:
    """Resolves what a user names (a URL/ARN/name, an output's name, a logical id) to a resource."""

    def __init__(self, localstack: LocalStack, stacks: dict[str, dict[str, str]]):
        self.localstack = localstack
        self.stacks = stacks
        self._resources: list[dict] | None = None

    def resources(self) -> list[dict]:
        if self._resources is None:
            cfn = self.localstack.client("cloudformation")
            self._resources = [r for name in self.stacks
                               for r in cfn.describe_stack_resources(StackName=name)[
                                   "StackResources"]]
        return self._resources

    def resolve(self, what: str, resource_type: str, kind: str) -> str:
        for outputs in self.stacks.values():
            if what in outputs:
                return outputs[what]
        of_type = [r for r in self.resources() if r["ResourceType"] == resource_type]
        exact = [r for r in of_type if what in (r["LogicalResourceId"], r["PhysicalResourceId"])]
        if exact:
            return exact[0]["PhysicalResourceId"]
        prefix = [r for r in of_type if r["LogicalResourceId"].startswith(what)]
        if len(prefix) == 1:
            return prefix[0]["PhysicalResourceId"]
        if len(prefix) > 1:
            known = ", ".join(r["LogicalResourceId"] for r in prefix)
            raise HarnessError(f"{what!r} names {len(prefix)} {kind}s of the deployed app; "
                               f"say which: {known}")
        return what  # a name or URL/ARN the app does not own: use it as given

    def known(self, resource_type: str) -> str:
        return ", ".join(r["LogicalResourceId"] for r in self.resources()
                         if r["ResourceType"] == resource_type) or "none"


def _json_arg(text: str, what: str, example: str):
    try:
        return json.loads(text)
    except ValueError as exc:
        raise HarnessError(f"{what} is not JSON ({exc}); e.g. {example}") from None


def cmd_send(args: argparse.Namespace) -> int:
    localstack, stacks = _running()
    targets = Targets(localstack, stacks)
    kind, target, what = args.kind, args.target, args.what
    if kind == "queue":
        sqs = localstack.client("sqs")
        url = targets.resolve(target, "AWS::SQS::Queue", "queue")
        if not url.startswith("http"):
            url = sqs.get_queue_url(QueueName=url)["QueueUrl"]
        message_id = sqs.send_message(QueueUrl=url, MessageBody=what)["MessageId"]
        print(f"sent to {url} → message {message_id}")
    elif kind == "topic":
        arn = targets.resolve(target, "AWS::SNS::Topic", "topic")
        message_id = localstack.client("sns").publish(TopicArn=arn, Message=what)["MessageId"]
        print(f"published to {arn} → message {message_id}")
    elif kind == "bus":
        bus = targets.resolve(target, "AWS::Events::EventBus", "bus")
        detail = _json_arg(what, "the event's detail", "'{\"orderId\": \"o-1\"}'")
        if not isinstance(detail, dict):
            raise HarnessError("an EventBridge event's detail must be a JSON object, e.g. "
                               "'{\"orderId\": \"o-1\"}'")
        result = localstack.client("events").put_events(Entries=[{
            "EventBusName": bus, "Source": args.source, "DetailType": args.detail_type,
            "Detail": json.dumps(detail)}])
        entry = result["Entries"][0]
        if "EventId" not in entry:
            raise HarnessError(f"the bus refused the event: {entry.get('ErrorCode')}: "
                               f"{entry.get('ErrorMessage')}")
        print(f"put on bus {bus} (source {args.source}, detail-type {args.detail_type}) → "
              f"event {entry['EventId']}")
    elif kind == "api":
        from harness.deploy import DeployedStack
        from harness.deploy.deployer import DeployedApp

        deployed = DeployedApp({name: DeployedStack(name, outputs, "DEPLOYED", False)
                                for name, outputs in stacks.items()},
                               localstack.endpoint_url, {}, localstack=localstack)
        url = deployed.api_url(target)
        request = urllib.request.Request(url, data=what.encode(), method=args.method, headers={
            "Content-Type": "application/json",
            **({"Idempotency-Key": args.idempotency_key} if args.idempotency_key else {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                status, body = resp.status, resp.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            status, body = exc.code, exc.read().decode(errors="replace")
        print(f"{args.method} {url} → {status} {body}")
        return 0 if status < 400 else 1
    elif kind == "upload":
        bucket = targets.resolve(target, "AWS::S3::Bucket", "bucket")
        path = Path(what)
        if not path.is_file():
            raise HarnessError(f"{path} is not a file: `lsh send upload BUCKET FILE` uploads a file")
        key = args.key or path.name
        localstack.client("s3").put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        print(f"uploaded {path} as s3://{bucket}/{key}")
    elif kind == "invoke":
        name = targets.resolve(target, "AWS::Lambda::Function", "function")
        _json_arg(what, "the invocation's payload", "'{\"orderId\": \"o-1\"}'")
        resp = localstack.client("lambda").invoke(FunctionName=name, Payload=what.encode())
        payload = resp["Payload"].read().decode(errors="replace")
        print(f"invoked {name} → {resp.get('FunctionError') or 'ok'}: {payload}")
        return 1 if resp.get("FunctionError") else 0
    print("follow it with `lsh trace <an id or any text of the event>`")
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from harness.trace import Tracer

    localstack, stacks = _running()
    names = args.stack or list(stacks)
    if not names:
        raise HarnessError("no deployed stack to trace through: run `lsh up` with your app")
    print(Tracer.for_stacks(localstack, names).trace(args.needle).render())
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    print(venvs.localstack_venv())
    print(venvs.function_venv())
    return 0


def cmd_image(args: argparse.Namespace) -> int:
    from harness.localstack.containers import image

    if args.image_command == "prune":
        for ref in image.remove_images(keep_current=True):
            print(f"removed {ref}")
        return 0
    result = image.build_image(force=args.force)
    if not result.built:
        print(f"lsh: {result.tag} is up to date (recipe hash label matches; nothing to build)",
              file=sys.stderr)
    print(result.tag)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lsh", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start LocalStack, deploy your CDK app, keep it running")
    up.set_defaults(func=cmd_up)
    up.add_argument("--backend", help="embedded (default), external or testcontainers [LSH_BACKEND]")
    up.add_argument("--endpoint", help="endpoint for --backend external [LSH_ENDPOINT]")
    up.add_argument("--port", type=int, default=None,
                    help=f"loopback port [LSH_PORT; default {DEFAULT_UP_PORT}]")
    up.add_argument("--app", help="folder holding the app's cdk.json (default: the current one)")
    up.add_argument("--stack", action="append", help="deploy only this stack (repeatable)")
    up.add_argument("--context", "-c", action="append", metavar="KEY=VALUE",
                    help="CDK context value, as `cdk deploy -c` takes it (repeatable)")
    up.add_argument("--no-deploy", action="store_true", help="only start LocalStack")
    prepare = sub.add_parser("prepare", help="build the cached LocalStack and Lambda virtualenvs")
    prepare.set_defaults(func=cmd_prepare)
    send = sub.add_parser("send", help="send into the app of a running `lsh up`")
    send.set_defaults(func=cmd_send)
    send.add_argument("kind", choices=["queue", "topic", "bus", "api", "upload", "invoke"])
    send.add_argument("target", help="queue/topic/bus/bucket/function: a URL, ARN or name, a "
                                     "stack output's name, or a logical id; api: the URL path")
    send.add_argument("what", help="message body (queue, topic), the event's detail as JSON "
                                   "(bus), request body (api), a file (upload), payload (invoke)")
    send.add_argument("--source", default="lsh.send", help="bus: the event's source (lsh.send)")
    send.add_argument("--detail-type", default="lsh.send",
                      help="bus: the event's detail-type (lsh.send)")
    send.add_argument("--method", default="POST", help="api: the HTTP method (POST)")
    send.add_argument("--idempotency-key", help="api: an Idempotency-Key header")
    send.add_argument("--key", help="upload: the object key (default: the file's name)")
    img = sub.add_parser("image", help="the LocalStack Docker image (testcontainers backend, "
                                       "docker-compose.yml)")
    img.set_defaults(func=cmd_image)
    img_sub = img.add_subparsers(dest="image_command", required=True)
    build = img_sub.add_parser("build", help="build it unless an image with the same recipe hash "
                                             "exists; prints its tag")
    build.add_argument("--force", action="store_true", help="rebuild even when up to date")
    img_sub.add_parser("prune", help="remove this project's older LocalStack images")
    trace = sub.add_parser("trace", help="where an event is in the app of a running `lsh up`: "
                                         "topics, queues, DLQs, function logs, tables, executions")
    trace.set_defaults(func=cmd_trace)
    trace.add_argument("needle", help="an id or any text of the event, e.g. an object key")
    trace.add_argument("--stack", action="append", help="only this stack's resources (repeatable)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"lsh: error: {exc}", file=sys.stderr)
        return 2
    except (ClientError, ParamValidationError) as exc:  # LocalStack refused what was sent
        print(f"lsh: error: {' '.join(str(exc).split())}; check the target and what you sent",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"lsh: interrupted ({signal.Signals(signum).name}); stopped", file=sys.stderr)
        if isinstance(exc, Interrupted):  # lsh up: its worker thread may still be busy
            sys.stderr.flush()
            sys.stdout.flush()
            processes.kill_children()  # e.g. a CDK synth still running in a worker thread
            os._exit(128 + signum)  # do not wait for worker threads (a synth) to finish
        return 128 + signum


if __name__ == "__main__":
    sys.exit(main())
