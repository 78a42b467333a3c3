"""Routing checks: "this event reaches exactly these targets, and no other", on any EventBridge bus.

    with BusRoutes(localstack, bus_name) as routes:
        routes.assert_routes([
            (order_created_entry, {"my-order-processor"}),   # by function / machine / queue name,
            (near_miss_entry, set()),                        # ... or ARN, or the rule's name
        ])

How it sees where an event went, without touching the app: for every enabled rule of the bus (each
with an event pattern) it adds a *shadow* :class:`~harness.taps.BusTap` with that rule's own
pattern; EventBridge hands an event to every rule whose pattern matches, so the shadow tap receives
exactly the events the app's rule receives, as EventBridge itself decided. One more tap with
:data:`~harness.taps.ALL_EVENTS` shows the event reached the bus at all (so "reaches nothing" is
never vacuously true). An event reaches the targets of the rules that matched it, unless the
hand-over to a target failed (read from the events log of this project's LocalStack plugin,
when there is one: such a target is reported as FAILED with the error).

:meth:`BusRoutes.assert_routes` puts the events, waits (:func:`~harness.waits.eventually`) until
every event is on the bus and in every expected rule's tap, then watches for ``quiet`` seconds
(:func:`~harness.waits.never`) that none reaches a rule it should not. Both failures say, per
event, which targets it reached, which it should have, and what the bus saw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from harness.errors import HarnessError
from harness.localstack.base import LocalStack
from harness.taps import ALL_EVENTS, BusTap
from harness.waits import EventuallyTimeout, NeverViolated, Policy, eventually, never

#: PutEvents takes at most this many entries per call
PUT_BATCH = 10
#: rules the harness itself adds to a bus (taps); never part of an app's routing
HARNESS_RULE_PREFIX = "lsh-tap-"
ROUTE_POLICY = Policy(timeout=30.0, initial=0.01, cap=0.1)


@dataclass
class RoutedRule:
    """One rule of the bus: its pattern, its targets' ARNs, and its shadow tap."""

    name: str
    pattern: dict[str, Any]
    targets: list[str]
    tap: BusTap


@dataclass
class Route:
    """Where one put event went (so far)."""

    event_id: str
    entry: dict[str, Any]
    expected: set[str]  # target ARNs
    on_bus: bool = False
    rules: set[str] = field(default_factory=set)
    reached: set[str] = field(default_factory=set)  # target ARNs
    failed: dict[str, str] = field(default_factory=dict)  # target ARN -> delivery error

    def describe(self) -> str:
        what = f"{self.entry.get('Source')!r} / {self.entry.get('DetailType')!r}"
        failures = "".join(f"; delivery to {_short(arn)} FAILED: {error}"
                           for arn, error in sorted(self.failed.items()))
        return (f"event {self.event_id} ({what}): "
                f"{'on the bus' if self.on_bus else 'NOT seen on the bus'}; rules matched: "
                f"{sorted(self.rules) or 'none'}; reached {_names(self.reached)}, expected "
                f"{_names(self.expected)}{failures}")


def _names(arns: Iterable[str]) -> str:
    names = sorted(_short(a) for a in arns)
    return "{" + ", ".join(names) + "}" if names else "nothing"


def _short(arn: str) -> str:
    """The resource name at the end of an ARN (function, state machine, queue, topic, bus)."""
    return arn.replace("/", ":").rsplit(":", 1)[-1]


