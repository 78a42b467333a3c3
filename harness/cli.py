"""``lsh``: the command line of the harness.

- ``lsh up``: start LocalStack, deploy the reference pipeline (``--no-deploy`` to skip) and stay
  in the foreground (Ctrl-C stops it), printing the endpoint, the stack's outputs and ``export``
  lines for other shells.
- ``lsh send upload FILE`` / ``lsh send api JSON`` / ``lsh send bus JSON``: send an event to the
  pipeline of a running ``lsh up`` and follow it to CONFIRMED.
- ``lsh trace EVENT_ID``: where an event is now, stage by stage.
- ``lsh demo``: the main job, end to end (see :mod:`tests.e2e.upload_pipeline.demo`).
- ``lsh prepare``: build the cached virtualenvs now (``make`` does this once).
- ``lsh image build``: build the LocalStack Docker image for ``--backend testcontainers`` and
  ``docker-compose.yml`` (from Debian packages and PyPI; skipped when it is up to date).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from harness.config import HarnessConfig
from harness.errors import HarnessError
from harness.localstack import ExternalBackend, LocalStack, create_backend, venvs


def state_file():
    """Where ``lsh up`` records its endpoint, for other ``lsh`` commands and shells."""
    return venvs.cache_root() / "up.json"


def _backend_from_args(args: argparse.Namespace):
    cfg = HarnessConfig.from_env(backend=args.backend, endpoint=args.endpoint, port=args.port)
    return create_backend(cfg.backend, **cfg.backend_options())


def print_exports(localstack: LocalStack) -> None:
    print(f"LocalStack is up at {localstack.endpoint_url} (backend {localstack.backend}, "
          f"region {localstack.region}). In another shell:")
    for key, value in localstack.env().items():
        print(f"export {key}={value}")
    sys.stdout.flush()


def cmd_up(args: argparse.Namespace) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    with _backend_from_args(args) as localstack:
        outputs: dict[str, str] = {}
        if not args.no_deploy:
            from tests.e2e.upload_pipeline.demo import pipeline_app
            from harness.deploy import deploy_app

            deployed = deploy_app(localstack, pipeline_app())
            outputs = deployed.outputs
            print(f"deployed the reference pipeline (stack LshPipeline) in "
                  f"{sum(deployed.timings.values()):.1f} s; its outputs:")
            for key, value in sorted(outputs.items()):
                print(f"  {key:<32} {value}")
            print(f"  {'(API endpoint here)':<32} {deployed.api_url('events')}")
        print_exports(localstack)
        state_file().parent.mkdir(parents=True, exist_ok=True)
        state_file().write_text(json.dumps({"endpoint_url": localstack.endpoint_url,
                                            "region": localstack.region, "outputs": outputs}))
        print("Send events from another shell with `lsh send upload FILE`, `lsh send api JSON` or "
              "`lsh send bus JSON`. Press Ctrl-C to stop.", flush=True)
        try:
            stop.wait()
        finally:
            state_file().unlink(missing_ok=True)
            print("stopping LocalStack ...", flush=True)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tests.e2e.upload_pipeline.demo import pipeline_app, run_demo
    from harness.deploy.deployer import synth_in_background

    synthesized = synth_in_background(pipeline_app())  # while LocalStack starts
    with _backend_from_args(args) as localstack:
        return run_demo(localstack, synthesized=synthesized)


def _running_pipeline() -> tuple[LocalStack, dict[str, str]]:
    """The LocalStack of a running ``lsh up`` (or ``LSH_ENDPOINT``) and the pipeline's outputs."""
    state = json.loads(state_file().read_text()) if state_file().is_file() else {}
    endpoint = os.environ.get("LSH_ENDPOINT") or state.get("endpoint_url")
    if not endpoint:
        raise HarnessError("no running LocalStack found: start one with `lsh up` (or set "
                           "LSH_ENDPOINT to one where the pipeline is deployed)")
    localstack = ExternalBackend(endpoint, wait_seconds=3).start()
    try:
        stack = localstack.client("cloudformation").describe_stacks(StackName="LshPipeline")
    except Exception as exc:
        raise HarnessError(f"the pipeline is not deployed at {endpoint} ({exc}): run `lsh up` "
                           "without --no-deploy") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Stacks"][0].get("Outputs", [])}
    return localstack, outputs


