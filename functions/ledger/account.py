"""The bank account aggregate: commands, events, the fold of events into state, and the rules a
command must pass. Pure Python (no AWS): the command, projection and query handlers share it, so
the read model and ``reconstructState`` cannot disagree on what an event means.

Amounts are :class:`~decimal.Decimal` throughout (DynamoDB numbers); 100.50 stays 100.50.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ACCOUNT_CREATED = "AccountCreated"
TRANSACTION_PROCESSED = "TransactionProcessed"
ACCOUNT_CLOSED = "AccountClosed"
EVENT_TYPES = (ACCOUNT_CREATED, TRANSACTION_PROCESSED, ACCOUNT_CLOSED)


class CommandRejected(ValueError):
    """The command is malformed or breaks a rule of the account; nothing was written."""


class ConcurrencyConflict(RuntimeError):
    """The account moved on (a stale ``expectedVersion`` or a concurrent append); retry with the
    current version."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow")


class AccountCreatedData(_Data):
    accountId: str | None = None
    customerId: str = Field(min_length=1)
    accountType: str = Field(min_length=1)
    createdAt: str | None = None


class TransactionData(_Data):
    transactionId: str = Field(min_length=1)
    amount: Decimal = Field(gt=0, max_digits=20, decimal_places=2)
    type: Literal["deposit", "withdrawal"]
    timestamp: str | None = None


class AccountClosedData(_Data):
    reason: str | None = None
    closedAt: str | None = None


DATA_MODELS: dict[str, type[_Data]] = {ACCOUNT_CREATED: AccountCreatedData,
                                       TRANSACTION_PROCESSED: TransactionData,
                                       ACCOUNT_CLOSED: AccountClosedData}


class Command(BaseModel):
    """What the command handler accepts: the seed's shape plus an optional ``expectedVersion``."""

    model_config = ConfigDict(extra="forbid")
    aggregateId: str = Field(min_length=1, max_length=256)
    eventType: Literal["AccountCreated", "TransactionProcessed", "AccountClosed"]
    eventData: dict[str, Any] = Field(default_factory=dict)
    expectedVersion: int | None = Field(default=None, ge=0)


def one_line(error: ValidationError, prefix: str = "") -> str:
    """A pydantic error as one line: ``field.path: message; ...``."""
    return "; ".join(f"{prefix}{'.'.join(str(p) for p in e['loc']) or 'command'}: {e['msg']}"
                     for e in error.errors())


def parse_command(payload: Any) -> Command:
    """The command in ``payload`` with its ``eventData`` checked for its type; numbers become
    Decimals. :class:`CommandRejected` (one line naming the field) when it does not fit."""
    if not isinstance(payload, dict):
        raise CommandRejected(f"a command is a JSON object, got {type(payload).__name__}")
    payload = json.loads(json.dumps(payload, default=str), parse_float=Decimal)
    try:
        command = Command.model_validate(payload)
    except ValidationError as exc:
        raise CommandRejected(f"invalid command: {one_line(exc)}") from None
    try:
        data = DATA_MODELS[command.eventType].model_validate(command.eventData).model_dump(
            mode="python", exclude_none=True)
    except ValidationError as exc:
        raise CommandRejected(f"invalid {command.eventType} command: "
                              f"{one_line(exc, 'eventData.')}") from None
    return command.model_copy(update={"eventData": data})


@dataclass(frozen=True)
class StoredEvent:
    """One item of the event store (attribute names as stored)."""

    aggregate_id: str
    version: int
    event_id: str
    event_type: str
    event_data: dict[str, Any]
    timestamp: str

    def to_item(self) -> dict[str, Any]:
        return {"AggregateId": self.aggregate_id, "Version": self.version,
                "EventId": self.event_id, "EventType": self.event_type,
                "EventData": self.event_data, "Timestamp": self.timestamp}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "StoredEvent":
        return cls(item["AggregateId"], int(item["Version"]), item["EventId"], item["EventType"],
                   dict(item.get("EventData") or {}), item["Timestamp"])

    def to_detail(self) -> dict[str, Any]:
        """The event as an EventBridge detail (camelCase, as the seed's commands)."""
        return {"aggregateId": self.aggregate_id, "version": self.version,
                "eventId": self.event_id, "eventType": self.event_type,
                "eventData": self.event_data, "timestamp": self.timestamp}

    @classmethod
    def from_detail(cls, detail: dict[str, Any]) -> "StoredEvent":
        detail = json.loads(json.dumps(detail), parse_float=Decimal)
        return cls(detail["aggregateId"], int(detail["version"]), detail["eventId"],
                   detail["eventType"], dict(detail.get("eventData") or {}), detail["timestamp"])


