"""LocalStack answers the same with and without the per-request shortcuts of
``lsh_localstack_plugins.request_overhead`` (``LSH_LEAN_REQUESTS``).

Two LocalStacks: the session's (shortcuts on, the default) and one of this module's with
``LSH_LEAN_REQUESTS=0``. The same raw HTTP requests go to both, chosen to cross each shortcut:
POSTs with simple and unusual ``Content-Type`` values (twisted's form parsing), ``Accept``
negotiation of the response format (the cached mime type), URLs near the ``/_localstack``
resources (the skipped router match), a multipart/form-data S3 upload, and an internal delivery
(SNS → SQS through LocalStack's in-memory client, whose user agent is cached).
"""

from __future__ import annotations

import json
import shutil
import uuid

import pytest
import requests

from harness.errors import LocalStackStartError
from harness.localstack import EmbeddedBackend
from harness.waits import eventually
from tests.integration.conftest import unique

pytestmark = pytest.mark.integration

#: (Accept header or None) for SQS's query protocol: XML unless JSON is asked for
ACCEPTS = [None, "*/*", "application/json", "text/xml", "application/xml",
           "application/xml;q=0.5, application/json", "text/html", "APPLICATION/JSON"]
#: Content-Type values of a form-encoded query-protocol POST; the odd ones take twisted's own
#: parser, the plain ones the shortcut
CONTENT_TYPES = ["application/x-www-form-urlencoded",
                 "application/x-www-form-urlencoded; charset=utf-8",
                 "Application/X-WWW-Form-Urlencoded ; charset=\"utf-8\"",
                 "application/x-www-form-urlencoded; charset",
                 "text/plain"]
PATHS = ["/_localstack/health", "//_localstack/health", "/_localstack/nope", "/_localstack",
         "/%5Flocalstack/health", "/_localstackx", "/not-a-route"]


@pytest.fixture(scope="module")
def plain_localstack():
    """A LocalStack without the shortcuts."""
    backend = EmbeddedBackend(settings={"LSH_LEAN_REQUESTS": "0"})
    try:
        yield backend.start()
    finally:
        backend.stop()


@pytest.fixture(scope="module")
def both(localstack, plain_localstack):
    return {"lean": localstack, "plain": plain_localstack}


def _auth(service: str) -> dict[str, str]:
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/"
            "aws4_request, SignedHeaders=host, Signature=0"}


def _shape(response: requests.Response) -> tuple:
    """What must match: status, the media type, and the body's first element (XML root or
    JSON keys), without request ids and other per-call values."""
    media = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    body = response.text.strip()
    if media.endswith("json") and body:
        try:
            first = tuple(sorted(json.loads(body)))
        except ValueError:
            first = body[:40]
    else:
        if body.startswith("<?xml"):
            body = body.split("?>", 1)[-1].strip()
        first = body.split(">", 1)[0].split(" xmlns", 1)[0] if body.startswith("<") else body[:40]
    return response.status_code, media, first


@pytest.mark.parametrize("accept", ACCEPTS)
def test_sqs_answers_in_the_format_asked_for_as_without_the_shortcuts(both, accept):
    shapes = {}
    for name, ls in both.items():
        headers = {**_auth("sqs"), "Content-Type": "application/x-www-form-urlencoded"}
        if accept is not None:
            headers["Accept"] = accept
        response = requests.post(ls.endpoint_url + "/", data="Action=ListQueues&Version=2012-11-05",
                                 headers=headers, timeout=30)
        shapes[name] = _shape(response)
    assert shapes["lean"] == shapes["plain"]
    assert shapes["lean"][0] == 200


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_sns_reads_a_form_post_whatever_its_content_type_as_without_the_shortcuts(
        both, content_type):
    shapes, names = {}, {}
    for name, ls in both.items():
        topic = unique("lsh-lean")
        names[name] = topic
        response = requests.post(
            ls.endpoint_url + "/", data=f"Action=CreateTopic&Name={topic}&Version=2010-03-31",
            headers={**_auth("sns"), "Content-Type": content_type}, timeout=30)
        shapes[name] = _shape(response)
    assert shapes["lean"] == shapes["plain"]
    if shapes["lean"][0] == 200:  # created: it is there
        arns = [t["TopicArn"] for t in both["lean"].client("sns").list_topics()["Topics"]]
        assert any(arn.endswith(":" + names["lean"]) for arn in arns)


@pytest.mark.parametrize("path", PATHS)
def test_urls_near_the_localstack_resources_route_as_without_the_shortcuts(both, path):
    shapes = {name: _shape(requests.get(ls.endpoint_url + path, timeout=30))
              for name, ls in both.items()}
    assert shapes["lean"] == shapes["plain"]


def test_the_health_route_still_answers(localstack):
    response = requests.get(localstack.endpoint_url + "/_localstack/health", timeout=30)
    assert response.status_code == 200
    assert "services" in response.json()


def test_a_multipart_form_upload_to_s3_lands(localstack):
    s3 = localstack.client("s3")
    bucket = unique("lsh-lean")
    s3.create_bucket(Bucket=bucket)
    key = f"form/{uuid.uuid4().hex}.txt"
    post = s3.generate_presigned_post(bucket, key)
    response = requests.post(post["url"], data=post["fields"],
                             files={"file": ("a.txt", b"multipart body")}, timeout=30)
    assert response.status_code in (200, 201, 204), response.text
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"multipart body"


def test_an_internal_sns_to_sqs_delivery_arrives(localstack):
    sns, sqs = localstack.client("sns"), localstack.client("sqs")
    topic = sns.create_topic(Name=unique("lsh-lean"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("lsh-lean"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})
    body = uuid.uuid4().hex
    sns.publish(TopicArn=topic, Message=body)

    def received():
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
        return [m["Body"] for m in messages] or None

    assert eventually(received, 30, description="the SNS message on the queue") == [body]


def test_a_bad_setting_is_named_at_start():
    backend = EmbeddedBackend(settings={"LSH_LEAN_REQUESTS": "mime_type,bogus"})
    with pytest.raises(LocalStackStartError) as failed:
        backend.start()
    assert "LSH_LEAN_REQUESTS: unknown bogus; use 1, 0 or some of" in failed.value.log_tail
    if backend.log_dir:  # kept for a failed start; this one failed on purpose
        shutil.rmtree(backend.log_dir, ignore_errors=True)

