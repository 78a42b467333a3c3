"""EventBridge stages for :class:`harness.trace.Tracer`: put on the bus → rule matched → target
sent (or failed) → target DLQ, for any bus.

They read the events log of this project's LocalStack plugin (``lsh_localstack_plugins.
events_log``, ``GET /_lsh/events/log``): every event put on a bus with the rules that matched it
and, per target, whether it was sent or failed and which DLQ kept it. LocalStack itself keeps
none of this once ``PutEvents`` returned. Without the plugin (an external LocalStack, another
image, ``LSH_EVENTS_LOG=0``) each stage says "cannot tell" and why::

    Tracer(localstack, [BusPut("on the bus", bus), RuleMatched("rule matched", bus),
                        TargetSent("target invoked", bus), TargetDeadLetter("target DLQ", bus)])
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.trace import Stage, TraceContext, ms_to_iso

ROUTE = "/_lsh/events/log"


class EventsLogUnavailable(HarnessError):
    """The LocalStack has no events log (no plugin, or ``LSH_EVENTS_LOG=0``)."""


class EventsLog:
    """Client of the plugin's events log."""

    def __init__(self, localstack: Any, timeout: float = 5.0):
        self.endpoint_url = localstack.endpoint_url.rstrip("/")
        self.timeout = timeout

    def events(self, bus: str | None = None, contains: list[str] | None = None,
               event_id: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The matching events, oldest first: ``event_id``, ``bus``, ``source``,
        ``detail_type``, ``detail`` (text), ``timestamp_ms``, ``rules`` (``rule``, ``rule_arn``,
        ``matched_ms``, ``targets``: ``target_arn``, ``status`` sent/failed, ``error``,
        ``dlq``)."""
        params = [("bus", _bus_name(bus))] if bus else []
        params += [("contains", c) for c in contains or [] if c]
        params += [("event_id", event_id)] if event_id else []
        params += [("limit", str(limit))] if limit else []
        url = f"{self.endpoint_url}{ROUTE}" + ("?" + urllib.parse.urlencode(params)
                                               if params else "")
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                return json.loads(resp.read())["records"]
        except urllib.error.HTTPError as exc:
            raise EventsLogUnavailable(
                f"LocalStack at {self.endpoint_url} has no EventBridge events log (GET {ROUTE} "
                f"answered {exc.code}): it runs without this project's plugins or with "
                "LSH_EVENTS_LOG=0; run it through the harness to follow events across a bus"
            ) from None
        except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
            raise EventsLogUnavailable(f"cannot read the events log at {url}: {exc}") from None


def _bus_name(bus: str) -> str:
    return bus.rsplit("/", 1)[-1] if bus.startswith("arn:") else bus


def _short(arn: str | None) -> str:
    return (arn or "?").replace("/", ":").rsplit(":", 1)[-1]


def _events(ctx: TraceContext, bus: str) -> list[dict[str, Any]]:
    """The events on ``bus`` that mention a needle (cached per trace)."""
    key = f"eventbridge:{_bus_name(bus)}"
    if key not in ctx.facts:
        ctx.facts[key] = EventsLog(ctx.localstack).events(bus, sorted(ctx.needles))
    return ctx.facts[key]


@dataclass
class BusPut:
    """An event that mentions the needle was put on the bus."""

    name: str
    bus: str

    def probe(self, ctx: TraceContext) -> Stage:
        try:
            found = _events(ctx, self.bus)
        except EventsLogUnavailable as exc:
            return Stage(self.name, None, f"cannot tell: {exc}")
        if not found:
            return Stage(self.name, False, f"no event on bus {_bus_name(self.bus)} mentions it")
        first = found[0]
        more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
        return Stage(self.name, True, f"event {first['event_id']} {first['source']!r} / "
                                      f"{first['detail_type']!r}{more}",
                     ms_to_iso(first["timestamp_ms"]))


@dataclass
class RuleMatched:
    """A rule of the bus (``rule``: only that one) matched the event."""

    name: str
    bus: str
    rule: str | None = None

    def probe(self, ctx: TraceContext) -> Stage:
        try:
            found = _events(ctx, self.bus)
        except EventsLogUnavailable as exc:
            return Stage(self.name, None, f"cannot tell: {exc}")
        rules = [r for e in found for r in e["rules"]
                 if not r["rule"].startswith("lsh-tap-") and self.rule in (None, r["rule"])]
        if not found:
            return Stage(self.name, False, "no event to match")
        if not rules:
            which = f"rule {self.rule}" if self.rule else "no rule of the bus"
            return Stage(self.name, False, f"{which} matched it (source "
                                           f"{found[0]['source']!r}, detail-type "
                                           f"{found[0]['detail_type']!r})")
        names = sorted({r["rule"] for r in rules})
        return Stage(self.name, True, f"matched by {', '.join(names)}",
                     ms_to_iso(min(r["matched_ms"] for r in rules)))


def _targets(ctx: TraceContext, bus: str) -> list[dict[str, Any]]:
    return [t for e in _events(ctx, bus) for r in e["rules"] if not r["rule"].startswith("lsh-tap-")
            for t in r["targets"]]


@dataclass
class TargetSent:
    """Every target of the matching rules was sent the event (``False`` with the error when one
    failed). For a Lambda target "sent" means invoked asynchronously: the function's own stages
    (its logs, its on-failure destination) show what it did."""

    name: str
    bus: str

    def probe(self, ctx: TraceContext) -> Stage:
        try:
            targets = _targets(ctx, self.bus)
        except EventsLogUnavailable as exc:
            return Stage(self.name, None, f"cannot tell: {exc}")
        if not targets:
            return Stage(self.name, False, "no target was sent the event")
        failed = [t for t in targets if t["status"] == "failed"]
        if failed:
            return Stage(self.name, False, "; ".join(
                f"{_short(t['target_arn'])} failed: {t['error']}" for t in failed),
                ms_to_iso(failed[0]["at_ms"]))
        return Stage(self.name, True, "sent to " + ", ".join(
            sorted({_short(t["target_arn"]) for t in targets})), ms_to_iso(targets[0]["at_ms"]))


@dataclass
class TargetDeadLetter:
    """A target's delivery failed and its dead-letter queue kept the event (``None`` when no
    delivery failed: nothing to keep)."""

    name: str
    bus: str

    def probe(self, ctx: TraceContext) -> Stage:
        try:
            failed = [t for t in _targets(ctx, self.bus) if t["status"] == "failed"]
        except EventsLogUnavailable as exc:
            return Stage(self.name, None, f"cannot tell: {exc}")
        if not failed:
            return Stage(self.name, None, "no delivery failed")
        kept = [t for t in failed if t["dlq"]]
        if not kept:
            return Stage(self.name, False, "LOST: " + ", ".join(
                _short(t["target_arn"]) for t in failed) + " failed and has no dead-letter queue")
        return Stage(self.name, True, "; ".join(
            f"{_short(t['target_arn'])}'s DLQ {_short(t['dlq'])} holds it ({t['error']})"
            for t in kept), ms_to_iso(kept[0]["at_ms"]))


def bus_stages(bus: str, label: str | None = None) -> list:
    """The four stages of one bus, in order."""
    label = label or f"bus {_bus_name(bus)}"
    return [BusPut(f"{label}: put", bus), RuleMatched(f"{label}: rule matched", bus),
            TargetSent(f"{label}: target sent", bus),
            TargetDeadLetter(f"{label}: target DLQ", bus)]


def stages_for_resources(resources: list[dict]) -> list:
    """The four stages of every ``AWS::Events::EventBus`` among a deployment's resources
    (``describe_stack_resources`` rows), for :meth:`harness.trace.Tracer.for_stacks`."""
    return [stage for r in resources if r["ResourceType"] == "AWS::Events::EventBus"
            for stage in bus_stages(r["PhysicalResourceId"], f"bus {r['LogicalResourceId']}")]
