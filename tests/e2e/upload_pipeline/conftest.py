"""The upload pipeline (seed 003), deployed once per session into the session's LocalStack."""

from __future__ import annotations

import pytest

from harness.taps import TopicTap
from tests.e2e.apps import reference_app
from tests.e2e.upload_pipeline.client import NotificationInbox, PipelineClient

#: retries 3 s apart (the queues' visibility timeout), so poison reaches its DLQ in ~10 s
E2E_CONTEXT = {"retry_delay_seconds": "3"}


@pytest.fixture(scope="session")
def stack(deploy):
    """The deployed app: ``stack.outputs[...]``, ``stack.api_url(path)``."""
    return deploy(reference_app("upload_pipeline", E2E_CONTEXT))


@pytest.fixture(scope="session")
def pipeline(stack):
    """The same as ``stack`` (the name the pipeline's tests grew up with)."""
    return stack


@pytest.fixture(scope="session")
def client(localstack, pipeline) -> PipelineClient:
    return PipelineClient(localstack, pipeline.outputs)


@pytest.fixture(scope="session")
def inbox(localstack, pipeline):
    inbox = NotificationInbox(localstack, pipeline.outputs["NotificationTopicArn"])
    yield inbox
    inbox.close()


@pytest.fixture(scope="session")
def topic_tap(localstack, pipeline):
    """Every message published to the pipeline topic (what the ingest queue receives)."""
    tap = TopicTap(localstack, pipeline.outputs["TopicArn"])
    yield tap
    tap.close()
