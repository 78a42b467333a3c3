"""harness.patterns without LocalStack: the envelope samples get, and how verdicts are reported
(the two ways themselves run in tests/integration/test_patterns.py)."""

from __future__ import annotations

import pytest

from harness import patterns
from harness.patterns import PatternCheck, PatternMismatch, Verdict, assert_pattern, envelope

PLACED = {"source": "custom.myapp", "detail-type": "order_placed", "detail": {"status": "PLACED"}}
SHIPPED = {**PLACED, "detail": {"status": "SHIPPED"}}


def test_envelope_fills_what_put_events_sets_and_keeps_the_sample():
    event = envelope({**PLACED, "resources": ["arn:x"]}, "111122223333", "eu-west-1")
    assert event["account"] == "111122223333" and event["region"] == "eu-west-1"
    assert event["version"] == "0" and event["id"] and event["time"].endswith("Z")
    assert event["resources"] == ["arn:x"] and event["detail"] == {"status": "PLACED"}
    assert envelope({"source": "s", "detail-type": "t"}, "1", "r")["detail"] == {}


def test_agreement_and_the_table_mark_each_disagreeing_sample():
    check = PatternCheck({"source": ["custom.myapp"]}, [
        Verdict(PLACED, True, True), Verdict(SHIPPED, True, False, put_error="X: y")])
    assert not check.agree and check.matched == [PLACED]
    table = check.table()
    assert table.splitlines()[0] == 'pattern {"source": ["custom.myapp"]}'
    assert "<- disagree" in table.splitlines()[-1] and "(PutEvents failed: X: y)" in table
    assert "<- disagree" not in table.splitlines()[-2]
    with pytest.raises(PatternMismatch, match="TestEventPattern and a real put on a bus disagree"):
        check.assert_agrees()


def test_assert_pattern_names_the_samples_that_missed_their_expectation(monkeypatch):
    def fake_check(localstack, pattern, samples, **kwargs):
        return PatternCheck(pattern, [Verdict(s, s is PLACED, s is PLACED) for s in samples])

    monkeypatch.setattr(patterns, "check_pattern", fake_check)
    assert assert_pattern(None, {}, matching=[PLACED], not_matching=[SHIPPED]).agree
    with pytest.raises(PatternMismatch) as info:
        assert_pattern(None, {}, matching=[PLACED, SHIPPED])
    text = str(info.value)
    assert text.startswith("1 of 2 samples did not do what the test expected:\n")
    assert 'expected match: {"source": "custom.myapp", "detail-type": "order_placed", ' \
           '"detail": {"status": "SHIPPED"}}' in text


def test_assert_pattern_wants_a_sample():
    with pytest.raises(ValueError, match="at least one sample"):
        assert_pattern(None, {})
