"""EventBridge archives and replays on LocalStack 4.8.1: what it takes for them to work.

Three gaps, each listed in docs/localstack-divergences.md:

- ``StartReplay`` answers ``500 InternalError: str.replace() takes no keyword arguments`` and the
  replay stays ``STARTING``: the archive filters its events by time with
  ``event["time"].replace(second=0, microsecond=0)`` while an archived event's time is the ISO
  string of the formatted event (:func:`fix_archive_time_filter`).
- Past that, every replayed event is dropped: the replay re-sends the archived event with its
  original time as that same string, and ``get_event_time`` calls ``.replace(tzinfo=UTC)`` on it
  (a ``TypeError`` nobody catches) (:func:`fix_replayed_event_time`).
- CloudFormation has no resource provider for ``AWS::Events::Archive``: see :mod:`.events_archive`.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from datetime import UTC, datetime
from typing import Any, Callable

#: how LocalStack formats an event's ``time`` (``utils.event_time_to_time_string``)
_EVENT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _as_datetime(value: Any) -> Any:
    """An event time as an aware datetime: archived events hold it as an ISO string."""
    if isinstance(value, str):
        try:
            return datetime.strptime(value, _EVENT_TIME_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def fix_archive_time_filter() -> None:
    """Let the archive compare its events' times (strings) with the replay window (datetimes)."""
    from localstack.services.events.archive import ArchiveService

    def _normalize_datetime(self, dt):
        return _as_datetime(dt).replace(second=0, microsecond=0)

    ArchiveService._normalize_datetime = _normalize_datetime


def fix_replayed_event_time() -> None:
    """Keep a replayed event's original time (a string from the archive) instead of dropping it."""
    from localstack.services.events import utils

    original = utils.get_event_time

    def get_event_time(event):
        if isinstance(event.get("Time"), str):
            event = {**event, "Time": _as_datetime(event["Time"])}
        return original(event)

    utils.get_event_time = get_event_time


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``callback`` right after the module ``name`` is first executed (importing LocalStack's
    events modules at start-up would cost ~0.3 s even when no test uses EventBridge)."""

    def __init__(self, name: str, callback: Callable[[], None]) -> None:
        self.name, self.callback = name, callback

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module, callback = spec.loader.exec_module, self.callback

        def exec_then_patch(module):
            exec_module(module)
            callback()

        spec.loader.exec_module = exec_then_patch
        return spec


def after_import(name: str, callback: Callable[[], None]) -> None:
    """``callback()`` now if ``name`` is imported already, else right after its first import."""
    if name in sys.modules:
        callback()
    else:
        sys.meta_path.insert(0, _AfterImport(name, callback))


def apply() -> None:
    """Install both replay fixes (called from :func:`lsh_localstack_plugins.patches.apply_all`)
    when LocalStack first loads the modules they patch."""
    after_import("localstack.services.events.archive", fix_archive_time_filter)
    after_import("localstack.services.events.utils", fix_replayed_event_time)
