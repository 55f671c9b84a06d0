"""What every compute renderer (Fargate, EKS, EC2) hands back to the stack.

The load balancer, alarms, dashboard and backup plan are defined once for all three
methods; they only need these few facts from whichever method runs the components.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct


@dataclass(frozen=True)
class ComponentMetrics:
    """Utilisation of one unit of compute: a component (Fargate, EKS) or a host group (EC2)."""

    label: str
    cpu_percent: cloudwatch.IMetric
    memory_percent: cloudwatch.IMetric


@dataclass(frozen=True)
class ComputeObservability:
    """Metrics and operator hints a compute method exposes.

    Attributes:
        method: ``fargate``, ``eks`` or ``ec2``.
        utilisation: CPU and memory per component or host group, in percent.
        unhealthy: a metric that is > 0 when tasks, pods or instances are missing or unhealthy.
        access_command: the command an operator runs to get a shell (printed as a stack output).
    """

    method: str
    utilisation: tuple[ComponentMetrics, ...]
    unhealthy: tuple[tuple[str, cloudwatch.IMetric], ...] = ()
    access_command: str = ""


class Compute(Protocol):
    """The attributes the stack reads from a compute construct.

    Attributes:
        observability: metrics and the operator's access command.
        log_groups: every log group the method creates, by a short label.
        backup_resources: data the method keeps outside the shared EFS/RDS (EC2's EBS
            volumes, selected by tag); empty for Fargate and EKS.

    Methods:
        restart_after_rotation: how the method makes running components pick up a rotated
            database password (see ``constructs_lib.credential_refresh``).
    """

    observability: ComputeObservability
    log_groups: dict[str, logs.ILogGroup]
    backup_resources: list[backup.BackupResource]

    def restart_after_rotation(self, scope: Construct, role: iam.IRole) -> sfn.IChainable | None:
        """Step Functions states, created in ``scope``, that restart every component given the
        database credentials, so new processes read the rotated password; None when the
        method refreshes secrets by itself: EC2 re-reads them every 10 minutes; EKS refreshes
        in-cluster (the Secrets Store CSI driver re-syncs the Kubernetes Secrets and Stakater
        Reloader rolls the annotated Deployments), which also works with a private API endpoint.

        ``role`` is the state machine's role: task states add their own IAM statements to it;
        anything else the restart needs the method grants here.
        """
        ...
