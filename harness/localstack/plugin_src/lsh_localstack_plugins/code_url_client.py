"""One S3 client for the presigned URLs of Lambda code, not a new client per ``GetFunction``.

LocalStack 4.8.1's ``S3Code.generate_presigned_url`` builds a new ``boto3.client("s3")`` on every
call (~50-100 ms of CPU: botocore copies its event hooks and builds the endpoint rules), and
every ``GetFunction`` calls it for ``Code.Location``. CloudFormation's Lambda function provider
polls ``GetFunction`` until the function is Active (every 0.1 s here, see
``patches.cap_cloudformation_poll_interval``), so those clients were ~20 % of LocalStack's CPU
while the order-events app deployed (py-spy), and slowed the very function being waited for.

:func:`apply` keeps one client per endpoint URL (the other arguments are constants); a
presigned URL is still signed per call, with the same credentials, region and expiry.
``LSH_CODE_URL_CLIENT=0`` turns it off.
"""

from __future__ import annotations

import os
import threading

from lsh_localstack_plugins.after_import import after_import

MODULE = "localstack.services.lambda_.invocation.lambda_models"


def reuse_s3_client_for_code_urls() -> None:
    import boto3
    from localstack import config
    from localstack.constants import AWS_REGION_US_EAST_1, INTERNAL_AWS_SECRET_ACCESS_KEY
    from localstack.services.lambda_.invocation import lambda_models

    clients: dict[str, object] = {}
    lock = threading.Lock()

    def client_for(endpoint_url: str):
        with lock:
            if endpoint_url not in clients:
                clients[endpoint_url] = boto3.client(
                    "s3", region_name=AWS_REGION_US_EAST_1,
                    aws_access_key_id=config.INTERNAL_RESOURCE_ACCOUNT,
                    aws_secret_access_key=INTERNAL_AWS_SECRET_ACCESS_KEY,
                    endpoint_url=endpoint_url)
            return clients[endpoint_url]

    def generate_presigned_url(self, endpoint_url: str) -> str:
        params = {"Bucket": self.s3_bucket, "Key": self.s3_key}
        if self.s3_object_version:
            params["VersionId"] = self.s3_object_version
        return client_for(endpoint_url).generate_presigned_url("get_object", Params=params)

    lambda_models.S3Code.generate_presigned_url = generate_presigned_url


def apply() -> None:
    """Patch ``S3Code.generate_presigned_url`` once LocalStack loads Lambda's models."""
    if os.environ.get("LSH_CODE_URL_CLIENT", "1") != "0":
        after_import({MODULE: reuse_s3_client_for_code_urls})
