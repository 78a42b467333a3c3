"""DynamoDB and DynamoDB Streams served by moto inside LocalStack.

LocalStack's own DynamoDB provider downloads DynamoDB Local (Java) and an agent jar from GitHub
at first use, which cannot work offline. moto (bundled with LocalStack as ``moto-ext``) implements
the same API in-process. Selected with ``PROVIDER_OVERRIDE_DYNAMODB=moto`` and
``PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto``.
"""

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.aws.api.dynamodbstreams import DynamodbstreamsApi
from localstack.services.plugins import Service, aws_provider


class MotoDynamoDBProvider(DynamodbApi):
    """Every operation falls through to moto's DynamoDB backend."""


class MotoDynamoDBStreamsProvider(DynamodbstreamsApi):
    """Every operation falls through to moto's DynamoDB Streams backend."""


@aws_provider(api="dynamodb", name="moto")
def dynamodb_moto():
    from localstack.services.moto import MotoFallbackDispatcher

    from lsh_localstack_plugins.patches import cache_moto_method_names, fast_moto_item_copies

    fast_moto_item_copies()
    cache_moto_method_names()
    from lsh_localstack_plugins.moto_dynamodb_locks import serialize_dynamodb_requests

    serialize_dynamodb_requests()  # conditional writes atomic, as on AWS

    return Service.for_provider(MotoDynamoDBProvider(), dispatch_table_factory=MotoFallbackDispatcher)


@aws_provider(api="dynamodbstreams", name="moto")
def dynamodbstreams_moto():
    from localstack.services.moto import MotoFallbackDispatcher

    from lsh_localstack_plugins.moto_stream_iterators import bound_shard_iterators

    bound_shard_iterators()  # shard iterators expire after 15 minutes, as on AWS
    return Service.for_provider(
        MotoDynamoDBStreamsProvider(), dispatch_table_factory=MotoFallbackDispatcher
    )