class BusRoutes:
    """Shadow taps for every rule of ``bus`` (a name or an ARN); see the module's docstring.

    Rules added to the bus after this object is made are not watched. Use as a context manager,
    or :meth:`close` to remove the taps.
    """

    def __init__(self, localstack: LocalStack, bus: str):
        self.bus = bus
        self._localstack = localstack
        self.eventbridge = localstack.client("events")
        self.rules: dict[str, RoutedRule] = {}
        self.all_events = BusTap(localstack, bus, ALL_EVENTS)
        try:
            for rule in self._app_rules():
                targets = [t["Arn"] for t in self._targets(rule["Name"])]
                self.rules[rule["Name"]] = RoutedRule(
                    rule["Name"], json.loads(rule["EventPattern"]), targets,
                    BusTap(localstack, bus, json.loads(rule["EventPattern"])))
        except BaseException:
            self.close()
            raise

    def _app_rules(self) -> list[dict[str, Any]]:
        rules = []
        for page in self.eventbridge.get_paginator("list_rules").paginate(EventBusName=self.bus):
            rules += [r for r in page["Rules"] if r.get("EventPattern") and
                      r.get("State") == "ENABLED" and
                      not r["Name"].startswith(HARNESS_RULE_PREFIX)]
        return rules

    def _targets(self, rule: str) -> list[dict[str, Any]]:
        pages = self.eventbridge.get_paginator("list_targets_by_rule").paginate(
            Rule=rule, EventBusName=self.bus)
        return [t for page in pages for t in page["Targets"]]

    # --- naming targets -------------------------------------------------------------------------
    @property
    def targets(self) -> dict[str, list[str]]:
        """Rule name -> its targets' ARNs."""
        return {name: rule.targets for name, rule in self.rules.items()}

    def resolve(self, names: Iterable[str]) -> set[str]:
        """Target ARNs for names: a target's ARN, the resource name at its end (a function,
        state machine, queue or topic name), or a rule's name (all its targets). An unknown name
        is an error listing the known ones."""
        known = {arn for rule in self.rules.values() for arn in rule.targets}
        arns: set[str] = set()
        for name in names:
            if name in self.rules:
                arns |= set(self.rules[name].targets)
                continue
            found = {arn for arn in known if name in (arn, _short(arn))}
            if not found:
                raise HarnessError(
                    f"{name!r} is not a target or rule of bus {self.bus}; its targets: "
                    f"{', '.join(sorted(_short(a) for a in known)) or 'none'}; rules: "
                    f"{', '.join(sorted(self.rules)) or 'none'}")
            arns |= found
        return arns

    # --- sending and checking -------------------------------------------------------------------
    def put(self, entries: Sequence[dict[str, Any]]) -> list[str]:
        """Put the entries on the bus (``EventBusName`` filled in), in batches of 10; return
        their event ids. An entry the bus refuses is an error naming it and the bus's reason."""
        ids: list[str] = []
        for start in range(0, len(entries), PUT_BATCH):
            batch = [{"EventBusName": self.bus, **e} for e in entries[start:start + PUT_BATCH]]
            answer = self.eventbridge.put_events(Entries=batch)
            for sent, result in zip(batch, answer["Entries"]):
                if "EventId" not in result:
                    raise HarnessError(
                        f"bus {self.bus} refused {sent.get('Source')!r} / "
                        f"{sent.get('DetailType')!r}: {result.get('ErrorCode')}: "
                        f"{result.get('ErrorMessage')}")
                ids.append(result["EventId"])
        return ids

    def _observe(self, routes: list[Route]) -> None:
        by_id = {r.event_id: r for r in routes}
        for event in self.all_events.drain():
            if event.get("id") in by_id:
                by_id[event["id"]].on_bus = True
        for rule in self.rules.values():
            for event in rule.tap.drain():
                route = by_id.get(event.get("id"))
                if route is not None:
                    route.rules.add(rule.name)
                    route.reached |= set(rule.targets)

    def assert_routes(self, cases: Sequence[tuple[dict[str, Any], Iterable[str]]],
                      quiet: float = 1.0, timeout: float | None = None) -> list[Route]:
        """Put each case's entry; each must reach exactly its named targets (see
        :meth:`resolve`; empty: none) within ``timeout`` and nothing else during ``quiet``
        seconds after that. Returns the routes; raises ``AssertionError`` naming every event
        that went wrong."""
        expected = [self.resolve(names) for _, names in cases]
        ids = self.put([entry for entry, _ in cases])
        routes = [Route(i, entry, want) for i, (entry, _), want in zip(ids, cases, expected)]

        def short_of_expected() -> list[Route]:
            self._observe(routes)
            late = [r for r in routes if not r.on_bus or not r.expected <= r.reached]
            assert not late, "\n".join(r.describe() for r in late)
            return routes

        def strays() -> list[str]:
            self._observe(routes)
            return [r.describe() for r in routes if r.reached - r.expected]

        try:
            eventually(short_of_expected, timeout, policy=ROUTE_POLICY,
                       description=f"{len(routes)} event(s) on bus {self.bus} reaching their "
                                   "targets")
            if not any(r.reached - r.expected for r in routes):  # else fail at once below
                never(strays, quiet, description=f"an event on bus {self.bus} reaching a "
                                                 "target it should not")
        except (EventuallyTimeout, NeverViolated) as exc:
            raise AssertionError(f"routing on bus {self.bus} is not as expected:\n" + "\n".join(
                r.describe() for r in routes if r.reached != r.expected or not r.on_bus)
                + f"\n({type(exc).__name__}: {str(exc).splitlines()[0]})") from exc
        self._delivery_failures(routes)
        wrong = [r for r in routes if r.reached != r.expected or r.failed]
        if wrong:
            raise AssertionError(f"routing on bus {self.bus} is not as expected:\n"
                                 + "\n".join(r.describe() for r in wrong))
        return routes

    def _delivery_failures(self, routes: list[Route]) -> None:
        """A matched rule hands the event to its targets; the events log of this project's
        LocalStack (:mod:`harness.trace.eventbridge`) says whether each hand-over worked. Without
        it (another LocalStack) a rule match counts as reaching its targets."""
        from harness.trace.eventbridge import EventsLog, EventsLogUnavailable

        if not any(r.reached for r in routes):
            return
        try:
            records = {e["event_id"]: e for e in EventsLog(self._localstack).events(
                self.bus, contains=[r.event_id for r in routes if r.reached])}
        except EventsLogUnavailable:
            return
        for route in routes:
            for rule in records.get(route.event_id, {}).get("rules", []):
                for target in rule["targets"]:
                    if target["status"] == "failed":
                        route.failed[target["target_arn"]] = target["error"]
                        route.reached.discard(target["target_arn"])

    def assert_reaches(self, entry: dict[str, Any], targets: Iterable[str],
                       quiet: float = 1.0, timeout: float | None = None) -> Route:
        """One event: exactly ``targets`` (empty: none), see :meth:`assert_routes`."""
        return self.assert_routes([(entry, targets)], quiet, timeout)[0]

    def close(self) -> None:
        for tap in [self.all_events] + [r.tap for r in self.rules.values()]:
            try:
                tap.close()
            except Exception:  # noqa: BLE001 - remove the others anyway
                pass

    def __enter__(self) -> "BusRoutes":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