@dataclass(frozen=True)
class Account:
    """The state of one account after ``version`` events (version 0: it does not exist)."""

    aggregate_id: str
    version: int = 0
    status: str | None = None  # "active" | "closed"
    balance: Decimal = Decimal(0)
    transaction_count: int = 0
    last_transaction_at: str | None = None
    account_id: str | None = None
    customer_id: str | None = None
    account_type: str | None = None
    created_at: str | None = None

    @property
    def exists(self) -> bool:
        return self.version > 0

    def apply(self, event: StoredEvent) -> "Account":
        """The state after ``event``, which must be the next version (the fold never skips)."""
        if event.version != self.version + 1:
            raise ValueError(f"event {event.event_id} of {event.aggregate_id} has version "
                             f"{event.version}, the state is at {self.version}")
        data, nxt = event.event_data, replace(self, version=event.version)
        if event.event_type == ACCOUNT_CREATED:
            return replace(nxt, status="active", account_id=data.get("accountId"),
                           customer_id=data.get("customerId"),
                           account_type=data.get("accountType"),
                           created_at=data.get("createdAt") or event.timestamp)
        if event.event_type == TRANSACTION_PROCESSED:
            amount = Decimal(str(data["amount"]))
            sign = 1 if data["type"] == "deposit" else -1
            return replace(nxt, balance=self.balance + sign * amount,
                           transaction_count=self.transaction_count + 1,
                           last_transaction_at=data.get("timestamp") or event.timestamp)
        if event.event_type == ACCOUNT_CLOSED:
            return replace(nxt, status="closed")
        raise ValueError(f"unknown event type {event.event_type!r} in {event.event_id}")

    def to_view(self) -> dict[str, Any]:
        """The fields both queries answer with (``reconstructState`` and ``getReadModel``)."""
        return {"aggregateId": self.aggregate_id, "version": self.version,
                "status": self.status, "balance": self.balance,
                "transactionCount": self.transaction_count,
                "lastTransactionAt": self.last_transaction_at, "accountId": self.account_id,
                "customerId": self.customer_id, "accountType": self.account_type,
                "createdAt": self.created_at}

    def to_item(self) -> dict[str, Any]:
        """The read model's item (key ``AggregateId``); ``None`` values left out."""
        view = self.to_view()
        item = {"AggregateId": view.pop("aggregateId")}
        item.update({k: v for k, v in view.items() if v is not None})
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> "Account":
        return cls(item["AggregateId"], int(item.get("version", 0)), item.get("status"),
                   Decimal(str(item.get("balance", 0))), int(item.get("transactionCount", 0)),
                   item.get("lastTransactionAt"), item.get("accountId"), item.get("customerId"),
                   item.get("accountType"), item.get("createdAt"))


def fold(aggregate_id: str, events: list[StoredEvent], start: Account | None = None) -> Account:
    """The state after ``events`` (in version order) starting from ``start`` (default: none)."""
    state = start or Account(aggregate_id)
    for event in events:
        state = state.apply(event)
    return state


def check(account: Account, command: Command) -> None:
    """:class:`ConcurrencyConflict` or :class:`CommandRejected` when ``command`` may not be
    applied to ``account``; the message names the account and what to do."""
    if command.expectedVersion is not None and command.expectedVersion != account.version:
        raise ConcurrencyConflict(
            f"account {account.aggregate_id} is at version {account.version}, the command "
            f"expected {command.expectedVersion}: re-read the account and retry")
    kind, name = command.eventType, account.aggregate_id
    if kind == ACCOUNT_CREATED:
        if account.exists:
            raise CommandRejected(f"account {name} already exists (version {account.version})")
        return
    if not account.exists:
        raise CommandRejected(f"account {name} does not exist: send {ACCOUNT_CREATED} first")
    if account.status == "closed":
        raise CommandRejected(f"account {name} is closed: no {kind} is accepted")
    if kind == TRANSACTION_PROCESSED and command.eventData["type"] == "withdrawal":
        amount = command.eventData["amount"]
        if amount > account.balance:
            raise CommandRejected(f"withdrawal of {amount} from account {name} exceeds its "
                                  f"balance {account.balance}")


def to_json_safe(value: Any) -> Any:
    """``value`` with Decimals as ints or floats, for a JSON response."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: to_json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json_safe(v) for v in value]
    return value
