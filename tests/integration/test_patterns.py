"""harness.patterns on a real LocalStack: TestEventPattern and a real put agree, and a wrong
expectation is one clear failure with both verdicts."""

from __future__ import annotations

import pytest

from harness.patterns import PatternMismatch, assert_pattern, check_pattern

ORDER_PLACED = {"source": ["custom.myapp"], "detail-type": ["order_placed"],
                "detail": {"status": ["PLACED"]}}


def order(status: str = "PLACED", detail_type: str = "order_placed",
          source: str = "custom.myapp") -> dict:
    return {"source": source, "detail-type": detail_type,
            "detail": {"orderId": "TEST-1234", "customer": "John Doe", "status": status}}


def test_the_order_pattern_both_ways(localstack):
    result = assert_pattern(localstack, ORDER_PLACED, matching=[order()], not_matching=[
        order("SHIPPED"), order(detail_type="order_shipped"), order(source="custom.other"),
        {"source": "custom.myapp", "detail-type": "order_placed", "detail": {}}])
    assert result.agree and [e["detail"]["status"] for e in result.matched] == ["PLACED"]
    assert [v.by_test_api for v in result.verdicts] == [True, False, False, False, False]


@pytest.mark.parametrize("detail_filter, matching, not_matching", [
    ({"total": [{"numeric": [">", 100]}]}, {"total": 150}, {"total": 100}),
    ({"status": [{"anything-but": ["CANCELLED"]}]}, {"status": "PLACED"}, {"status": "CANCELLED"}),
    ({"orderId": [{"prefix": "TEST-"}]}, {"orderId": "TEST-1"}, {"orderId": "PROD-1"}),
    ({"coupon": [{"exists": False}]}, {"status": "PLACED"}, {"coupon": "X"}),
    ({"items": {"id": ["product-123"]}}, {"items": [{"id": "product-123"}]},
     {"items": [{"id": "product-9"}]}),
], ids=["numeric", "anything-but", "prefix", "exists-false", "array-of-objects"])
def test_content_filters_agree(localstack, detail_filter, matching, not_matching):
    pattern = {"source": ["lsh.test"], "detail": detail_filter}
    assert_pattern(localstack, pattern, quiet=0.5,
                   matching=[{"source": "lsh.test", "detail-type": "t", "detail": matching}],
                   not_matching=[{"source": "lsh.test", "detail-type": "t",
                                  "detail": not_matching}])


def test_fields_put_events_sets_get_this_localstack_values(localstack):
    account = localstack.client("sts").get_caller_identity()["Account"]
    result = check_pattern(localstack, {"account": [account], "region": [localstack.region]},
                           [order()])
    assert result.agree and len(result.matched) == 1


def test_a_wrong_expectation_fails_with_both_verdicts(localstack):
    with pytest.raises(PatternMismatch) as info:
        assert_pattern(localstack, ORDER_PLACED, matching=[order("SHIPPED")], quiet=0.3)
    text = str(info.value)
    assert "1 of 1 samples did not do what the test expected" in text
    assert "expected match" in text and '"status": "SHIPPED"' in text
    assert "TestEventPattern  delivered" in text and "no match   no match" in text


def test_a_sample_without_detail_type_is_refused_clearly(localstack):
    with pytest.raises(ValueError, match="has no detail-type: give every sample at least"):
        check_pattern(localstack, ORDER_PLACED, [{"source": "custom.myapp", "detail": {}}])
