"""Hypothesis strategies for fuzzing event-driven apps: S3 keys, bodies, API payloads (valid and
invalid), EventBridge events, and duplicate/reorder delivery schedules.

The API strategies follow the reference pipeline's ``POST /events`` schema (``type`` matching
:data:`EVENT_TYPE_PATTERN`, an optional JSON-object ``payload``, nothing else); pass your own
``type_pattern`` or build on :func:`json_values` for other schemas.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

EVENT_TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"
S3_KEY_MAX_BYTES = 1024

# --- S3 ---
_key_chars = st.characters(
    # letters, digits, spaces, punctuation and symbols of any script; no control characters or
    # surrogates (not encodable), no "/" (the path separator is added between segments)
    categories=("L", "N", "Zs", "P", "S", "M"), exclude_characters="/\\\x7f")


@st.composite
def s3_keys(draw, max_bytes: int = S3_KEY_MAX_BYTES, max_depth: int = 8) -> str:
    """Object keys: unicode, spaces, deep paths, up to S3's 1024-byte limit (also exactly it)."""
    segments = draw(st.lists(st.text(_key_chars, min_size=1, max_size=40).filter(
        lambda s: s.strip() not in ("", ".", "..")), min_size=1, max_size=max_depth))
    key = "/".join(segments)
    if draw(st.booleans()) and len(key.encode()) < max_bytes:  # sometimes exactly at the limit
        key += "x" * (max_bytes - len(key.encode()))
    while len(key.encode()) > max_bytes:
        key = key[:-1]
    return key


def bodies(max_size: int = 256 * 1024) -> st.SearchStrategy[bytes]:
    """Object bodies: empty, binary, text, and large."""
    return st.one_of(st.just(b""), st.binary(max_size=64), st.text().map(str.encode),
                     st.integers(1024, max_size).map(lambda n: bytes(range(256)) * (n // 256)))


# --- JSON and API payloads ---
def json_values(max_leaves: int = 10) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=20) | \
        st.floats(allow_nan=False, allow_infinity=False)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) |
                        st.dictionaries(st.text(max_size=10), inner, max_size=4),
                        max_leaves=max_leaves)


json_objects = st.dictionaries(st.text(max_size=12), json_values(), max_size=5)
event_types = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:/-]{0,40}\Z")


def valid_api_payloads() -> st.SearchStrategy[dict]:
    """Bodies ``POST /events`` must accept."""
    return st.builds(lambda t, p, with_payload: {"type": t, **({"payload": p} if with_payload else {})},
                     event_types, json_objects, st.booleans())


def invalid_api_payloads() -> st.SearchStrategy[Any]:
    """Bodies ``POST /events`` must refuse with 400: each breaks the schema in one way."""
    bad_types = st.one_of(st.just(""), st.from_regex(r"\A[._:/-][A-Za-z0-9]{0,5}\Z"),
                          st.text(min_size=1, max_size=8).filter(lambda s: " " in s.strip() or
                                                                 not s.strip()),
                          st.integers(), st.none(), st.lists(st.text(max_size=3), max_size=2))
    not_objects = st.one_of(st.lists(json_values(3), max_size=3), st.text(max_size=10),
                            st.integers(), st.none())
    return st.one_of(
        st.builds(lambda p: {"payload": p}, json_objects),                      # no type
        st.builds(lambda t, p: {"type": t, "payload": p}, bad_types, json_objects),
        st.builds(lambda t, p: {"type": t, "payload": p}, event_types, not_objects),
        st.builds(lambda t, k: {"type": t, "payload": {}, k: 1}, event_types,   # unknown field
                  st.text(min_size=1, max_size=8).filter(lambda k: k not in ("type", "payload"))),
        not_objects,                                                             # not an object
    )


def eventbridge_details(with_event_id: bool | None = None) -> st.SearchStrategy[dict]:
    """``Detail`` objects for bus events (source ``pipeline.manual``)."""
    ids = st.from_regex(r"\A[A-Za-z0-9_-]{1,40}\Z")
    maybe_id = (st.builds(lambda i: {"event_id": i}, ids) if with_event_id else
                st.just({}) if with_event_id is False else
                st.one_of(st.just({}), st.builds(lambda i: {"event_id": i}, ids)))
    return st.builds(lambda t, p, extra: {"type": t, "payload": p, **extra},
                     event_types, json_objects, maybe_id)


# --- delivery schedules ---
@st.composite
def delivery_schedules(draw, n_events: int, max_copies: int = 3) -> list[int]:
    """An order in which to deliver events 0..n-1: each at least once, some several times,
    shuffled (SQS's at-least-once, out-of-order delivery)."""
    copies = draw(st.lists(st.integers(1, max_copies), min_size=n_events, max_size=n_events))
    schedule = [i for i, c in enumerate(copies) for _ in range(c)]
    return draw(st.permutations(schedule))


#: characters an SQS message body may hold (XML 1.0's): not C0 controls other than tab, LF and
#: CR, not U+FFFE/U+FFFF, no surrogates. SNS accepts the others too, but its delivery to an SQS
#: queue then fails and the message is gone (on AWS as on LocalStack), so a "poison" message
#: made of them would never reach the consumer it is meant to poison.
sqs_characters = st.characters(
    exclude_categories=("Cs",),
    exclude_characters="".join(chr(c) for c in range(0x20) if c not in (0x9, 0xA, 0xD))
    + "\ufffe\uffff")


def poison_messages() -> st.SearchStrategy[str]:
    """Messages on the ingest topic that no consumer can accept (not an event of any shape);
    every one can be carried by SQS (:data:`sqs_characters`), so each must end in the DLQ."""
    api_shaped_but_wrong = st.builds(
        lambda p: {"source": "api", "event_id": "x", "type": "", "payload": p,
                   "received_at": "not a time"}, json_objects)
    import json

    return st.one_of(
        st.text(sqs_characters, min_size=1, max_size=50).filter(
            lambda s: not s.strip().startswith(("{", "["))),
        st.builds(json.dumps, st.dictionaries(st.sampled_from(["foo", "bar", "Record"]),
                                              json_values(3), min_size=1, max_size=3)),
        st.builds(json.dumps, api_shaped_but_wrong),
    )
