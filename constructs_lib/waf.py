"""A regional WAF web ACL in front of the load balancer (the guide's "AWS WAF in front of the ALB").

WAFv2 has no L2 construct; this small typed wrapper holds the L1 resources (web ACL,
association, logging configuration) so no raw WAF property is scattered elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct


@dataclass(frozen=True)
class ManagedRuleGroup:
    """An AWS managed rule group and the rules of it that only count (never block).

    Attributes:
        name: AWS's rule group name.
        count_only: rules overridden to COUNT, each with the reason in a comment below.
    """

    name: str
    count_only: tuple[str, ...] = ()


# Evaluated in this order, after the rate limit. CommonRuleSet's SizeRestrictions_BODY
# blocks request bodies over 8 KB; Corridor uploads datasets and sends long prompts
# through corridor-app, so that one rule only counts (its matches still appear in the logs).
MANAGED_RULE_GROUPS: tuple[ManagedRuleGroup, ...] = (
    ManagedRuleGroup("AWSManagedRulesAmazonIpReputationList"),
    ManagedRuleGroup("AWSManagedRulesCommonRuleSet", count_only=("SizeRestrictions_BODY",)),
    ManagedRuleGroup("AWSManagedRulesKnownBadInputsRuleSet"),
    ManagedRuleGroup("AWSManagedRulesSQLiRuleSet"),
)

RATE_RULE_NAME = "RateLimitPerIp"
# Headers that carry credentials are redacted from the WAF logs.
REDACTED_HEADERS = ("authorization", "cookie")


class LoadBalancerFirewall(Construct):
    """A web ACL on ``resource_arn`` (the ALB) with AWS managed rules, a per-IP rate limit and logging.

    Args:
        name: web ACL name, also the CloudWatch metric prefix (``corridor-prod-web-acl``).
        resource_arn: the load balancer's ARN.
        rate_limit: requests per 5 minutes from one IP before it is blocked.
        logs_key, log_retention, removal_policy: the log group ``aws-waf-logs-<name>``
            (WAF requires the prefix), KMS-encrypted, retained by tier.

    Attributes:
        web_acl, association, log_group, logging.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        resource_arn: str,
        rate_limit: int,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name = name

        def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
            )

        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name=RATE_RULE_NAME,
                priority=0,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP", limit=rate_limit, evaluation_window_sec=300
                    )
                ),
                visibility_config=visibility(f"{name}-{RATE_RULE_NAME}"),
            )
        ]
        for priority, group in enumerate(MANAGED_RULE_GROUPS, start=1):
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=group.name,
                    priority=priority,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS",
                            name=group.name,
                            rule_action_overrides=[
                                wafv2.CfnWebACL.RuleActionOverrideProperty(
                                    name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                                )
                                for rule in group.count_only
                            ]
                            or None,
                        )
                    ),
                    visibility_config=visibility(f"{name}-{group.name}"),
                )
            )

        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=name,
            description="Corridor load balancer: AWS managed rules and a per-IP rate limit",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(name),
            rules=rules,
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=resource_arn, web_acl_arn=self.web_acl.attr_arn
        )

        log_group_name = f"aws-waf-logs-{name}"
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=log_group_name,
            encryption_key=logs_key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        stack = Stack.of(self)
        # WAF delivers through the CloudWatch Logs "vended logs" service; allow exactly this
        # log group, from this account's web ACLs (otherwise WAF writes an account-wide policy).
        self.log_group.add_to_resource_policy(
            iam.PolicyStatement(
                sid="WafLogDelivery",
                principals=[iam.ServicePrincipal("delivery.logs.amazonaws.com")],
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*"},
                },
            )
        )
        # WAF wants the log group ARN without the ":*" suffix CloudFormation returns.
        log_group_arn = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=log_group_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            log_destination_configs=[log_group_arn],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                for header in REDACTED_HEADERS
            ],
        )
        self.logging.node.add_dependency(self.log_group)

__all__ = ["LoadBalancerFirewall", "MANAGED_RULE_GROUPS", "ManagedRuleGroup", "RATE_RULE_NAME", "REDACTED_HEADERS"]
