"""Which LocalStack services the deployer warms up for a set of templates."""

from harness.deploy.deployer import DEFAULT_WARM_UP, WARM_UP_CALLS, services_of


def test_services_come_from_resource_types_plus_cloudformation_and_s3():
    template = {"Resources": {
        "Q": {"Type": "AWS::SQS::Queue"}, "F": {"Type": "AWS::Lambda::Function"},
        "M": {"Type": "AWS::StepFunctions::StateMachine"}, "C": {"Type": "Custom::Thing"},
        "X": {"Type": "AWS::NotAService::Thing"}}}
    assert services_of([template]) == {"cloudformation", "s3", "sqs", "lambda", "stepfunctions"}


def test_ssm_only_when_a_parameter_reads_it():
    plain = {"Parameters": {"Size": {"Type": "Number", "Default": 1}}, "Resources": {}}
    assert "ssm" not in services_of([plain])
    bootstrap = {"Parameters": {"BootstrapVersion": {
        "Type": "AWS::SSM::Parameter::Value<String>", "Default": "/cdk-bootstrap/x/version"}}}
    assert "ssm" in services_of([bootstrap])


def test_every_warmed_service_has_a_cheap_call():
    assert set(DEFAULT_WARM_UP) <= set(WARM_UP_CALLS)
