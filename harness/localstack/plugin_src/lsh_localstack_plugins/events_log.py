"""EventBridge, followed: what was put on which bus, which rules matched, which targets were sent
the event or failed, served at ``GET /_lsh/events/log``.

LocalStack 4.8.1 keeps no record of an event once ``PutEvents`` returned: whether a rule matched
or a target failed is only an INFO log line (``TargetDeliveryFailure``), so a stuck-event trace
cannot follow an event across a bus. This module records every event put on a bus (id, bus,
source, detail-type, first 4096 characters of the detail, time) in a bounded ring buffer
(``LSH_EVENTS_LOG_SIZE``, 10 000; off with ``LSH_EVENTS_LOG=0``), with each rule that matched it
and, per target, ``sent`` or ``failed`` (the error) and the target's DLQ (where
:mod:`.events_target_dlq` puts a failed event). Per event it costs a small dict under a lock.

Hooks (set when LocalStack first imports its events provider, not at start-up):
``format_event`` in the events provider (called once per accepted entry), its
``matches_event`` while ``_process_rules`` runs for a rule (a thread-local names the rule) and
``TargetSender.process_event`` (every target; installed after :mod:`.events_target_dlq`, so it
wraps it). Query parameters of the route: ``event_id``, ``bus`` (name), ``contains``
(repeatable; the detail, source, detail-type or id holds one), ``since`` (ms), ``limit``
(newest, default 1000). ``DELETE`` empties the buffer.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from typing import Any

LOG = logging.getLogger(__name__)
ROUTE = "/_lsh/events/log"
ENABLED_VAR = "LSH_EVENTS_LOG"
SIZE_VAR = "LSH_EVENTS_LOG_SIZE"
DEFAULT_SIZE = 10_000
DETAIL_CHARS = 4096
DEFAULT_LIMIT = 1000


def enabled() -> bool:
    return os.environ.get(ENABLED_VAR, "1").strip().lower() not in ("0", "false", "no", "off")


class EventLog:
    """The ring buffer: one dict per event put, updated as its rules and targets run."""

    def __init__(self, capacity: int = DEFAULT_SIZE):
        self.capacity = max(1, int(capacity))
        self._records: deque[dict[str, Any]] = deque(maxlen=self.capacity)
        self._by_id: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.total = 0

    def put(self, event: dict[str, Any]) -> None:
        detail = event.get("detail")
        text = detail if isinstance(detail, str) else json.dumps(detail, default=str)
        record = {"event_id": event.get("id"), "bus": event.get("event-bus-name"),
                  "source": event.get("source"), "detail_type": event.get("detail-type"),
                  "detail": text[:DETAIL_CHARS], "timestamp_ms": int(time.time() * 1000),
                  "rules": {}}
        with self._lock:
            if len(self._records) == self._records.maxlen:
                self._by_id.pop(self._records[0]["event_id"], None)
            self._records.append(record)
            self._by_id[record["event_id"]] = record
            self.total += 1

    def _rule(self, event_id: str, rule_arn: str, rule_name: str) -> dict[str, Any] | None:
        record = self._by_id.get(event_id)
        if record is None:
            return None
        return record["rules"].setdefault(rule_arn, {"rule_arn": rule_arn, "rule": rule_name,
                                                     "matched_ms": int(time.time() * 1000),
                                                     "targets": []})

    def matched(self, event_id: str, rule_arn: str, rule_name: str) -> None:
        with self._lock:
            self._rule(event_id, rule_arn, rule_name)

    def target(self, event_id: str, rule_arn: str, rule_name: str, target: dict[str, Any],
               error: str | None, dlq: str | None = None) -> None:
        with self._lock:
            rule = self._rule(event_id, rule_arn, rule_name)
            if rule is not None:
                rule["targets"].append({
                    "target_id": target.get("Id"), "target_arn": target.get("Arn"),
                    "status": "failed" if error else "sent", "error": error, "dlq": dlq,
                    "at_ms": int(time.time() * 1000)})

    def query(self, event_id: str | None = None, bus: str | None = None,
              contains: list[str] | None = None, since: int | None = None,
              limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
        with self._lock:
            records = [_public(r) for r in self._records]
            total = self.total
        found = []
        for r in reversed(records if limit > 0 else []):
            if event_id and r["event_id"] != event_id:
                continue
            if bus and r["bus"] != bus:
                continue
            if since is not None and r["timestamp_ms"] < since:
                continue
            if contains and not any(c in r["detail"] or c in (r["source"] or "") or
                                    c in (r["detail_type"] or "") or c == r["event_id"]
                                    for c in contains):
                continue
            found.append(r)
            if len(found) >= limit:
                break
        found.reverse()
        return {"records": found, "capacity": self.capacity, "held": len(records),
                "total": total, "dropped": total - len(records)}

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._by_id.clear()


def _public(record: dict[str, Any]) -> dict[str, Any]:
    out = dict(record)
    out["rules"] = [dict(r, targets=[dict(t) for t in r["targets"]])
                    for r in record["rules"].values()]
    return out


_current = threading.local()  # the rule _process_rules is running, in this thread


def _hook(log: EventLog) -> None:
    from localstack.services.events import provider as events_provider
    from localstack.services.events.target import TargetSender

    if getattr(TargetSender, "_lsh_events_log", False):
        return
    format_event = events_provider.format_event
    matches_event = events_provider.matches_event
    process_rules = events_provider.EventsProvider._process_rules
    process_event = TargetSender.process_event

    def logged_format_event(*args, **kwargs):
        event = format_event(*args, **kwargs)
        try:
            log.put(event)
        except Exception:  # never let the record break a put
            LOG.debug("events log: could not record an event", exc_info=True)
        return event

    def rule_scoped_process_rules(self, rule, region, account_id, event_formatted, trace_header):
        _current.rule = rule
        try:
            return process_rules(self, rule, region, account_id, event_formatted, trace_header)
        finally:
            _current.rule = None

    def logged_matches_event(pattern, event):
        matched = matches_event(pattern, event)
        rule = getattr(_current, "rule", None)
        if matched and rule is not None and isinstance(event, dict):
            log.matched(event.get("id"), rule.arn, rule.name)
        return matched

    def logged_process_event(self, event, trace_header):
        event_id = event.get("id") if isinstance(event, dict) else None
        try:
            result = process_event(self, event, trace_header)
        except Exception as error:
            # events_target_dlq (applied first, wrapped by this) has sent it to the target's DLQ
            dlq = (self.target.get("DeadLetterConfig") or {}).get("Arn")
            if event_id:
                log.target(event_id, self.rule_arn, self.rule_name, self.target,
                           f"{type(error).__name__}: {error}", dlq)
            raise
        if event_id:
            log.target(event_id, self.rule_arn, self.rule_name, self.target, None)
        return result

    events_provider.format_event = logged_format_event
    events_provider.matches_event = logged_matches_event
    events_provider.EventsProvider._process_rules = rule_scoped_process_rules
    TargetSender.process_event = logged_process_event
    TargetSender._lsh_events_log = True


def make_resource(log: EventLog) -> Any:
    from lsh_localstack_plugins.log_route import log_resource

    return log_resource(ROUTE, log, ("event_id", "bus"), DEFAULT_LIMIT)


EVENTS: EventLog | None = None


def install() -> EventLog | None:
    """The log, its hooks and its route, unless ``LSH_EVENTS_LOG=0``."""
    global EVENTS
    if EVENTS is None and enabled():
        EVENTS = EventLog(int(os.environ.get(SIZE_VAR) or DEFAULT_SIZE))
        from localstack.services.edge import ROUTER

        from lsh_localstack_plugins.after_import import after_import

        log = EVENTS
        # hooked when EventBridge is first used: importing its provider costs ~0.5 s of start-up
        after_import({"localstack.services.events.provider": lambda: _hook(log)})
        ROUTER.add(make_resource(EVENTS))
    return EVENTS
