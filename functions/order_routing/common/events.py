"""Telling apart the three ways a processor is invoked, and reading an event's detail."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class InvalidEvent(ValueError):
    """The event's detail does not fit its model: the message names the fields and the fix."""


def kind_of(event: Any) -> str:
    """``"eventbridge"`` (a rule target), ``"sqs"`` (a queue batch) or ``"workflow"`` (a state
    machine task); anything else is an error naming what was seen."""
    if isinstance(event, dict):
        if "detail-type" in event and "source" in event:
            return "eventbridge"
        if isinstance(event.get("Records"), list):
            return "sqs"
        if "workflow_id" in event:
            return "workflow"
    raise InvalidEvent(f"not an EventBridge event, SQS batch or workflow step: "
                       f"{str(event)[:200]!r}")


def parse(model: type[M], data: Any, what: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}"
                             for e in exc.errors())
        raise InvalidEvent(f"{what} rejected: {problems}") from None


def parse_body(model: type[M], body: str, what: str) -> M:
    """A queue message's body (JSON) as ``model``; an error names what is wrong with it."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise InvalidEvent(f"{what} rejected: the body is not JSON ({exc}): "
                           f"{body[:80]!r}") from None
    return parse(model, data, what)
