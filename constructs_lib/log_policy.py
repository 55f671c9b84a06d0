"""Every log group of a stack KMS-encrypted and retained by tier, including generated ones.

Our constructs create their log groups with the logs key and the tier's retention. Code we
do not write (CDK's custom-resource handlers, CDK-managed Lambda log groups, constructs of
a compute method) may not; ``enforce_log_group_policy`` closes those gaps once, at the end
of the stack, so no log group is unencrypted or kept forever, and no log-retention Lambda
is ever needed.
"""

from __future__ import annotations

from aws_cdk import CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct


def enforce_log_group_policy(
    stack: Stack,
    *,
    key: kms.IKey,
    retention: logs.RetentionDays,
    retention_days: int,
    removal_policy: RemovalPolicy,
    function_log_group_name: str,
) -> logs.LogGroup | None:
    """Apply the log policy to every construct in ``stack``; returns the log group created
    for Lambda functions that had none (None when every function already had one).

    - a log group without a KMS key gets ``key``; without retention, ``retention_days``;
    - a Lambda function without ``LoggingConfig`` logs to one shared, encrypted log group
      instead of the ``/aws/lambda/<name>`` group Lambda would create unencrypted and
      without expiry at first invocation.
    """
    functions: list[CfnResource] = []
    for node in stack.node.find_all():
        if isinstance(node, logs.CfnLogGroup):
            if node.kms_key_id is None:
                node.kms_key_id = key.key_arn
            if node.retention_in_days is None:
                node.retention_in_days = retention_days
        elif isinstance(node, lambda_.CfnFunction):
            if node.logging_config is None:
                functions.append(node)
        elif isinstance(node, CfnResource) and node.cfn_resource_type == "AWS::Lambda::Function":
            # CDK's CustomResourceProvider handlers: raw resources that never set LoggingConfig.
            functions.append(node)
    if not functions:
        return None
    scope: Construct = stack
    group = logs.LogGroup(
        scope,
        "GeneratedFunctionLogs",
        log_group_name=function_log_group_name,
        encryption_key=key,
        retention=retention,
        removal_policy=removal_policy,
    )
    for function in functions:
        function.add_property_override("LoggingConfig.LogGroup", group.log_group_name)
        function.add_resource_dependency(group.node.default_child)  # type: ignore[arg-type]
    return group


__all__ = ["enforce_log_group_policy"]
