"""Availability zones are configuration: tell cdk-nag's CloudFormation validation and cfn-lint."""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

CONFIGURED_ZONE_REASON = (
    "Availability zones are configuration (config/environments.yaml), validated against the region at synth, "
    "so synth needs no AWS call and resources never move between zones."
)


def mark_configured_zone(construct: IConstruct) -> None:
    """Accept W3010 (hard-coded zone) on ``construct``'s CloudFormation resource, with the reason."""
    cfn = construct.node.default_child if not isinstance(construct, CfnResource) else construct
    assert isinstance(cfn, CfnResource), construct.node.path
    Validations.of(cfn).acknowledge(Acknowledgment(id="CloudFormation-Validate::W3010", reason=CONFIGURED_ZONE_REASON))
    cfn.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3010"]}})
