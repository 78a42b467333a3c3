"""Small, pinned fixes to LocalStack 4.8.1 behaviour, applied at start-up by :mod:`.run`.

Each one names the divergence it fixes; all are listed in docs/localstack-divergences.md.
"""

from __future__ import annotations

import os


def cap_first_empty_poll_backoff() -> None:
    """Make ``LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC`` cap the *first* backoff too.

    LocalStack's event-source worker backs off 1 s (±50 %) after the first empty poll whatever
    that setting says (``ExponentialBackoff`` returns ``initial_interval`` uncapped), so a message
    that arrives on an idle queue waits up to 1.5 s; AWS's pollers long-poll continuously.
    """
    from localstack.services.lambda_.event_source_mapping import esm_worker
    from localstack.utils.backoff import ExponentialBackoff

    class CappedExponentialBackoff(ExponentialBackoff):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.initial_interval = min(self.initial_interval, self.max_interval)

    esm_worker.ExponentialBackoff = CappedExponentialBackoff


def cap_cloudformation_poll_interval() -> None:
    """Poll a resource that is still being created every ``LSH_CFN_POLL_INTERVAL`` s (0.1), not 5 s.

    LocalStack's CloudFormation engine re-checks an in-progress resource (e.g. a Lambda function
    until it is Active, which takes ~100 ms here) only every 5 s, so each function in a stack
    costs 5 s of deploy time. The total time budget per resource stays the same.
    """
    from localstack.services.cloudformation import resource_provider

    interval = float(os.environ.get("LSH_CFN_POLL_INTERVAL", "0.1"))
    executor = resource_provider.ResourceProviderExecutor
    original = executor.deploy_loop

    def deploy_loop(self, provider, resource, raw_payload, max_timeout=None, sleep_time=5):
        kwargs = {} if max_timeout is None else {"max_timeout": max_timeout}
        return original(self, provider, resource, raw_payload,
                        sleep_time=min(sleep_time, interval), **kwargs)

    executor.deploy_loop = deploy_loop


