"""No garbage collection while LocalStack starts and warms its services; then freeze what start-up
made, so later collections do not walk it again.

Start-up imports thousands of modules and builds long-lived objects (service specs, providers,
moto backends); the cyclic garbage collector keeps running full collections over that growing
heap while nothing is garbage yet (6 full collections, ~0.9 s of CPU in start-up and the
services' first calls, measured with ``gc.callbacks``). :func:`pause` disables the
collector from the start until LocalStack is ready and its warm-up (``warm_up``) is done (at most
``LSH_STARTUP_GC_MAX_S``, 120 s), then moves every object alive to the permanent generation
(``gc.freeze()``) and enables the collector again: objects made later are collected as before.
``LSH_STARTUP_GC=0`` turns it off.
"""

from __future__ import annotations

import gc
import os
import threading

MAX_SECONDS = float(os.environ.get("LSH_STARTUP_GC_MAX_S", "120"))


def enabled() -> bool:
    return os.environ.get("LSH_STARTUP_GC", "1") != "0"


def pause() -> None:
    """Disable the collector (first thing at start, before LocalStack's imports)."""
    gc.disable()


def resume_when_warm(warmed: threading.Event | None) -> None:
    """Freeze and re-enable the collector once LocalStack is ready and ``warmed`` (if any) is
    set, from a thread of its own."""
    from localstack.runtime import events

    def resume() -> None:
        try:
            if events.infra_ready.wait(MAX_SECONDS) and warmed is not None:
                warmed.wait(MAX_SECONDS)
        finally:
            gc.freeze()
            gc.enable()

    threading.Thread(target=resume, name="lsh-startup-gc", daemon=True).start()
