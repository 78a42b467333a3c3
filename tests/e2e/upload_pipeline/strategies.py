"""Hypothesis strategies for the upload pipeline's schemas: ``POST /events`` bodies (valid and
invalid), bus event details, and poison messages for its ingest topic."""

from __future__ import annotations

import json

from hypothesis import strategies as st

from harness.strategies import json_objects, json_values, sqs_characters

EVENT_TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$"
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


def poison_messages() -> st.SearchStrategy[str]:
    """Messages on the ingest topic that no consumer can accept (not an event of any shape);
    every one can be carried by SQS (:data:`sqs_characters`), so each must end in the DLQ."""
    api_shaped_but_wrong = st.builds(
        lambda p: {"source": "api", "event_id": "x", "type": "", "payload": p,
                   "received_at": "not a time"}, json_objects)
    return st.one_of(
        st.text(sqs_characters, min_size=1, max_size=50).filter(
            lambda s: not s.strip().startswith(("{", "["))),
        st.builds(json.dumps, st.dictionaries(st.sampled_from(["foo", "bar", "Record"]),
                                              json_values(3), min_size=1, max_size=3)),
        st.builds(json.dumps, api_shaped_but_wrong),
    )