def concurrent_sqs_event_source_batches() -> None:
    """Let an SQS event source mapping run several batches at once, as AWS's pollers do.

    LocalStack's SQS poller receives one batch, invokes the function synchronously, deletes the
    batch and only then receives the next: one batch in flight per mapping, so a busy queue is
    drained by one execution environment at a time. On AWS, Lambda polls an SQS queue with
    several pollers and invokes up to 5 batches at once from the start, scaling up to 1,000
    (or the mapping's ``ScalingConfig.MaximumConcurrency``, 2-1000).

    Here the mapping's single poller loop receives a batch only when one of its slots is free
    and hands it to a worker thread, so up to ``LSH_SQS_ESM_CONCURRENCY`` batches are invoked at
    once, each in its own execution environment (lowered by ``MaximumConcurrency`` when the
    mapping sets it; 1 gives LocalStack's serial behaviour back). The default is 2, AWS's lowest
    ``MaximumConcurrency``, not AWS's 5: LocalStack is one GIL-bound process, and once it is
    busy more batches at once only make each batch slower (measured on the reference pipeline,
    500 uploads: the same events/s with 1, 2 or 5, and more function timeouts with 5). Each
    batch is handled exactly as before (filtering, partial batch failures, deleting what
    succeeded), and received messages stay invisible while it runs. FIFO queues keep
    LocalStack's one-at-a-time handling (ordering per message group).
    """
    import logging
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from localstack.services.lambda_.event_source_mapping import esm_worker_factory
    from localstack.services.lambda_.event_source_mapping.pollers import sqs_poller
    from localstack.services.lambda_.event_source_mapping.pollers.poller import (
        EmptyPollResultsException,
    )
    from localstack.services.lambda_.event_source_mapping.senders.sender_utils import batched

    log = logging.getLogger(__name__)
    default_limit = max(1, int(os.environ.get("LSH_SQS_ESM_CONCURRENCY", "2")))
    SqsPoller = sqs_poller.SqsPoller
    original_poll_events = SqsPoller.poll_events
    original_close = SqsPoller.close
    original_get_worker = esm_worker_factory.EsmWorkerFactory.get_esm_worker

    def get_esm_worker(self):
        worker = original_get_worker(self)
        if isinstance(worker.poller, SqsPoller):
            limit = default_limit
            maximum = (self.esm_config.get("ScalingConfig") or {}).get("MaximumConcurrency")
            if maximum:
                limit = min(limit, int(maximum))
            worker.poller.lsh_concurrency = limit
        return worker

    def run_batch(poller, messages, slots):
        try:
            for message_batch in batched(messages, 2500):  # as LocalStack splits large batches
                try:
                    poller.handle_messages(message_batch)
                except Exception as e:  # as LocalStack's poll_events logs a failed batch
                    log.warning("Polling or batch processing failed: %s", e,
                                exc_info=log.isEnabledFor(logging.DEBUG))
        finally:
            slots.release()

    def poll_events(self) -> None:
        limit = getattr(self, "lsh_concurrency", 1)
        if limit <= 1 or self.is_fifo_queue:
            return original_poll_events(self)
        if getattr(self, "lsh_slots", None) is None:
            self.lsh_slots = threading.BoundedSemaphore(limit)
            self.lsh_pool = ThreadPoolExecutor(
                limit, thread_name_prefix=f"esm-sqs-batch-{self.queue_url.rsplit('/', 1)[-1]}")
        # receive only when a batch can start now (the loop comes back after its poll interval
        # and sees a shutdown in between)
        if not self.lsh_slots.acquire(timeout=0.5):
            return
        try:
            response = self.source_client.receive_message(  # LocalStack's own call
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(self.batch_size, sqs_poller.DEFAULT_MAX_RECEIVE_COUNT),
                WaitTimeSeconds=min(self.maximum_batching_window,
                                    sqs_poller.DEFAULT_MAX_WAIT_TIME_SECONDS),
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                sqs_override_max_message_count=self.batch_size,
                sqs_override_wait_time_seconds=self.maximum_batching_window,
            )
            messages = response.get("Messages", [])
            if not messages:
                raise EmptyPollResultsException(service="sqs", source_arn=self.source_arn)
            self.lsh_pool.submit(run_batch, self, messages, self.lsh_slots)
        except BaseException:
            self.lsh_slots.release()
            raise

    def close(self) -> None:
        pool = getattr(self, "lsh_pool", None)
        if pool is not None:
            pool.shutdown(wait=False)  # batches in flight finish on their own
        original_close(self)

    esm_worker_factory.EsmWorkerFactory.get_esm_worker = get_esm_worker
    SqsPoller.poll_events = poll_events
    SqsPoller.close = close


def in_memory_internal_clients() -> None:
    """LocalStack's own calls to SQS, SNS, Lambda, CloudWatch and Logs skip the HTTP round trip.

    Every internal call (S3 notification → SNS, SNS → SQS, the event-source poller's receive,
    invoke and delete, metrics, function logs) is by default a signed HTTP request to LocalStack's
    own port: botocore serializes and sends it, the Twisted server reads it and a gateway worker
    thread serves it. Under a load of small events that HTTP work is a large part of LocalStack's
    (single, GIL-bound) CPU. LocalStack's ``IN_MEMORY_CLIENT=1`` hands such requests to the gateway
    in-process, but with it creating a Lambda function from S3 code fails here (``[Errno 2]`` on a
    temporary file, seen deploying the reference pipeline), so it is applied here to the
    services named in ``LSH_IN_MEMORY_INTERNAL_CLIENTS`` only. Same handler chain,
    same results; only the socket is skipped. Nothing a client outside LocalStack sees changes.
    """
    from localstack import config
    from localstack.aws import connect
    from localstack.aws.client import GatewayShortCircuit, botocore_in_memory_endpoint_patch

    services = {name.strip() for name in os.environ.get(
        "LSH_IN_MEMORY_INTERNAL_CLIENTS", "sqs,sns,lambda,cloudwatch,logs").split(",")
        if name.strip()}
    if config.IN_MEMORY_CLIENT or not services:
        return
    botocore_in_memory_endpoint_patch.apply()  # lets requests carry their parameters
    factory = connect.InternalClientFactory
    original = factory._get_client_post_hook

    def _get_client_post_hook(self, client):
        client = original(self, client)
        if client.meta.service_model.service_name in services:
            from localstack.runtime import get_current_runtime

            GatewayShortCircuit.modify_client(client, get_current_runtime().components.gateway)
        return client

    factory._get_client_post_hook = _get_client_post_hook


