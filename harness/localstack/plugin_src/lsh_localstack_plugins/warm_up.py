"""Load the services a run will use as soon as LocalStack is ready, before anyone asks for them.

LocalStack loads a service (its provider, and moto's models behind it) on the service's first
request: 0.1-1.4 s each, on LocalStack's one GIL-bound core. A deploy's first calls used to pay
that one service after the other (``services_warm_s``, ~2 s of a deploy), while the caller sat
idle. With ``LSH_WARM_SERVICES=cloudformation,s3,lambda,...`` a thread loads them, in that
order, right after ``Ready.``: meanwhile the caller does its own work (pytest collects, the CDK
app synthesizes, boto3 clients are built), and the first calls find the services running.

``GET /_lsh/warm-up?timeout=S&services=a,b`` waits (at most S seconds, default 60) until those
services are warmed (without ``services``: until the whole warm-up is done) and answers ``{"done": bool, "loaded": {service: seconds}, "failed": {service: error}}``; a
caller that waits for it before its first calls never has a request load a service while the
warm-up loads another (two threads importing moto's modules at once can trip Python's import
deadlock detection, seen once in ~5 deploys with parallel first calls). A name LocalStack does
not know ends up in ``failed``; nothing else changes. Once a caller names the services it needs,
the warm-up skips those of its list it has not loaded yet and the caller does not need (they
load on first use, as without the warm-up): they would only compete for the GIL with the
caller's deploy.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time

LOG = logging.getLogger(__name__)
ENV_VAR = "LSH_WARM_SERVICES"
ROUTE = "/_lsh/warm-up"


class WarmUp:
    def __init__(self, services: list[str]) -> None:
        self.services = services
        self.loaded: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.done = threading.Event()
        self.changed = threading.Condition()
        #: the services a caller said it needs (None: all of ``services``)
        self.wanted: set[str] | None = None

    def run(self) -> None:
        from localstack.runtime import events
        from localstack.services.plugins import SERVICE_PLUGINS

        try:
            events.infra_ready.wait()
            for name in self.services:
                if events.infra_stopping.is_set():
                    break
                if self.wanted is not None and name not in self.wanted:
                    continue  # nobody waits for it: load on first use
                started = time.perf_counter()
                try:
                    SERVICE_PLUGINS.require(name)
                except Exception as exc:  # a service that fails to load fails its own calls too
                    self.failed[name] = f"{type(exc).__name__}: {exc}"
                    continue
                self.loaded[name] = round(time.perf_counter() - started, 3)
                with self.changed:
                    self.changed.notify_all()
            LOG.info("lsh warm-up: loaded %s%s", self.loaded,
                     f", failed {self.failed}" if self.failed else "")
        finally:
            self.done.set()
            with self.changed:
                self.changed.notify_all()

    def wait(self, services: list[str] | None, timeout: float) -> None:
        """Until the warm-up has dealt with ``services`` (all of its own when None) or is done."""
        wanted = [s for s in (services or self.services) if s in self.services]
        if services:
            self.wanted = (self.wanted or set()) | set(services)
        with self.changed:
            self.changed.wait_for(lambda: self.done.is_set() or bool(services) and all(
                s in self.loaded or s in self.failed for s in wanted), timeout)

    def state(self) -> dict:
        return {"done": self.done.is_set(), "services": self.services, "loaded": self.loaded,
                "failed": self.failed}


def make_resource(warm_up: WarmUp | None):
    from localstack.http import Request, Response, route

    class WarmUpResource:
        @route(ROUTE, methods=["GET"])
        def on_get(self, request: Request) -> Response:
            if warm_up is None:
                doc = {"done": True, "services": [], "loaded": {}, "failed": {}}
            else:
                try:
                    timeout = float(request.args.get("timeout", "60"))
                except ValueError:
                    timeout = 60.0
                services = [s for s in request.args.get("services", "").split(",") if s]
                warm_up.wait(services or None, max(0.0, min(timeout, 300.0)))
                doc = warm_up.state()
            return Response(json.dumps(doc), mimetype="application/json")

    return WarmUpResource()


def install() -> WarmUp | None:
    """Start the warm-up thread for the services ``LSH_WARM_SERVICES`` names (none: nothing) and
    serve ``GET /_lsh/warm-up``."""
    from localstack.services.edge import ROUTER

    services = [s.strip() for s in os.environ.get(ENV_VAR, "").split(",") if s.strip()]
    warm_up = WarmUp(services) if services else None
    if warm_up is not None:
        threading.Thread(target=warm_up.run, name="lsh-warm-up", daemon=True).start()
    ROUTER.add(make_resource(warm_up))
    return warm_up
