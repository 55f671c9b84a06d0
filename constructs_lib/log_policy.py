"""Every log group of a stack KMS-encrypted and retained by tier, including generated ones.

Our constructs create their log groups with the logs key and the tier's retention. Code we
do not write (CDK's custom-resource handlers, CDK-managed Lambda log groups, constructs of
a compute method) may not; ``enforce_log_group_policy`` closes those gaps once, at the end
of the stack, so no log group is unencrypted or kept forever, and no log-retention Lambda
is ever needed. Nested stacks (EKS's kubectl provider, for one) are covered too.
"""

from __future__ import annotations

import re

from aws_cdk import CfnResource, NestedStack, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs


def enforce_log_group_policy(
    stack: Stack,
    *,
    key: kms.IKey,
    retention: logs.RetentionDays,
    retention_days: int,
    removal_policy: RemovalPolicy,
    function_log_group_name: str,
) -> list[logs.LogGroup]:
    """Apply the log policy to every construct in ``stack`` and its nested stacks.

    - every log group is encrypted with ``key`` (unless it names a key already) and keeps
      its events ``retention_days`` (the tier's value; CDK's own default of two years for
      Lambda log groups is overridden);
    - a Lambda function that would log to a group nobody declared (Lambda creates
      ``/aws/lambda/<name>`` at first invocation, unencrypted and never expiring) logs
      instead to one shared, encrypted group per (nested) stack.

    Returns the shared groups created (none when every function already had a group).
    """
    declared: set[tuple[str, str]] = set()  # (stack path, function logical id) with a declared group
    functions: list[CfnResource] = []
    for node in stack.node.find_all():
        if isinstance(node, logs.CfnLogGroup):
            if node.kms_key_id is None:
                node.kms_key_id = key.key_arn
            node.retention_in_days = retention_days
            owner = _default_group_owner(node)
            if owner is not None:
                declared.add((Stack.of(node).node.path, owner))
        elif isinstance(node, lambda_.CfnFunction):
            if node.logging_config is None:
                functions.append(node)
        elif isinstance(node, CfnResource) and node.cfn_resource_type == "AWS::Lambda::Function":
            # CDK's CustomResourceProvider handlers: raw resources that never set LoggingConfig.
            functions.append(node)

    shared: dict[str, logs.LogGroup] = {}
    for function in functions:
        owner_stack = Stack.of(function)
        if (owner_stack.node.path, owner_stack.resolve(owner_stack.get_logical_id(function))) in declared:
            continue
        group = shared.get(owner_stack.node.path)
        if group is None:
            name = function_log_group_name
            if isinstance(owner_stack, NestedStack):
                name += "-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", owner_stack.node.id).strip("-").lower()
            group = logs.LogGroup(
                owner_stack,
                "GeneratedFunctionLogs",
                log_group_name=name,
                encryption_key=key,
                retention=retention,
                removal_policy=removal_policy,
            )
            shared[owner_stack.node.path] = group
        function.add_property_override("LoggingConfig.LogGroup", group.log_group_name)
        function.add_resource_dependency(group.node.default_child)  # type: ignore[arg-type]
    return list(shared.values())


def _default_group_owner(group: logs.CfnLogGroup) -> str | None:
    """The logical id of the function whose default group (``/aws/lambda/<function>``) this is."""
    name = Stack.of(group).resolve(group.log_group_name)
    if isinstance(name, dict) and "Fn::Join" in name:
        separator, parts = name["Fn::Join"]
        if separator == "" and len(parts) == 2 and parts[0] == "/aws/lambda/" and isinstance(parts[1], dict):
            ref = parts[1].get("Ref")
            return ref if isinstance(ref, str) else None
    return None


__all__ = ["enforce_log_group_policy"]
