"""GetFunction's ``Code.Location`` still downloads the function's code with one shared S3 client
(lsh_localstack_plugins.code_url_client: LocalStack built a new client per call)."""

from __future__ import annotations

import urllib.request
import uuid

from tests.integration.conftest import make_zip

ROLE = "arn:aws:iam::000000000000:role/lsh-code-url"


def test_code_location_of_each_function_downloads_its_own_code(localstack):
    lam = localstack.client("lambda")
    codes = {}
    for i in range(2):
        name = f"lsh-code-url-{uuid.uuid4().hex[:8]}"
        codes[name] = make_zip({"app.py": f"def handler(event, context):\n    return {i}\n"})
        lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler",
                            Role=ROLE, Code={"ZipFile": codes[name]})
    try:
        for _ in range(2):  # the second round uses the client the first one made
            for name, code in codes.items():
                location = lam.get_function(FunctionName=name)["Code"]["Location"]
                assert "Signature=" in location, location  # presigned
                with urllib.request.urlopen(location, timeout=30) as response:
                    assert response.read() == code, f"{name}: Code.Location served other bytes"
    finally:
        for name in codes:
            lam.delete_function(FunctionName=name)
