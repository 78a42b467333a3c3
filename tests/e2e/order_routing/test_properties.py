"""Property-based routing (Hypothesis; examples: --lsh-fuzz-examples): whatever the source,
detail-type and detail of an event (the seed's own, near misses, odd characters), the deployed
bus delivers it to exactly the targets the routing table promises, and to nothing else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.pytest_plugin import FUZZ_PROFILE
from infra.order_routing.stack import RULES
from tests.e2e.order_routing.samples import entry

# what an SQS message can carry (the taps are queues): no control characters, no surrogates,
# no U+FFFE/U+FFFF; any script, spaces, punctuation, symbols, combining marks
_chars = st.characters(categories=("L", "N", "Zs", "P", "S", "M"),
                       exclude_characters="\ufffe\uffff")
_text = st.text(_chars, min_size=1, max_size=30)


def _near(value: str) -> st.SearchStrategy[str]:
    """Strings a typo away from ``value``: other case, an extra space, a prefix or suffix."""
    return st.sampled_from([value.upper(), value.lower(), f"{value} ", f" {value}",
                            f"{value}s", f"{value}.v2", f"aws.{value}", value[:-1]]).filter(
        lambda s: s != value and s)


SOURCES = sorted({source for source, _ in RULES.values()})
DETAIL_TYPES = sorted({t for _, types in RULES.values() for t in types})
sources = st.one_of(st.sampled_from(SOURCES), st.sampled_from(SOURCES).flatmap(_near), _text)
detail_types = st.one_of(st.sampled_from(DETAIL_TYPES), st.sampled_from(DETAIL_TYPES).flatmap(
    _near), _text)
#: a rule's own source and one of its detail-types (so matches are drawn often, not by luck)
rule_pairs = st.sampled_from([(source, t) for source, types in RULES.values() for t in types])
_scalars = st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(_chars, max_size=20)
details = st.dictionaries(st.text(_chars, max_size=12), st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.text(_chars, max_size=8), inner, max_size=3), max_leaves=6), max_size=5)


def promised(source: str, detail_type: str) -> set[str]:
    """The routing table of the seed: the rules whose source and detail-type both match."""
    return {name for name, (rule_source, types) in RULES.items()
            if source == rule_source and detail_type in types}


@settings(settings.get_profile(FUZZ_PROFILE))
@given(events=st.lists(st.tuples(st.one_of(rule_pairs, st.tuples(sources, detail_types)), details)
                       .map(lambda pair_detail: (*pair_detail[0], pair_detail[1])),
                       min_size=1, max_size=6))
def test_every_event_reaches_exactly_the_targets_the_rules_promise(outputs, routes, processors,
                                                                   events):
    bus = outputs["EventBusName"]
    cases = [(entry(bus, (source, detail_type, detail)),
              {processors[rule] for rule in promised(source, detail_type)})
             for source, detail_type, detail in events]
    routes.assert_routes(cases, quiet=1.0)
