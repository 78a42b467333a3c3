"""What the four services share: the bus they publish to, the simulated outcome, stable ids."""

from __future__ import annotations

import json
import os
import random
import uuid
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger

#: the ``source`` of every event the services publish
SOURCE = "order.saga"
_ID_NAMESPACE = uuid.UUID("5b0a1b8e-3c1d-4d55-9a57-0f6f4b2c7a11")

logger = Logger()


@lru_cache(maxsize=None)
def client(service: str):
    return boto3.client(service)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def stable_id(prefix: str, order_id: str) -> str:
    """The same id for the same order every time: a retried charge or refund (Step Functions
    retries a failed attempt) publishes the same id instead of a second charge."""
    return f"{prefix}-{uuid.uuid5(_ID_NAMESPACE, f'{prefix}:{order_id}').hex[:16]}"


def publish(detail_type: str, detail: dict[str, Any]) -> None:
    """Put one event on the saga's bus (``EVENT_BUS_NAME``); a rejected entry raises."""
    response = client("events").put_events(Entries=[{
        "EventBusName": os.environ["EVENT_BUS_NAME"], "Source": SOURCE,
        "DetailType": detail_type, "Detail": json.dumps(detail, default=str)}])
    if response.get("FailedEntryCount"):
        entry = response["Entries"][0]
        raise RuntimeError(f"the bus refused {detail_type!r}: {entry.get('ErrorCode')} "
                           f"{entry.get('ErrorMessage')}")
    logger.info("published", extra={"detail_type": detail_type, "order_id": detail.get("orderId")})


def rate(variable: str, default: float) -> float:
    """A success rate from the environment (0..1); a bad value is one clear error."""
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{variable}={raw!r} is not a number: set it between 0 and 1") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{variable}={raw!r} is out of range: set it between 0 and 1")
    return value


def succeeds(variable: str, default: float) -> bool:
    """The seed's simulation: true with the probability ``variable`` says."""
    return random.random() < rate(variable, default)
