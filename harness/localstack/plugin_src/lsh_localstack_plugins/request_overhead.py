"""Cheaper per-request work in LocalStack 4.8.1's HTTP server and handler chain, same results.

Why: under a burst of small events (S3 → SNS → SQS → Lambda → DynamoDB) LocalStack spends its
CPU on the fixed cost of each request (~1.3 ms even for ``GET /_localstack/health``), not on
the services: twisted's HTTP parsing and its WSGI bridge, the handler chain, botocore on the
client side of LocalStack's internal calls. A py-spy profile of that burst (docs/performance.md,
"CPU per event") shows a flat profile; the pieces below are those that do work whose result is
thrown away or is the same on every request. Each keeps what a client sees byte for byte.

- ``content_type``: twisted parses every POST's ``Content-Type`` with ``email.message`` (~40-70 µs)
  to decide whether to pre-parse a form body. A plain ``type/subtype[; params]`` value is
  lower-cased directly, with the same result; anything else still goes to twisted's parser.
- ``access_log``: twisted formats an access-log line per request and hands it to its global log
  publisher, which (LocalStack never starts twisted logging) only keeps it in twisted's
  start-up buffer, filtered at ``critical`` for output: nobody reads it. Skipped while that is so.
- ``mime_type``: the response serializer parses the ``Accept`` header with werkzeug and matches
  it against its supported types for every response; the answer depends only on that header
  (or the ``Content-Type`` fallback) and the serializer's supported types, so it is cached.
- ``internal_resources``: the ``/_localstack/...`` resources router (health, info, init, ...)
  is matched against every request's URL by werkzeug; when all its rules are under
  ``/_localstack`` and the request's path is not (and has no percent-escapes), it cannot match,
  so the match is skipped.
- ``user_agent``: botocore builds the ``User-Agent`` string twice per request (sanitizing every
  component); for LocalStack's in-memory internal clients it is cached per client and set of
  features in use (the only input that changes between calls).

``LSH_LEAN_REQUESTS``: unset or ``1`` applies all, ``0`` none, or a comma-separated list of the
names above applies those (to measure each, ``bench/cpu_per_event.py``).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Callable

#: a well-formed Content-Type (``type/subtype`` and ``name=value`` parameters, tokens or plain
#: quoted strings), whose media type email.message reads as exactly this, lower-cased
_TOKEN = rb"[A-Za-z0-9!#$&'*^_`|~.+-]+"
_SIMPLE_CONTENT_TYPE = re.compile(
    rb"[ \t]*(" + _TOKEN + rb"/" + _TOKEN + rb")[ \t]*"
    rb"(?:;[ \t]*" + _TOKEN + rb"=(?:" + _TOKEN + rb'|"[^"\\\x00-\x1f\x7f-\xff]*")[ \t]*)*;?[ \t]*')


def content_type() -> None:
    from twisted.web import http

    original = http._parseContentType

    def _parseContentType(line: bytes) -> bytes:
        match = _SIMPLE_CONTENT_TYPE.fullmatch(line)
        if match is None:
            return original(line)
        return match.group(1).lower()

    http._parseContentType = _parseContentType


def access_log() -> None:
    from rolo.serving.twisted import TwistedGateway
    from twisted.logger import globalLogBeginner, globalLogPublisher

    original = TwistedGateway.log

    def log(self, request) -> None:
        # the line only reaches twisted's start-up buffer until someone begins twisted logging
        temporary = getattr(globalLogBeginner, "_temporaryObserver", None)
        observers = getattr(globalLogPublisher, "_observers", None)
        if temporary is not None and observers is not None and list(observers) == [temporary]:
            return None
        return original(self, request)

    TwistedGateway.log = log


def mime_type() -> None:
    from localstack.aws.protocol import serializer
    from werkzeug.datastructures import MIMEAccept
    from werkzeug.http import parse_accept_header

    @lru_cache(maxsize=512)
    def best_match(accept_header: str | None, supported: tuple[str, ...]) -> str | None:
        return parse_accept_header(accept_header, MIMEAccept).best_match(list(supported))

    def _get_mime_type(self, headers) -> str:
        # as ResponseSerializer._get_mime_type, with the parse and match cached
        accept_header = None
        if headers and "Accept" in headers and not headers.get("Accept") == "*/*":
            accept_header = headers.get("Accept")
        elif headers and headers.get("Content-Type"):
            content_type = headers.get("Content-Type")
            serializer.LOG.debug(
                "No accept header given. Using request's Content-Type (%s) as preferred "
                "response Content-Type.", content_type)
            accept_header = content_type + ", */*"
        mime_type = best_match(accept_header, tuple(self.SUPPORTED_MIME_TYPES))
        if not mime_type:
            mime_type = self.SUPPORTED_MIME_TYPES[0]
            serializer.LOG.debug(
                "Determined accept type (%s) is not supported by this serializer. Using default "
                "of this serializer: %s", accept_header, mime_type)
        return mime_type

    serializer.ResponseSerializer._get_mime_type = _get_mime_type


def internal_resources() -> None:
    from localstack import constants
    from localstack.aws.handlers.internal import LocalstackResourceHandler
    from rolo.request import get_raw_path

    prefix = constants.INTERNAL_RESOURCE_PATH  # "/_localstack"
    original = LocalstackResourceHandler.__call__

    def __call__(self, chain, context, response):
        # the router matches the raw path with its leading slashes merged into one
        path = "/" + get_raw_path(context.request).lstrip("/")
        if not path.startswith(prefix) and "%" not in path and all(
                rule.rule.startswith(prefix) for rule in self.resources.url_map.iter_rules()):
            return  # no rule can match: the same as the router's NotFound fallthrough
        return original(self, chain, context, response)

    LocalstackResourceHandler.__call__ = __call__


def user_agent() -> None:
    from botocore.context import get_context
    from localstack.aws.client import GatewayShortCircuit

    original = GatewayShortCircuit.modify_client

    def cache_user_agent(creator) -> None:
        build = creator.to_string
        cache: dict = {}

        def to_string() -> str:
            context = get_context()
            key = (frozenset(context.features) if context is not None else None,
                   frozenset(creator._client_features or ()))
            text = cache.get(key)
            if text is None:
                text = cache[key] = build()
            return text

        creator.to_string = to_string

    def modify_client(client, gateway):
        original(client, gateway)
        creator = getattr(client, "_user_agent_creator", None)
        if creator is not None and not getattr(creator, "_lsh_cached", False):
            cache_user_agent(creator)
            creator._lsh_cached = True

    GatewayShortCircuit.modify_client = staticmethod(modify_client)


PATCHES: dict[str, Callable[[], None]] = {
    "content_type": content_type,
    "access_log": access_log,
    "mime_type": mime_type,
    "internal_resources": internal_resources,
    "user_agent": user_agent,
}


def selected() -> list[str]:
    value = os.environ.get("LSH_LEAN_REQUESTS", "1").strip().lower()
    if value in ("", "1", "true", "yes", "on", "all"):
        return list(PATCHES)
    if value in ("0", "false", "no", "off", "none"):
        return []
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in PATCHES]
    if unknown:
        raise ValueError(f"LSH_LEAN_REQUESTS: unknown {', '.join(unknown)}; "
                         f"use 1, 0 or some of {', '.join(PATCHES)}")
    return names


def apply() -> None:
    for name in selected():
        PATCHES[name]()
