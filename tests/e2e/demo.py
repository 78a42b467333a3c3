"""``make demo`` (``python -m tests.e2e.demo [APP ...]``): every reference app end to end.

One LocalStack for all; each app is synthesized (while LocalStack starts), deployed, and its
scenario (``tests/e2e/<app>/demo.py``: ``app()`` and ``scenario(localstack, deployed, out)``)
sends its events, follows them, and prints its table and summary line. Exit code 0 only when every
app's events ended where they should.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from harness.config import HarnessConfig
from harness.deploy import deploy_app
from harness.deploy.deployer import synth_in_background
from harness.errors import HarnessError
from harness.localstack import create_backend

#: the apps in the order the demo runs them (each has tests/e2e/<app>/demo.py)
APPS = ["upload_pipeline", "order_events", "order_routing", "order_saga", "ledger"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("apps", nargs="*", help=f"apps to run (default: all of {', '.join(APPS)})")
    args = parser.parse_args(argv)
    chosen = args.apps or APPS
    unknown = [a for a in chosen if a not in APPS]
    if unknown:
        parser.error(f"unknown app(s) {', '.join(unknown)}; known: {', '.join(APPS)}")
    scenarios = {name: importlib.import_module(f"tests.e2e.{name}.demo") for name in chosen}
    apps = {name: module.app() for name, module in scenarios.items()}
    synthesized = {name: synth_in_background(app) for name, app in apps.items()}
    cfg = HarnessConfig.from_env()
    failed = []
    try:
        with create_backend(cfg.backend, **cfg.backend_options()) as localstack:
            for name, module in scenarios.items():
                print(f"\n=== {module.TITLE}", flush=True)
                started = time.monotonic()
                deployed = deploy_app(localstack, apps[name], synthesized=synthesized[name])
                print(f"deployed {', '.join(deployed.stacks)} into {localstack.endpoint_url} in "
                      f"{time.monotonic() - started:.1f} s", flush=True)
                if module.scenario(localstack, deployed, out=lambda s: print(s, flush=True)) != 0:
                    failed.append(name)
    except HarnessError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    print(f"\n{len(chosen) - len(failed)} of {len(chosen)} apps: every event where it should be"
          + (f"; NOT: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
