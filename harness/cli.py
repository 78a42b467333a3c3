"""``lsh``: the command line of the harness.

- ``lsh up``: start LocalStack and stay in the foreground (Ctrl-C stops it), printing the endpoint
  and ``export`` lines for other shells.
- ``lsh demo``: the main job, end to end (see :mod:`harness.demo`).
- ``lsh prepare``: build the cached virtualenvs now (``make`` does this once).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from harness.config import HarnessConfig
from harness.errors import HarnessError
from harness.localstack import LocalStack, create_backend, venvs


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
        print_exports(localstack)
        state_file().parent.mkdir(parents=True, exist_ok=True)
        state_file().write_text(json.dumps({"endpoint_url": localstack.endpoint_url,
                                            "region": localstack.region}))
        print("Press Ctrl-C to stop.", flush=True)
        try:
            stop.wait()
        finally:
            state_file().unlink(missing_ok=True)
            print("stopping LocalStack ...", flush=True)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from harness.demo import run_demo

    with _backend_from_args(args) as localstack:
        return run_demo(localstack)


def cmd_prepare(args: argparse.Namespace) -> int:
    print(venvs.localstack_venv())
    print(venvs.function_venv())
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
            p.add_argument("--backend", help="embedded (default) or external [LSH_BACKEND]")
            p.add_argument("--endpoint", help="endpoint for --backend external [LSH_ENDPOINT]")
            p.add_argument("--port", type=int, default=4566 if name == "up" else None,
                           help="loopback port for the embedded backend")
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
