"""What every reference app's stack shares: context-driven tuning, outputs, the synthesizer."""

from __future__ import annotations

import dataclasses
from typing import Mapping, TypeVar

import aws_cdk as cdk
from constructs import Node

T = TypeVar("T")


def tuning_from_context(cls: type[T], node: Node) -> T:
    """A tuning dataclass whose fields each come from the CDK context value of the same name
    (``-c name=value`` or ``cdk.json``, converted to the type of the field's default), else the
    field's default (which suits AWS)."""
    values = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        value = node.try_get_context(field.name)
        if value is not None:
            kind = type(field.default) if field.default is not dataclasses.MISSING else int
            values[field.name] = kind(value)
    return cls(**values)


def add_outputs(stack: cdk.Stack, outputs: Mapping[str, str]) -> None:
    """One ``CfnOutput`` per entry, named as the key."""
    for name, value in outputs.items():
        cdk.CfnOutput(stack, name, value=value)


def standalone_synthesizer() -> cdk.DefaultStackSynthesizer:
    """No BootstrapVersion parameter or rule: the template deploys through the CDK CLI and
    through plain CloudFormation alike (updates keep no stale parameters)."""
    return cdk.DefaultStackSynthesizer(generate_bootstrap_version_rule=False)
