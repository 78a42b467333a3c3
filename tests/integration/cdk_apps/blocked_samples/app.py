"""A CDK app made of what stopped public sample apps from deploying into LocalStack unchanged:
``bucket.add_event_notification`` (CDK's custom resource, a Python handler),
``auto_delete_objects``, ``log_retention`` and ``AwsCustomResource`` (CDK's Node.js handlers), the
``Provider`` framework with ``on_event``/``is_complete``, a team's own Python custom resource,
a ``python3.14`` and a Node.js function, a ``CfnParameter`` without a default. Nothing here
knows about LocalStack.

Flow: an object uploaded to the bucket -> S3 notification -> queue -> function -> table item
(holding the ``Owner`` parameter's value).
"""

import os

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from aws_cdk import custom_resources as cr

HANDLERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "handlers")

app = cdk.App()
stack = cdk.Stack(app, "LshBlockedSamples", synthesizer=cdk.DefaultStackSynthesizer(
    generate_bootstrap_version_rule=False))
owner = cdk.CfnParameter(stack, "Owner", type="String",
                         description="who owns the uploads (no default: must be passed)")

uploads = s3.Bucket(stack, "Uploads", auto_delete_objects=True,
                    removal_policy=cdk.RemovalPolicy.DESTROY)
queue = sqs.Queue(stack, "UploadEvents", visibility_timeout=cdk.Duration.seconds(30))
uploads.add_event_notification(s3.EventType.OBJECT_CREATED, s3n.SqsDestination(queue))

table = dynamodb.Table(stack, "Uploaded", billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                       partition_key=dynamodb.Attribute(name="key",
                                                        type=dynamodb.AttributeType.STRING),
                       removal_policy=cdk.RemovalPolicy.DESTROY)
record = lambda_.Function(stack, "RecordUpload", runtime=lambda_.Runtime.PYTHON_3_14,
                          handler="record.handler", code=lambda_.Code.from_asset(HANDLERS),
                          environment={"TABLE": table.table_name, "OWNER": owner.value_as_string})
table.grant_write_data(record)
record.add_event_source(sources.SqsEventSource(queue, batch_size=5))

# a team's own custom resource, handled in Python
motto_fn = lambda_.Function(stack, "MottoHandler", runtime=lambda_.Runtime.PYTHON_3_12,
                            handler="motto.handler", code=lambda_.Code.from_asset(HANDLERS))
motto = cdk.CustomResource(stack, "Motto", service_token=motto_fn.function_arn,
                           properties={"Words": ["upload", "and", "record"]})
cdk.CfnOutput(stack, "MottoText", value=motto.get_att_string("Text"))
# a Node.js function whose log group retention CDK sets through its Custom::LogRetention
greeter = lambda_.Function(stack, "Greeter", runtime=lambda_.Runtime.NODEJS_22_X,
                           handler="index.handler", log_retention=logs.RetentionDays.ONE_WEEK,
                           code=lambda_.Code.from_inline(
                               "exports.handler = async (e) => ({greeting: 'hello ' + e.name});"))

# an SDK call at deploy time: the queue's visibility timeout, read back through AwsCustomResource
visibility = cr.AwsCustomResource(
    stack, "QueueVisibility",
    on_update=cr.AwsSdkCall(service="SQS", action="getQueueAttributes",
                            parameters={"QueueUrl": queue.queue_url,
                                        "AttributeNames": ["VisibilityTimeout"]},
                            physical_resource_id=cr.PhysicalResourceId.of("queue-visibility")),
    policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=[queue.queue_arn]))
cdk.CfnOutput(stack, "QueueVisibilityTimeout",
              value=visibility.get_response_field("Attributes.VisibilityTimeout"))

# the Provider framework: Python on_event / is_complete behind CDK's Node.js framework functions
# and its Step Functions waiter (is_complete asked every second until it says done)
provider = cr.Provider(
    stack, "SlowProvider", query_interval=cdk.Duration.seconds(1),
    total_timeout=cdk.Duration.minutes(2),
    on_event_handler=lambda_.Function(stack, "SlowOnEvent", runtime=lambda_.Runtime.PYTHON_3_12,
                                      handler="slow.on_event",
                                      code=lambda_.Code.from_asset(HANDLERS)),
    is_complete_handler=lambda_.Function(stack, "SlowIsComplete",
                                         runtime=lambda_.Runtime.PYTHON_3_12,
                                         handler="slow.is_complete",
                                         code=lambda_.Code.from_asset(HANDLERS)))
slow = cdk.CustomResource(stack, "Slow", service_token=provider.service_token,
                          properties={"Seconds": 2})
cdk.CfnOutput(stack, "SlowReady", value=slow.get_att_string("Ready"))
app.synth()
