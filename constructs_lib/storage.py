"""Shared file storage (EFS) and the S3 buckets (backups, access logs)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Size, Validations, Acknowledgment
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

# POSIX identity Corridor's processes write the shared volume as (access point owner).
CORRIDOR_UID = "1000"
CORRIDOR_GID = "1000"
CORRIDOR_DATA_PATH = "/corridor"


class SharedFileSystem(Construct):
    """EFS for Corridor's uploaded files and artifacts (EKS and Fargate).

    KMS-encrypted, general purpose, bursting or provisioned throughput by tier,
    lifecycle to Infrequent Access after 30 days, one mount target per private subnet,
    a file-system policy that refuses unencrypted transport, anonymous access, root
    access and any mount that bypasses the access point rooted at ``/corridor``
    (owned by uid/gid 1000).

    Attributes:
        file_system, access_point.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        key: kms.IKey,
        provisioned_mibps: int | None,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        throughput = (
            {"throughput_mode": efs.ThroughputMode.BURSTING}
            if provisioned_mibps is None
            else {
                "throughput_mode": efs.ThroughputMode.PROVISIONED,
                "provisioned_throughput_per_second": Size.mebibytes(provisioned_mibps),
            }
        )
        self.file_system = efs.FileSystem(
            self,
            "FileSystem",
            vpc=vpc,
            vpc_subnets=subnets,
            security_group=security_group,
            encrypted=True,
            kms_key=key,
            performance_mode=efs.PerformanceMode.GENERAL_PURPOSE,
            lifecycle_policy=efs.LifecyclePolicy.AFTER_30_DAYS,
            out_of_infrequent_access_policy=efs.OutOfInfrequentAccessPolicy.AFTER_1_ACCESS,
            enable_automatic_backups=False,  # AWS Backup plans cover it (backup construct)
            allow_anonymous_access=False,
            removal_policy=removal_policy,
            **throughput,
        )
        self.file_system.add_to_resource_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["*"],
                conditions={"Bool": {"aws:SecureTransport": "false"}},
            )
        )
        # Clients see only Corridor's directory, as uid/gid 1000: no mount without the
        # access point, and no root access for anyone (a notebook cannot reach the root).
        self.file_system.add_to_resource_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["elasticfilesystem:ClientRootAccess"],
            )
        )
        self.file_system.add_to_resource_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
                conditions={"Null": {"elasticfilesystem:AccessPointArn": "true"}},
            )
        )
        self.access_point = self.file_system.add_access_point(
            "CorridorAccessPoint",
            path=CORRIDOR_DATA_PATH,
            create_acl=efs.Acl(owner_uid=CORRIDOR_UID, owner_gid=CORRIDOR_GID, permissions="750"),
            posix_user=efs.PosixUser(uid=CORRIDOR_UID, gid=CORRIDOR_GID),
        )


class Buckets(Construct):
    """The private backup bucket and the bucket that receives access logs.

    Both block public access, refuse non-TLS requests and are versioned. The backup
    bucket is KMS-encrypted and ages objects to cheaper classes; the log bucket uses
    SSE-S3 because load balancer access logs cannot be written with a KMS key.

    Attributes:
        backups, access_logs.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        log_retention_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireLogs",
                    expiration=Duration.days(max(log_retention_days, 90)),
                    noncurrent_version_expiration=Duration.days(30),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=removal_policy,
        )
        Validations.of(self.access_logs).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="This is the access-log destination bucket; logging it into itself would loop. "
                "Access to it is limited by its policy (TLS only, no public access, log delivery principals).",
            )
        )

        self.backups = s3.Bucket(
            self,
            "Backups",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="s3/backups/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="AgeBackups",
                    transitions=[
                        s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(30)),
                        s3.Transition(storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(90)),
                    ],
                    noncurrent_version_expiration=Duration.days(365),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=removal_policy,
        )