def unsigned_in_memory_internal_clients() -> None:
    """Give in-memory internal requests (see :func:`in_memory_internal_clients`) a stub signature.

    botocore signs each of LocalStack's internal requests with SigV4 (canonical request, HMACs;
    ~2.5 % of LocalStack's CPU under the pipeline benchmark) though the request never leaves the
    process and LocalStack checks no signature: it reads only the access key (the account) and
    the region from the ``Authorization`` header's ``Credential=``. The stub header carries the
    same credential scope, ``X-Amz-Date`` and session token; the signature itself is zeros.
    Requests that go over HTTP (other services) are signed as before.
    """
    from datetime import datetime, timezone

    from localstack.aws.client import GatewayShortCircuit

    original = GatewayShortCircuit.modify_client

    def modify_client(client, gateway):
        original(client, gateway)
        signer = client._request_signer

        def sign(operation_name, request, region_name=None, signing_type="standard",
                 expires_in=None, signing_name=None):
            if signing_type != "standard":  # presigned URLs: the real thing
                return type(signer).sign(signer, operation_name, request, region_name,
                                         signing_type, expires_in, signing_name)
            credentials = signer._credentials
            if credentials is None:
                return
            frozen = credentials.get_frozen_credentials()
            now = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            scope = (f"{frozen.access_key}/{now[:8]}/{region_name or signer.region_name}/"
                     f"{signing_name or signer.signing_name}/aws4_request")
            headers = request.headers
            for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
                if name in headers:
                    del headers[name]
            headers["X-Amz-Date"] = now
            if frozen.token:
                headers["X-Amz-Security-Token"] = frozen.token
            headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={scope}, "
                                        f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}")

        signer.sign = sign

    GatewayShortCircuit.modify_client = staticmethod(modify_client)


