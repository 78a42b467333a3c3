"""The reference pipeline, deployed once per session into the session's LocalStack."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.deploy import CdkApp
from harness.pipeline_client import NotificationInbox, PipelineClient, TopicTap

REPO = Path(__file__).resolve().parents[2]
#: retries 3 s apart (the queues' visibility timeout), so poison reaches its DLQ in ~10 s
E2E_CONTEXT = {"retry_delay_seconds": "3"}


@pytest.fixture(scope="session")
def cdk_app() -> CdkApp:
    return CdkApp(REPO, context=E2E_CONTEXT, sources=[REPO / "infra", REPO / "functions"])


@pytest.fixture(scope="session")
def pipeline(deployed_app):
    """The deployed stack: ``pipeline.outputs[...]``, ``pipeline.api_url(path)``."""
    return deployed_app


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
