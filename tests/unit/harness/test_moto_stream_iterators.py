"""``lsh_localstack_plugins.moto_stream_iterators.ShardIteratorStore``: moto's shard iterators
expire after the TTL and stay bounded per shard (pure Python: fake iterators and clock)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store_class(lsh_plugin):
    return lsh_plugin("moto_stream_iterators").ShardIteratorStore


def iterator(shard):
    return SimpleNamespace(stream_shard=shard)


def test_200_get_records_on_a_shard_keep_a_bounded_store(store_class):
    shard, clock = object(), Clock()
    store = store_class(ttl=900, per_shard=50, clock=clock)
    for i in range(200):  # each GetRecords stores the next iterator
        store[f"it-{i}"] = iterator(shard)
        clock.now += 0.05
    assert len(store) == 50
    assert list(store) == [f"it-{i}" for i in range(150, 200)]  # the newest
    assert store["it-199"].stream_shard is shard
    with pytest.raises(KeyError):
        store["it-0"]


def test_iterators_expire_after_the_ttl_and_a_fresh_one_works(store_class):
    shard, clock = object(), Clock()
    store = store_class(ttl=900, per_shard=1000, clock=clock)
    store["old"] = iterator(shard)
    clock.now += 899
    assert store["old"].stream_shard is shard
    clock.now += 1
    with pytest.raises(KeyError):  # expired, though not dropped yet
        store["old"]
    store["fresh"] = iterator(shard)  # a store drops what expired
    assert list(store) == ["fresh"]
    assert store["fresh"].stream_shard is shard


def test_a_busy_shard_does_not_evict_another_shards_iterator(store_class):
    busy, quiet, clock = object(), object(), Clock()
    store = store_class(ttl=900, per_shard=10, clock=clock)
    store["quiet"] = iterator(quiet)
    for i in range(100):
        store[f"busy-{i}"] = iterator(busy)
    assert store["quiet"].stream_shard is quiet
    assert len(store) == 11


def test_many_idle_polls_over_an_hour_stay_within_the_ttl(store_class):
    """Three mappings polling every second for an hour: about 15 minutes' worth is kept."""
    shards, clock = [object(), object(), object()], Clock()
    store = store_class(ttl=900, per_shard=100_000, clock=clock)
    for second in range(3600):
        for n, shard in enumerate(shards):
            store[f"{n}-{second}"] = iterator(shard)
        clock.now += 1
    assert len(store) == 3 * 900
