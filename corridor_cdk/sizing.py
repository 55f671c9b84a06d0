"""Sizing tiers, transcribed from the guide's "Resource Sizing and Provisioning" tables.

One frozen record per tier; every construct reads its numbers from here so the
guide's tables live in exactly one place. Where the guide gives a range, the
chosen value and the reason are noted next to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Tier = Literal["dev", "small", "medium", "large"]
TIERS: tuple[Tier, ...] = ("dev", "small", "medium", "large")


@dataclass(frozen=True)
class TaskSize:
    """Fargate task size: CPU in units (1024 = 1 vCPU) and memory in MiB."""

    cpu: int
    memory_mib: int


@dataclass(frozen=True)
class NodeGroupSize:
    """EKS managed node group: instance type and scaling bounds."""

    instance_type: str
    min_size: int
    desired_size: int
    max_size: int


@dataclass(frozen=True)
class InstanceGroupSize:
    """EC2 Auto Scaling group: instance type and scaling bounds."""

    instance_type: str
    min_size: int
    desired_size: int
    max_size: int


@dataclass(frozen=True)
class VolumeSize:
    """gp3 data volume (EBS table)."""

    size_gib: int
    iops: int
    throughput_mibps: int


@dataclass(frozen=True)
class TierSizing:
    """Every tier-dependent number in the project."""

    # Fargate task sizes by role (the guide's "corridor-app/worker/jupyter/redis" rows).
    web_task: TaskSize
    worker_task: TaskSize
    jupyter_task: TaskSize
    redis_task: TaskSize
    # Replicas of the load-balanced web tier (app, api); workers scale from here too.
    web_replicas: int
    worker_replicas: int
    max_web_replicas: int
    # RDS PostgreSQL
    db_instance_class: str  # without the "db." prefix, as aws_ec2.InstanceType expects
    db_storage_gib: int
    db_max_storage_gib: int  # storage autoscaling ceiling
    db_backup_retention_days: int
    # EFS: None = bursting throughput, else provisioned MiB/s
    efs_provisioned_mibps: int | None
    # EKS and EC2 compute
    eks_nodes: NodeGroupSize
    ec2_instances: InstanceGroupSize
    ebs_data_volume: VolumeSize
    ec2_root_volume_gib: int
    # Operations
    log_retention_days: int
    backup_daily_retention_days: int


SIZING: dict[str, TierSizing] = {
    # Development/Testing rows.
    "dev": TierSizing(
        web_task=TaskSize(1024, 2048),
        worker_task=TaskSize(1024, 2048),
        jupyter_task=TaskSize(1024, 2048),
        redis_task=TaskSize(512, 1024),
        web_replicas=1,
        worker_replicas=1,
        max_web_replicas=2,
        db_instance_class="t3.medium",
        db_storage_gib=20,  # guide: 20-50 GB; autoscaling covers the rest
        db_max_storage_gib=100,
        db_backup_retention_days=7,
        efs_provisioned_mibps=None,
        eks_nodes=NodeGroupSize("m5.large", 2, 2, 5),
        ec2_instances=InstanceGroupSize("t3.xlarge", 1, 1, 1),
        ebs_data_volume=VolumeSize(100, 3000, 125),
        ec2_root_volume_gib=50,
        log_retention_days=30,
        backup_daily_retention_days=7,
    ),
    # Production (Small - 10-50 users).
    "small": TierSizing(
        web_task=TaskSize(2048, 4096),
        worker_task=TaskSize(2048, 4096),
        jupyter_task=TaskSize(2048, 4096),
        redis_task=TaskSize(1024, 2048),
        web_replicas=2,
        worker_replicas=1,
        max_web_replicas=4,
        db_instance_class="t3.xlarge",
        db_storage_gib=100,
        db_max_storage_gib=250,
        db_backup_retention_days=14,
        efs_provisioned_mibps=None,  # guide: bursting or provisioned
        eks_nodes=NodeGroupSize("m5.xlarge", 3, 3, 8),
        ec2_instances=InstanceGroupSize("t3.2xlarge", 1, 1, 2),
        ebs_data_volume=VolumeSize(200, 3000, 125),
        ec2_root_volume_gib=50,
        log_retention_days=90,
        backup_daily_retention_days=14,
    ),
    # Production (Medium - 50-200 users).
    "medium": TierSizing(
        web_task=TaskSize(4096, 8192),
        worker_task=TaskSize(4096, 8192),
        jupyter_task=TaskSize(4096, 8192),
        redis_task=TaskSize(2048, 4096),
        web_replicas=2,
        worker_replicas=2,
        max_web_replicas=6,
        db_instance_class="m5.xlarge",
        db_storage_gib=200,  # guide: 200-500 GB
        db_max_storage_gib=500,
        db_backup_retention_days=21,
        efs_provisioned_mibps=128,  # guide: provisioned for consistent performance
        eks_nodes=NodeGroupSize("m5.2xlarge", 3, 3, 12),
        ec2_instances=InstanceGroupSize("m5.2xlarge", 1, 1, 2),
        ebs_data_volume=VolumeSize(500, 6000, 250),
        ec2_root_volume_gib=50,
        log_retention_days=180,
        backup_daily_retention_days=21,
    ),
    # Production (Large - 200+ users): the guide gives ranges; the upper end is taken
    # for the compute rows since large deployments scale horizontally from there.
    "large": TierSizing(
        web_task=TaskSize(8192, 16384),
        worker_task=TaskSize(8192, 16384),
        jupyter_task=TaskSize(8192, 16384),
        redis_task=TaskSize(4096, 8192),
        web_replicas=3,
        worker_replicas=2,
        max_web_replicas=10,
        db_instance_class="m5.2xlarge",
        db_storage_gib=500,  # guide: 500 GB - 1 TB
        db_max_storage_gib=1000,
        db_backup_retention_days=35,
        efs_provisioned_mibps=256,
        eks_nodes=NodeGroupSize("m5.4xlarge", 5, 5, 20),
        ec2_instances=InstanceGroupSize("m5.4xlarge", 2, 2, 4),
        ebs_data_volume=VolumeSize(1000, 10000, 500),
        ec2_root_volume_gib=50,
        log_retention_days=365,
        backup_daily_retention_days=35,
    ),
}


def sizing_for(tier: str) -> TierSizing:
    """The sizing record of a tier (the tier is validated by the configuration)."""
    return SIZING[tier]
