"""Hypothesis strategies for fuzzing event-driven apps (the ``[fuzz]`` extra): S3 keys and bodies,
JSON values, characters an SQS message can carry, and duplicate/reorder delivery schedules.

They know no particular app: build an app's schemas on :func:`json_values` / :data:`json_objects`
(the reference apps' own strategies live with their tests, e.g.
``tests/e2e/upload_pipeline/strategies.py``).
"""

from __future__ import annotations

from typing import Any

from harness.extras import require

st = require("hypothesis.strategies", "fuzz", "harness.strategies")

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
#: text a JSON message through SNS -> SQS carries (JSON escapes control characters; U+FFFE and
#: U+FFFF it writes as they are, and SQS refuses them)
_json_text = st.characters(exclude_categories=("Cs",), exclude_characters="\ufffe\uffff")


def json_values(max_leaves: int = 10) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers(-2**53, 2**53) | \
        st.text(_json_text, max_size=20) | st.floats(allow_nan=False, allow_infinity=False)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) |
                        st.dictionaries(st.text(_json_text, max_size=10), inner, max_size=4),
                        max_leaves=max_leaves)


json_objects = st.dictionaries(st.text(_json_text, max_size=12), json_values(), max_size=5)


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


