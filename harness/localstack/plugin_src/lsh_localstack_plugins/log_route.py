"""The HTTP route of a record our plugins keep (the SNS publish log, the EventBridge event log):
``GET`` queries it (``since``, ``limit``, repeated ``contains``, and the log's own filters),
``DELETE`` clears it. Served on LocalStack's edge ``ROUTER``."""

from __future__ import annotations

import json
from typing import Any


def log_resource(path: str, log: Any, filters: tuple[str, ...], default_limit: int) -> Any:
    """A route object for ``ROUTER.add``: ``log.query(since=, limit=, contains=, **filters)``
    answers ``GET path``, ``log.clear()`` answers ``DELETE path``."""
    from localstack.http import Request, Response, route

    def json_response(doc: Any, status: int = 200) -> Response:
        return Response(json.dumps(doc, default=str), status=status, mimetype="application/json")

    class LogResource:
        @route(path, methods=["GET"])
        def on_get(self, request: Request) -> Response:
            args = request.args
            try:
                since = int(args["since"]) if args.get("since") else None
                limit = int(args.get("limit") or default_limit)
            except ValueError:
                return json_response({"error": "since and limit must be integers"}, 400)
            return json_response(log.query(
                **{name: args.get(name) or None for name in filters},
                contains=[c for c in args.getlist("contains") if c] or None,
                since=since, limit=max(0, limit)))

        @route(path, methods=["DELETE"])
        def on_delete(self, request: Request) -> Response:
            log.clear()
            return Response("", status=204)

    return LogResource()
