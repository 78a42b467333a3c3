"""Check an EventBridge event pattern against sample events two ways, and that they agree.

1. ``TestEventPattern``: the API's own verdict for each sample (an event envelope).
2. A real put: a scratch bus with a rule of that pattern (a :class:`~harness.taps.BusTap`),
   every sample put on it, and what the rule delivered, by event id.

The two can differ (a matcher bug, a field ``PutEvents`` sets itself such as ``account``), and a
test of routing wants to know which one it relied on. :func:`check_pattern` reports both per
sample; :func:`assert_pattern` also says what each sample should do::

    assert_pattern(localstack, rule_pattern,
                   matching=[order("PLACED")], not_matching=[order("SHIPPED")])
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Sequence

from harness.errors import HarnessError
from harness.localstack.base import LocalStack
from harness.taps import BusTap
from harness.waits import EventuallyTimeout, NeverViolated, eventually, never

#: PutEvents takes at most this many entries per call
PUT_BATCH = 10


class PatternMismatch(HarnessError, AssertionError):
    """The two ways disagree, or a sample did not do what the test said it should."""


@dataclass(frozen=True)
class Verdict:
    """One sample: what ``TestEventPattern`` said, and whether a real put delivered it."""

    event: dict[str, Any]
    by_test_api: bool
    delivered: bool
    put_error: str | None = None

    @property
    def agree(self) -> bool:
        return self.by_test_api == self.delivered


@dataclass
class PatternCheck:
    pattern: dict[str, Any]
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        return all(v.agree for v in self.verdicts)

    @property
    def matched(self) -> list[dict[str, Any]]:
        """The samples both ways matched."""
        return [v.event for v in self.verdicts if v.by_test_api and v.delivered]

    def table(self) -> str:
        rows = [f"  {'TestEventPattern':>16}  {'delivered':>9}  event"]
        for v in self.verdicts:
            note = f"  (PutEvents failed: {v.put_error})" if v.put_error else ""
            mark = "" if v.agree else "   <- disagree"
            rows.append(f"  {_yes(v.by_test_api):>16}  {_yes(v.delivered):>9}  "
                        f"{_summary(v.event)}{note}{mark}")
        return f"pattern {json.dumps(self.pattern)}\n" + "\n".join(rows)

    def assert_agrees(self) -> "PatternCheck":
        if not self.agree:
            raise PatternMismatch("TestEventPattern and a real put on a bus disagree:\n"
                                  + self.table())
        return self


def _yes(value: bool) -> str:
    return "match" if value else "no match"


def _summary(event: dict[str, Any]) -> str:
    return json.dumps({k: event[k] for k in ("source", "detail-type", "detail") if k in event})


def envelope(sample: dict[str, Any], account: str, region: str) -> dict[str, Any]:
    """A full event as a bus would deliver it: ``sample``'s fields over the ones PutEvents sets
    (``version``, ``id``, ``account``, ``time``, ``region``, ``resources``)."""
    base = {"version": "0", "id": str(uuid.uuid4()), "account": account,
            "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
            "resources": [], "detail": {}}
    return {**base, **sample}


def _require_fields(sample: dict[str, Any]) -> None:
    missing = [k for k in ("source", "detail-type") if k not in sample]
    if missing:
        raise ValueError(f"sample event {_summary(sample)} has no {' or '.join(missing)}: "
                         "give every sample at least `source` and `detail-type`")


def _entry(bus: str, event: dict[str, Any]) -> dict[str, Any]:
    return {"EventBusName": bus, "Source": event["source"], "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]), "Resources": event["resources"]}


def check_pattern(localstack: LocalStack, pattern: dict[str, Any] | str,
                  samples: Sequence[dict[str, Any]], *, timeout: float = 10.0,
                  quiet: float = 1.0) -> PatternCheck:
    """Each sample's verdict both ways (see the module docstring).

    ``samples``: event envelopes, at least ``source``, ``detail-type`` and usually ``detail``;
    the other fields get the values a put on this LocalStack gets. Samples ``TestEventPattern``
    matched are waited for up to ``timeout`` s; the others are watched for ``quiet`` s (with
    :func:`~harness.waits.never`), so a delivery nobody expected is seen too.
    """
    if isinstance(pattern, str):
        pattern = json.loads(pattern)
    for sample in samples:
        _require_fields(sample)
    events = localstack.client("events")
    account = localstack.client("sts").get_caller_identity()["Account"]
    full = [envelope(s, account, localstack.region) for s in samples]
    by_api = [events.test_event_pattern(EventPattern=json.dumps(pattern),
                                        Event=json.dumps(e))["Result"] for e in full]
    bus = f"lsh-pattern-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    try:
        with BusTap(localstack, bus, pattern=pattern) as tap:
            ids, errors = _put_all(events, bus, full)
            _watch(tap, ids, by_api, timeout, quiet)
            delivered = {e["id"] for e in tap.drain()}
    finally:
        events.delete_event_bus(Name=bus)
    return PatternCheck(pattern, [Verdict(e, api, ids[i] in delivered, errors[i])
                                  for i, (e, api) in enumerate(zip(full, by_api))])


def _put_all(events: Any, bus: str, full: list[dict]) -> tuple[list[str | None], list[str | None]]:
    ids: list[str | None] = []
    errors: list[str | None] = []
    for start in range(0, len(full), PUT_BATCH):
        batch = full[start:start + PUT_BATCH]
        result = events.put_events(Entries=[_entry(bus, e) for e in batch])["Entries"]
        ids += [r.get("EventId") for r in result]
        errors += [f"{r['ErrorCode']}: {r.get('ErrorMessage')}" if r.get("ErrorCode") else None
                   for r in result]
    return ids, errors


def _watch(tap: BusTap, ids: list[str | None], by_api: list[bool], timeout: float,
           quiet: float) -> None:
    """Wait for the deliveries TestEventPattern predicts, and watch for the others; neither
    outcome raises here (the verdicts say what happened)."""
    wanted = {i for i, api in zip(ids, by_api) if api and i}
    unwanted = {i for i, api in zip(ids, by_api) if not api and i}

    def arrived() -> set[str]:
        return {e["id"] for e in tap.drain()}

    try:
        if wanted:
            eventually(lambda: wanted <= arrived(), timeout,
                       description="the events TestEventPattern matched are delivered")
        if unwanted:
            never(lambda: unwanted & arrived(), during=quiet,
                  description="an event TestEventPattern did not match is delivered")
    except (EventuallyTimeout, NeverViolated):
        pass  # the verdicts show it


def assert_pattern(localstack: LocalStack, pattern: dict[str, Any] | str, *,
                   matching: Sequence[dict[str, Any]] = (),
                   not_matching: Sequence[dict[str, Any]] = (), **kwargs: Any) -> PatternCheck:
    """:func:`check_pattern`, then: both ways agree on every sample, ``matching`` ones match and
    ``not_matching`` ones do not. One :class:`PatternMismatch` with the table otherwise."""
    samples = [*matching, *not_matching]
    if not samples:
        raise ValueError("assert_pattern needs at least one sample in matching or not_matching")
    result = check_pattern(localstack, pattern, samples, **kwargs)
    expected = [True] * len(matching) + [False] * len(not_matching)
    wrong = [(v, want) for v, want in zip(result.verdicts, expected)
             if v.by_test_api != want or v.delivered != want]
    if wrong:
        lines = [f"  expected {_yes(want)}: {_summary(v.event)}" for v, want in wrong]
        raise PatternMismatch(f"{len(wrong)} of {len(samples)} samples did not do what the test "
                              f"expected:\n" + "\n".join(lines) + "\n" + result.table())
    return result
