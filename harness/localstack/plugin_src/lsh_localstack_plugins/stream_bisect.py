"""``BisectBatchOnFunctionError`` for stream event source mappings (DynamoDB Streams, Kinesis),
which LocalStack 4.8.1 accepts but ignores (``StreamPoller.bisect_events``: "not implemented").

Without it a batch that fails is retried whole and, once its retries are spent, goes to the
on-failure destination whole: one poison record takes the good records of its batch (other
accounts' events, say) down with it. AWS splits a failing batch in two and retries each half, so
the poison record ends alone in the DLQ and the others are processed.

(The setting does not even reach LocalStack's poller: the worker factory leaves it out.) Here,
with the setting on, a batch of two or more records is tried once; if the function fails,
each half is handled the same way in order (recursively), and a single record gets LocalStack's
own handling (its retries, ``MaximumRetryAttempts``, the on-failure destination). Partial batch
responses (``ReportBatchItemFailures``) keep LocalStack's handling.
"""

from __future__ import annotations

import copy
import logging

from lsh_localstack_plugins.events_replay import after_import

LOG = logging.getLogger(__name__)
STREAM_POLLER = "localstack.services.lambda_.event_source_mapping.pollers.stream_poller"


def bisect_on_function_error() -> None:
    from localstack.services.lambda_.event_source_mapping import esm_worker_factory
    from localstack.services.lambda_.event_source_mapping.event_processor import (
        BatchFailureError,
        PartialBatchFailureError,
    )
    from localstack.services.lambda_.event_source_mapping.pollers.stream_poller import (
        StreamPoller,
    )

    # the factory does not pass the mapping's setting on to the poller: mark the poller
    factory = esm_worker_factory.EsmWorkerFactory
    get_esm_worker = factory.get_esm_worker

    def get_esm_worker_marked(self):
        worker = get_esm_worker(self)
        if isinstance(worker.poller, StreamPoller):
            worker.poller.lsh_bisect = bool(self.esm_config.get("BisectBatchOnFunctionError"))
        return worker

    factory.get_esm_worker = get_esm_worker_marked
    original = StreamPoller.forward_events_to_target

    def forward_events_to_target(self, shard_id, records):
        if not getattr(self, "lsh_bisect", False) or len(records) < 2:
            return original(self, shard_id, records)
        # transforming changes the records in place (times become floats): keep them for the halves
        events = self.post_filter(self.filter_events(self.pre_filter(
            self.transform_into_events(copy.deepcopy(records), shard_id))))
        if not events:
            return None
        try:
            self.processor.process_events_batch(self.add_source_metadata(events))
            return None
        except PartialBatchFailureError:
            return original(self, shard_id, records)
        except BatchFailureError:
            LOG.debug("batch of %d records from %s failed: bisecting", len(records),
                      self.source_arn)
        half = len(records) // 2
        forward_events_to_target(self, shard_id, records[:half])
        forward_events_to_target(self, shard_id, records[half:])
        return None

    StreamPoller.forward_events_to_target = forward_events_to_target


def apply() -> None:
    """Install the bisection when LocalStack first loads its stream poller."""
    after_import(STREAM_POLLER, bisect_on_function_error)
