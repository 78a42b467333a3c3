"""Parse botocore's ``endpoints.json`` once per LocalStack process, not once per boto3 session.

Every new botocore session parses ``botocore/data/endpoints.json`` (1.2 MB, ~80 ms) the first
time it resolves an endpoint or lists regions, and LocalStack 4.8.1 makes new sessions all the
time: ``aws_stack.get_valid_regions_for_service`` (``boto3.Session()`` for each new store of
each service and account), moto's backends, ``boto3.client(...)`` in Lambda's layer and code
mapping, the internal client factories. In a py-spy profile of a deploy of the order-events app
(11 resources) those parses were 25 % of LocalStack's samples (``create_default_resolver`` →
``JSONFileLoader.load_file`` → ``json.loads``).

:func:`share_endpoint_data` caches what ``JSONFileLoader.load_file`` returns for the endpoints
and partitions files, by their path, for every loader of the process. The files never change
while LocalStack runs, and botocore only reads that data (``EndpointResolver``,
``get_available_regions``/``partitions``). Service models are not cached (they pass through
``service-data-loaded`` handlers that may change them). ``LSH_SHARE_ENDPOINTS=0`` turns it off.
"""

from __future__ import annotations

import os
import threading

#: data files whose parsed content is shared (names without ``.json``)
SHARED_FILES = ("endpoints", "partitions")


def share_endpoint_data() -> None:
    from botocore import loaders

    original = loaders.JSONFileLoader.load_file
    cache: dict[str, object] = {}
    lock = threading.Lock()

    def load_file(self, file_path):
        if os.path.basename(file_path) not in SHARED_FILES:
            return original(self, file_path)
        with lock:
            if file_path not in cache:
                cache[file_path] = original(self, file_path)
            return cache[file_path]

    loaders.JSONFileLoader.load_file = load_file
