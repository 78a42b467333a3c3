"""Publish Lambda's per-invocation CloudWatch metrics once a second, not with a thread and a
request per invocation.

LocalStack 4.8.1 records ``AWS/Lambda`` ``Invocations`` (and ``Errors`` for a failed invocation)
by starting a new thread per invocation that makes one internal ``PutMetricData`` call each
(and keeps the finished thread in its ``TMP_THREADS`` list until shutdown). An internal call
costs ~1.5 ms of LocalStack's CPU, so with one message per batch or direct invokes this is one
extra request per event. AWS aggregates these metrics per minute. Here each invocation adds to a
counter (per account, region, function and metric) and a flusher publishes them every
``LSH_LAMBDA_METRICS_INTERVAL`` s (1) as one ``PutMetricData`` per account and region, with
``Values``/``Counts``: the same data points (sum and sample count), dimension ``FunctionName``
as LocalStack sets it, timestamped at the flush. ``LSH_LAMBDA_METRICS_INTERVAL=0`` keeps
LocalStack's own way.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from datetime import datetime, timezone

LOG = logging.getLogger(__name__)
INTERVAL_VAR = "LSH_LAMBDA_METRICS_INTERVAL"
#: LocalStack names its per-invocation metric threads so (version_manager.invoke)
METRIC_THREAD_PREFIX = "record-cloudwatch-metric"


class LambdaMetricBatcher:
    """Counts per (account, region) → (function, metric); ``flush`` publishes and clears."""

    def __init__(self, publish) -> None:
        self._publish = publish
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], Counter] = {}

    def add(self, account_id: str, region: str, function_name: str, *metrics: str) -> None:
        with self._lock:
            counts = self._pending.setdefault((account_id, region), Counter())
            for metric in metrics:
                counts[(function_name, metric)] += 1

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for (account_id, region), counts in pending.items():
            try:
                self._publish(account_id, region, counts)
            except Exception as e:  # as LocalStack: a lost metric is logged, never raised
                LOG.info("Unable to put Lambda metrics to CloudWatch: %s", e)


def publish(account_id: str, region: str, counts: Counter) -> None:
    from localstack.aws.connect import connect_to
    from localstack.utils.bootstrap import is_api_enabled
    from localstack.utils.cloudwatch.cloudwatch_util import dimension_lambda

    if not is_api_enabled("cloudwatch"):  # as publish_lambda_metric
        return
    timestamp = datetime.now(timezone.utc)
    data = [{"MetricName": metric, "Dimensions": dimension_lambda({"func_name": function_name}),
             "Timestamp": timestamp, "Values": [1.0], "Counts": [float(count)]}
            for (function_name, metric), count in sorted(counts.items())]
    client = connect_to(aws_access_key_id=account_id, region_name=region).cloudwatch
    for start in range(0, len(data), 1000):  # at most 1000 data per call
        client.put_metric_data(Namespace="AWS/Lambda", MetricData=data[start:start + 1000])


def batch_lambda_metrics(interval: float) -> LambdaMetricBatcher:
    from localstack.runtime.shutdown import SHUTDOWN_HANDLERS
    from localstack.services.lambda_.invocation import version_manager

    batcher = LambdaMetricBatcher(publish)
    stopped = threading.Event()

    def flush_loop() -> None:
        while not stopped.wait(interval):
            batcher.flush()

    def record_cw_metric_invocation(function_name: str, account_id: str, region_name: str):
        batcher.add(account_id, region_name, function_name, "Invocations")

    def record_cw_metric_error(function_name: str, account_id: str, region_name: str):
        batcher.add(account_id, region_name, function_name, "Invocations", "Errors")

    original_start_thread = version_manager.start_thread

    def start_thread(method, *args, **kwargs):
        if str(kwargs.get("name") or "").startswith(METRIC_THREAD_PREFIX):
            method()  # only counts now (the functions above): no thread needed
            return None
        return original_start_thread(method, *args, **kwargs)

    version_manager.record_cw_metric_invocation = record_cw_metric_invocation
    version_manager.record_cw_metric_error = record_cw_metric_error
    version_manager.start_thread = start_thread
    threading.Thread(target=flush_loop, name="lsh-lambda-metrics", daemon=True).start()
    SHUTDOWN_HANDLERS.register(stopped.set)
    return batcher


def apply() -> None:
    interval = float(os.environ.get(INTERVAL_VAR, "1") or 0)
    if interval > 0:
        batch_lambda_metrics(interval)
