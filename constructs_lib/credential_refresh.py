"""Running components pick up a rotated database password: a rolling restart after rotation.

Secrets Manager rotates the database secret every 30 days (``constructs_lib.database``).
Fargate tasks receive the password as environment variables when they start, so after a
rotation their new database connections would fail until they restart. This construct
restarts them as soon as a rotation succeeds:

- an EventBridge rule on the rotation's CloudTrail service event: source
  ``aws.secretsmanager``, detail-type ``AWS Service Event via CloudTrail``, eventName
  ``RotationSucceeded``, and ``detail.additionalEventData.SecretId`` equal to the secret's
  full ARN. Assumption (AWS's documented shape of this event, not verifiable at synth):
  Secrets Manager puts the secret's ARN, not its name, in ``additionalEventData.SecretId``;
  service events reach the default event bus without a trail;
- a Step Functions state machine (no Lambda) built from the compute method's
  ``restart_after_rotation`` states (forced new deployments on Fargate). It logs ALL
  events to a KMS-encrypted log group and is traced with X-Ray;
- an alarm on failed or timed-out executions that notifies the alerts topic: a restart
  that did not happen leaves components on a password that no longer works.

EC2 refreshes its secrets on a timer and EKS in-cluster (the Secrets Store CSI driver
re-syncs the Kubernetes Secrets, Stakater Reloader rolls the Deployments annotated with
them; see ``constructs_lib.eks_compute``), so there the construct creates nothing
(``state_machine`` is None).
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Duration, RemovalPolicy, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from constructs_lib.compute_common import Compute

ROTATION_EVENT_NAME = "RotationSucceeded"
RESTART_TIMEOUT = Duration.minutes(15)


def rotation_succeeded_pattern(secret: secretsmanager.ISecret) -> events.EventPattern:
    """Secrets Manager's RotationSucceeded event for ``secret`` (matched by its full ARN)."""
    return events.EventPattern(
        source=["aws.secretsmanager"],
        detail_type=["AWS Service Event via CloudTrail"],
        detail={
            "eventSource": ["secretsmanager.amazonaws.com"],
            "eventName": [ROTATION_EVENT_NAME],
            "additionalEventData": {"SecretId": [secret.secret_arn]},
        },
    )


class CredentialRefresh(Construct):
    """Restart what reads ``secret`` at start-up once its rotation succeeded.

    Attributes:
        state_machine, rule, log_group, alarm: None when the compute method needs no restart.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        secret: secretsmanager.ISecret,
        compute: Compute,
        name: str,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        log_removal_policy: RemovalPolicy,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self.state_machine: sfn.StateMachine | None = None
        self.rule: events.Rule | None = None
        self.log_group: logs.LogGroup | None = None
        self.alarm: cloudwatch.Alarm | None = None

        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
            description=f"Restarts {name}'s components after the database password rotates",
        )
        restart = compute.restart_after_rotation(self, role)
        if restart is None:
            # Nothing to restart: drop the unused role again.
            self.node.try_remove_child("Role")
            return

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{name}",
            encryption_key=logs_key,
            retention=log_retention,
            removal_policy=log_removal_policy,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=name,
            comment="Rolling restart of the components that read the database password, after its rotation",
            definition_body=sfn.DefinitionBody.from_chainable(restart),
            role=role,
            timeout=RESTART_TIMEOUT,
            tracing_enabled=True,
            # The input is the CloudTrail event (secret ARN, no value); task results are discarded.
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
        )
        # cfn-lint W3005: CDK adds an explicit DependsOn on the role (and its policy) next to the
        # GetAtt of the role's ARN; harmless, and the policy dependency is needed.
        machine = self.state_machine.node.default_child
        assert isinstance(machine, CfnResource)
        machine.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        self.rule = events.Rule(
            self,
            "RotationSucceeded",
            description="Database secret rotated: restart the components that read it at start-up",
            event_pattern=rotation_succeeded_pattern(secret),
            targets=[targets.SfnStateMachine(self.state_machine, retry_attempts=10, max_event_age=Duration.hours(2))],
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "FailedAlarm",
            alarm_name=f"{name}-failed",
            alarm_description="The restart after a database password rotation failed or timed out: running "
            "components may hold the old password. Runbook: docs/operations.md#database-password-rotation",
            metric=cloudwatch.MathExpression(
                expression="failed + timedout",
                using_metrics={
                    "failed": self.state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
                    "timedout": self.state_machine.metric_timed_out(period=Duration.minutes(5), statistic="Sum"),
                },
                period=Duration.minutes(5),
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(cw_actions.SnsAction(topic))
        self.alarm.add_ok_action(cw_actions.SnsAction(topic))
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Step Functions log delivery (logs:CreateLogDelivery, PutResourcePolicy, Describe*) and X-Ray "
                "trace writes have no resource-level permissions. The restart calls themselves name their service.",
            )
        )