def cmd_send(args: argparse.Namespace) -> int:
    from tests.e2e.upload_pipeline.client import PipelineClient

    localstack, outputs = _running_pipeline()
    client = PipelineClient(localstack, outputs)
    sent = time.time()
    if args.kind == "upload":
        path = Path(args.what)
        if not path.is_file():
            raise HarnessError(f"{path} is not a file: `lsh send upload` takes a file to upload")
        key = args.key or path.name
        client.upload(key, path.read_bytes())
        print(f"uploaded {path} as s3://{outputs['BucketName']}/{key}")
        if args.no_follow:
            return 0
        item = client.wait_for_upload(key, "CONFIRMED", timeout=args.timeout)
    else:
        try:
            body = json.loads(args.what)
        except ValueError as exc:
            raise HarnessError(f"not JSON: {exc}; e.g. "
                               "'{\"type\": \"order.created\", \"payload\": {\"id\": 1}}'") from None
        if args.kind == "api":
            resp = client.post_api(body, idempotency_key=args.idempotency_key)
            print(f"POST {client.api_url()} → {resp.status} {json.dumps(resp.body)}")
            if resp.status != 202:
                return 1
            event_id = resp.event_id
        else:
            event_id = client.put_bus_event(body)
            print(f"put on bus {outputs['EventBusName']} → event {event_id}")
        if args.no_follow:
            return 0
        item = client.wait_for_status(event_id, "CONFIRMED", timeout=args.timeout)
    print(f"event {item['event_id']}: {item['status']} (received {item['received_at']}, "
          f"confirmed {item.get('confirmed_at')}, {1000 * (time.time() - sent):.0f} ms after sending)")
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    from harness.trace import PipelineTracer

    localstack, outputs = _running_pipeline()
    print(PipelineTracer(localstack, outputs).trace(args.needle).render())
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
    for name, func, helptext in (
        ("up", cmd_up, "start LocalStack and keep it running in the foreground"),
        ("demo", cmd_demo, "run the demo end to end and report what happened"),
        ("prepare", cmd_prepare, "build the cached LocalStack and Lambda virtualenvs"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.set_defaults(func=func)
        if name != "prepare":
            p.add_argument("--backend", help="embedded (default), external or testcontainers "
                                             "[LSH_BACKEND]")
            p.add_argument("--endpoint", help="endpoint for --backend external [LSH_ENDPOINT]")
            p.add_argument("--port", type=int, default=4566 if name == "up" else None,
                           help="loopback port for the embedded and testcontainers backends "
                                "[LSH_PORT]")
        if name == "up":
            p.add_argument("--no-deploy", action="store_true",
                           help="only start LocalStack; do not deploy the reference pipeline")
    send = sub.add_parser("send", help="send an event to the pipeline of a running `lsh up`")
    send.set_defaults(func=cmd_send)
    send.add_argument("kind", choices=["upload", "api", "bus"])
    send.add_argument("what", help="a file (upload) or a JSON event body (api, bus)")
    send.add_argument("--key", help="object key for an upload (default: the file's name)")
    send.add_argument("--idempotency-key", help="Idempotency-Key header for an api event")
    send.add_argument("--no-follow", action="store_true", help="do not wait for CONFIRMED")
    send.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (30)")
    img = sub.add_parser("image", help="the LocalStack Docker image (testcontainers backend, "
                                       "docker-compose.yml)")
    img.set_defaults(func=cmd_image)
    img_sub = img.add_subparsers(dest="image_command", required=True)
    build = img_sub.add_parser("build", help="build it unless an image with the same recipe hash "
                                             "exists; prints its tag")
    build.add_argument("--force", action="store_true", help="rebuild even when up to date")
    img_sub.add_parser("prune", help="remove this project's older LocalStack images")
    trace = sub.add_parser("trace", help="where an event is in the pipeline of a running `lsh up`: "
                                         "way in, SNS publish, queues, DLQs, Lambda logs, table, "
                                         "notification published")
    trace.set_defaults(func=cmd_trace)
    trace.add_argument("needle", help="an event id (s3-…, api-…, bus-…) or any text in the event, "
                                      "e.g. an object key")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as exc:
        print(f"lsh: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