def batch_sqs_cloudwatch_metrics() -> None:
    """Publish SQS's CloudWatch metrics once a second, not with one request per API call.

    LocalStack's SQS provider publishes ``NumberOfMessagesSent``, ``SentMessageSize``,
    ``NumberOfMessagesReceived``/``NumberOfEmptyReceives`` and ``NumberOfMessagesDeleted`` with one
    internal ``PutMetricData`` per SQS call (each an SQLite commit), which under load costs
    LocalStack as much CPU as the SQS calls themselves; AWS aggregates these metrics per minute.
    Here the values are collected and published every ``LSH_SQS_METRICS_INTERVAL`` s (1) as one
    ``PutMetricData`` with ``Values``/``Counts``: the same data points, stored the same way.
    """
    import threading
    import time
    from collections import Counter
    from datetime import datetime, timezone

    from localstack.aws.connect import connect_to
    from localstack.services.sqs import provider as sqs_provider

    interval = float(os.environ.get("LSH_SQS_METRICS_INTERVAL", "1"))
    dispatcher = sqs_provider.CloudwatchDispatcher
    original_init = dispatcher.__init__

    def __init__(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.lsh_lock = threading.Lock()
        self.lsh_pending: dict = {}
        threading.Thread(target=flush_loop, args=(self,), name="lsh-sqs-metrics",
                         daemon=True).start()

    def dispatch_sqs_metric(self, account_id, region, queue_name, metric, value=1,
                            unit="Count"):
        if not self.running:
            return
        with self.lsh_lock:
            values = self.lsh_pending.setdefault((account_id, region), {}).setdefault(
                (queue_name, metric, unit), Counter())
            values[value] += 1

    def flush_loop(self) -> None:
        while self.running:
            time.sleep(interval)
            with self.lsh_lock:
                pending, self.lsh_pending = self.lsh_pending, {}
            for (account_id, region), metrics in pending.items():
                try:
                    publish(account_id, region, metrics)
                except Exception as e:  # as LocalStack: a lost metric is logged, never raised
                    sqs_provider.LOG.info("Unable to put SQS metrics to CloudWatch: %s", e)

    def publish(account_id: str, region: str, metrics: dict) -> None:
        timestamp = datetime.now(timezone.utc)
        data = []
        for (queue_name, metric, unit), values in metrics.items():
            items = sorted(values.items())
            for start in range(0, len(items), 150):  # at most 150 values per datum
                chunk = items[start:start + 150]
                data.append({"MetricName": metric, "Unit": unit, "Timestamp": timestamp,
                             "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
                             "Values": [float(v) for v, _ in chunk],
                             "Counts": [float(c) for _, c in chunk]})
        client = connect_to(region_name=region, aws_access_key_id=account_id).cloudwatch
        for start in range(0, len(data), 1000):  # at most 1000 data per call
            client.put_metric_data(Namespace="AWS/SQS", MetricData=data[start:start + 1000])

    dispatcher.__init__ = __init__
    dispatcher.dispatch_sqs_metric = dispatch_sqs_metric


def fast_moto_item_copies() -> None:
    """Copy moto's DynamoDB items directly instead of through ``copy.deepcopy``'s generic path.

    moto deep-copies items on every ``UpdateItem`` (twice: the old item for the response and
    for the stream) and every ``Scan``/``Query`` result. The generic copy reconstructs each
    ``DynamoType`` through ``__reduce_ex__`` and refills the item's ``LimitedSizeDict``, whose
    ``__setitem__`` re-measures the whole item for every attribute (quadratic): a third of
    moto's time under load. These ``__deepcopy__`` methods give the same independent copies
    (a copy of an item that exists is within the size limit already).
    """
    import copy

    from moto.dynamodb.models import dynamo_type

    DynamoType, Item, LimitedSizeDict = (dynamo_type.DynamoType, dynamo_type.Item,
                                         dynamo_type.LimitedSizeDict)

    def copy_value(value, memo):
        if type(value) is DynamoType:
            return value.__deepcopy__(memo)
        if type(value) in (str, bytes, int, float, bool, type(None)):
            return value
        return copy.deepcopy(value, memo)

    def dynamo_type_deepcopy(self, memo):
        new = DynamoType.__new__(DynamoType)
        for name, value in self.__dict__.items():
            if name == "value" and type(value) is list:
                value = [copy_value(v, memo) for v in value]
            elif name == "value" and type(value) is dict:
                value = {k: copy_value(v, memo) for k, v in value.items()}
            else:
                value = copy_value(value, memo)
            new.__dict__[name] = value
        return new

    def item_deepcopy(self, memo):
        new = Item.__new__(Item)
        for name, value in self.__dict__.items():
            if name == "attrs" and type(value) is LimitedSizeDict:
                attrs = LimitedSizeDict()
                dict.update(attrs, {k: copy_value(v, memo) for k, v in value.items()})
                value = attrs
            else:
                value = copy_value(value, memo)
            new.__dict__[name] = value
        return new

    DynamoType.__deepcopy__ = dynamo_type_deepcopy
    Item.__deepcopy__ = item_deepcopy


def lean_request_log() -> None:
    """Log each AWS request's one line without copying its headers when nothing prints them.

    LocalStack's ``ResponseLogger`` builds every request's log record with copies of the request
    and response headers (``extra``), for internal calls too, whose logger is off by default
    (WARNING), and for the INFO line ``AWS sqs.SendMessage => 200``, whose default format prints
    none of them: only at ``LS_LOG=debug``/``trace`` do its loggers get the formatter that does.
    Here a disabled logger is skipped before anything is built and an INFO-only logger gets the
    same line without the header copies; with a DEBUG-enabled logger LocalStack's own code runs.
    The log reads the same at every level.
    """
    import logging

    from localstack.aws.handlers.logging import ResponseLogger

    original = ResponseLogger._log

    def _log(self, context, response):
        internal = context.is_internal_call
        if context.operation:
            logger = self.internal_aws_logger if internal else self.aws_logger
        else:
            logger = self.internal_http_logger if internal else self.http_logger
        if not logger.isEnabledFor(logging.INFO):
            return
        if logger.isEnabledFor(logging.DEBUG) or not context.operation:
            return original(self, context, response)
        extra = {"account_id": context.account_id, "region": context.region}
        if context.service_exception:
            logger.info("AWS %s.%s => %d (%s)", context.service.service_name,
                        context.operation.name, response.status_code,
                        context.service_exception.code, extra=extra)
        else:
            logger.info("AWS %s.%s => %s", context.service.service_name, context.operation.name,
                        response.status_code, extra=extra)

    ResponseLogger._log = _log


def cache_moto_method_names() -> None:
    """Find a moto response class's action methods once per class, not on every request.

    moto's ``BaseResponse.call_action`` lists the handler class's functions with
    ``inspect.getmembers`` for each request (~2 % of LocalStack's CPU under the pipeline
    benchmark, all of it DynamoDB). Classes do not change at run time: the list is the same.
    """
    from functools import lru_cache

    from moto.core import responses, utils

    responses.method_names_from_class = lru_cache(maxsize=None)(utils.method_names_from_class)


ESM_WORKER = "localstack.services.lambda_.event_source_mapping.esm_worker"
ESM_WORKER_FACTORY = "localstack.services.lambda_.event_source_mapping.esm_worker_factory"


def late_esm_patches() -> bool:
    """Patch the event-source worker when LocalStack first imports it (with the Lambda
    provider), not at start, where its import cost ~0.2-0.6 s of start -> ready
    (``LSH_LATE_ESM_PATCHES=0``: at start, as before)."""
    return os.environ.get("LSH_LATE_ESM_PATCHES", "1") != "0"


def apply_all() -> None:
    if late_esm_patches():
        from lsh_localstack_plugins.after_import import after_import

        from lsh_localstack_plugins import stream_bisect

        # the factory's import loads the pollers (stream_bisect patches the stream poller and
        # the factory: hooked on the stream poller, it would find the factory half-imported)
        after_import({ESM_WORKER: cap_first_empty_poll_backoff,
                      ESM_WORKER_FACTORY: [concurrent_sqs_event_source_batches,
                                           stream_bisect.bisect_on_function_error]})
    else:
        cap_first_empty_poll_backoff()
        concurrent_sqs_event_source_batches()
    cap_cloudformation_poll_interval()
    unsigned_in_memory_internal_clients()
    in_memory_internal_clients()
    batch_sqs_cloudwatch_metrics()
    lean_request_log()
    from lsh_localstack_plugins import events_replay, stream_bisect

    events_replay.apply()  # StartReplay and replayed events, when LocalStack loads EventBridge
    if not late_esm_patches():  # else with the factory, above
        stream_bisect.apply()  # BisectBatchOnFunctionError, when LocalStack loads its stream poller
    from lsh_localstack_plugins import events_target_dlq

    events_target_dlq.apply()  # failed target deliveries go to the target's DLQ, as on AWS
    from lsh_localstack_plugins import inline_code

    inline_code.apply()  # inline Lambda code (CDK's notifications handler) without `zip`
    from lsh_localstack_plugins import esm_push; esm_push.apply()  # SQS and DynamoDB Streams event sources woken on write
    from lsh_localstack_plugins import request_overhead; request_overhead.apply()  # LSH_LEAN_REQUESTS
    from lsh_localstack_plugins import lambda_metrics; lambda_metrics.apply()  # batched AWS/Lambda metrics
    # fast_moto_item_copies() is applied by our moto DynamoDB provider when it loads (moto's
    # import is not worth paying at start-up when no table is used), and so is
    # cache_moto_method_names()
