"""Queries: ``reconstructState`` folds the account's events from the event store;
``getReadModel`` reads its projection. Both answer the same fields (``balance``, ``version``,
``transactionCount``, ``lastTransactionAt``, ...), with ``statusCode`` 404 for an unknown account
and 400 for a query that is not one of these two."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.ledger.account import fold, to_json_safe
from functions.ledger.store import load_events, read_view

logger = Logger()
QUERY_TYPES = ("reconstructState", "getReadModel")


def _error(status: int, kind: str, message: str) -> dict:
    return {"statusCode": status, "errorType": kind, "errorMessage": message}


@logger.inject_lambda_context
def handler(query: Any, context: LambdaContext) -> dict:
    if not isinstance(query, dict) or query.get("queryType") not in QUERY_TYPES:
        got = query.get("queryType") if isinstance(query, dict) else type(query).__name__
        return _error(400, "UnknownQuery", f"unknown queryType {got!r}: use one of "
                                           f"{', '.join(QUERY_TYPES)}")
    aggregate_id = query.get("aggregateId")
    if not isinstance(aggregate_id, str) or not aggregate_id:
        return _error(400, "InvalidQuery", f"{query['queryType']} needs an aggregateId (a "
                                           f"non-empty string)")
    if query["queryType"] == "reconstructState":
        state = fold(aggregate_id, load_events(aggregate_id))
        state = state if state.exists else None
    else:
        state = read_view(aggregate_id)
    if state is None:
        return _error(404, "AccountNotFound", f"account {aggregate_id} does not exist "
                                              f"({query['queryType']})")
    return {"statusCode": 200, **to_json_safe(state.to_view())}
