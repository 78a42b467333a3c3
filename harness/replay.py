"""EventBridge archive replays for tests: start one for a time window, wait until it is
``COMPLETED`` (or say why not), count what it delivered.

Works on any bus and archive (AWS or LocalStack; on LocalStack 4.8.1 our plugin
``lsh_localstack_plugins.events_replay`` makes ``StartReplay`` work at all)::

    from harness.replay import replay_archive
    done = replay_archive(events, "my-archive", "my-bus", since=started, timeout=60)
    assert done.state == "COMPLETED"

A replayed event carries ``"replay-name": <name>`` at its top level, so a rule with
``{"replay-name": [{"exists": true}]}`` sees only replays; :func:`replayed_events` counts the ones
of one replay that reached a queue (peeking: nothing is consumed).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from harness.errors import HarnessError
from harness.probes import peek_messages
from harness.waits import eventually

#: replay states after which nothing changes any more
FINAL_STATES = ("COMPLETED", "FAILED", "CANCELLED")


class ReplayFailed(HarnessError, AssertionError):
    """A replay ended ``FAILED`` or ``CANCELLED``; the message holds EventBridge's reason."""


@dataclass(frozen=True)
class ReplayOutcome:
    """What ``DescribeReplay`` says about a replay once it has ended."""

    name: str
    arn: str
    state: str
    reason: str | None
    event_start_time: datetime
    event_end_time: datetime
    last_replayed_time: datetime | None

    @classmethod
    def from_description(cls, d: dict[str, Any]) -> "ReplayOutcome":
        return cls(d["ReplayName"], d["ReplayArn"], d["State"], d.get("StateReason"),
                   d["EventStartTime"], d["EventEndTime"], d.get("EventLastReplayedTime"))


def _arn_of(events, kind: str, name_or_arn: str) -> str:
    if name_or_arn.startswith("arn:"):
        return name_or_arn
    if kind == "archive":
        return events.describe_archive(ArchiveName=name_or_arn)["ArchiveArn"]
    return events.describe_event_bus(Name=name_or_arn)["Arn"]


def start_replay(events, archive: str, bus: str, since: datetime, until: datetime | None = None,
                 *, name: str | None = None, rule_arns: list[str] | None = None) -> str:
    """Start replaying ``archive``'s events from ``since`` to ``until`` (default: now) into
    ``bus``; return the replay's name.

    ``archive`` and ``bus`` are names or ARNs; ``rule_arns`` limits the replay to those rules
    (EventBridge's ``FilterArns``)."""
    name = name or f"lsh-replay-{uuid.uuid4().hex[:16]}"
    until = until or datetime.now(UTC)
    destination: dict[str, Any] = {"Arn": _arn_of(events, "bus", bus)}
    if rule_arns:
        destination["FilterArns"] = list(rule_arns)
    events.start_replay(ReplayName=name, EventSourceArn=_arn_of(events, "archive", archive),
                        EventStartTime=since, EventEndTime=until, Destination=destination)
    return name


def wait_for_replay(events, name: str, timeout: float | None = None) -> ReplayOutcome:
    """The replay ``name`` once it has ended; :class:`ReplayFailed` (with EventBridge's reason)
    when it ended ``FAILED`` or ``CANCELLED``."""
    def ended() -> dict:
        d = events.describe_replay(ReplayName=name)
        assert d["State"] in FINAL_STATES, f"replay {name} is {d['State']}"
        return d

    outcome = ReplayOutcome.from_description(
        eventually(ended, timeout, description=f"replay {name} to end"))
    if outcome.state != "COMPLETED":
        raise ReplayFailed(f"replay {name} ended {outcome.state}: "
                           f"{outcome.reason or 'EventBridge gave no reason'}")
    return outcome


def replay_archive(events, archive: str, bus: str, since: datetime,
                   until: datetime | None = None, *, timeout: float | None = None,
                   name: str | None = None, rule_arns: list[str] | None = None) -> ReplayOutcome:
    """:func:`start_replay` then :func:`wait_for_replay`."""
    replay = start_replay(events, archive, bus, since, until, name=name, rule_arns=rule_arns)
    return wait_for_replay(events, replay, timeout)


def replayed_events(sqs, queue_url: str, replay_name: str) -> list[dict]:
    """The events of replay ``replay_name`` that are on ``queue_url`` (an EventBridge rule's
    queue target, whole events as bodies), peeked: nothing is consumed."""
    found = []
    for message in peek_messages(sqs, queue_url):
        try:
            body = json.loads(message["Body"])
        except ValueError:
            continue
        if isinstance(body, dict) and body.get("replay-name") == replay_name:
            found.append(body)
    return found
