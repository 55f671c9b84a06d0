"""RDS PostgreSQL with its credentials secret and a rotation that works from private subnets."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from constructs_lib.zones import mark_configured_zone

DATABASE_NAME = "corridor"
DATABASE_USER = "corridor"
DATABASE_PORT = 5432
ENGINE_VERSION = rds.PostgresEngineVersion.VER_17_9  # guide: 14+ for production; 17.9 is current (cfn-lint knows it)
ROTATION_DAYS = 30  # guide: at most every 90 days


class Database(Construct):
    """Corridor's metadata database.

    - PostgreSQL 17 on gp3 with storage autoscaling, KMS-encrypted, Multi-AZ by topology;
    - TLS forced (``rds.force_ssl``), IAM authentication on, ``postgresql`` logs exported;
    - credentials generated into Secrets Manager as JSON with username, password, host,
      port, dbname (the guide's ``corridor/database/credentials`` shape), rotated every
      30 days by the hosted single-user rotation Lambda, which runs in the private
      subnets and reaches Secrets Manager through the VPC's interface endpoint;
    - deletion protection and retention when ``protect_data``; a final snapshot always.

    Attributes:
        instance, secret, secret_name, rotation_security_group, log_group.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        instance_class: str,
        allocated_storage_gib: int,
        max_allocated_storage_gib: int,
        backup_retention_days: int,
        multi_az: bool,
        availability_zone: str | None,
        protect_data: bool,
        data_key: kms.IKey,
        secrets_key: kms.IKey,
        secret_name: str,
        instance_identifier: str,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        engine = rds.DatabaseInstanceEngine.postgres(version=ENGINE_VERSION)
        self.secret_name = secret_name  # a plain string (secret.secret_name is a token)

        self.secret = rds.DatabaseSecret(
            self,
            "Credentials",
            username=DATABASE_USER,
            secret_name=secret_name,
            encryption_key=secrets_key,
        )
        # Kept with the database: restoring a retained snapshot needs its credentials.
        self.secret.apply_removal_policy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if protect_data else RemovalPolicy.DESTROY)

        parameters = rds.ParameterGroup(
            self,
            "Parameters",
            engine=engine,
            description="Corridor PostgreSQL: TLS only, connection and statement logging",
            parameters={
                "rds.force_ssl": "1",
                "log_connections": "1",
                "log_disconnections": "1",
                "log_min_duration_statement": "1000",
            },
        )

        # Created here rather than by RDS so that it is KMS-encrypted and needs no
        # log-retention Lambda; the instance identifier is fixed so the name is known.
        self.log_group = logs.LogGroup(
            self,
            "PostgresqlLogs",
            log_group_name=f"/aws/rds/instance/{instance_identifier}/postgresql",
            encryption_key=logs_key,
            retention=log_retention,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if protect_data else RemovalPolicy.DESTROY,
        )
        # Enhanced Monitoring role: RDS writes OS metrics to the RDSOSMetrics log group.
        monitoring_role = iam.Role(
            self,
            "MonitoringRole",
            assumed_by=iam.ServicePrincipal("monitoring.rds.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonRDSEnhancedMonitoringRole")
            ],
        )
        Validations.of(monitoring_role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]",
                reason="AWS's service-role policy for RDS Enhanced Monitoring: it only lets RDS write OS metrics to "
                "the RDSOSMetrics log group, and AWS keeps it current.",
            )
        )

        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=engine,
            instance_identifier=instance_identifier,
            instance_type=ec2.InstanceType(instance_class),
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            credentials=rds.Credentials.from_secret(self.secret),
            database_name=DATABASE_NAME,
            port=DATABASE_PORT,
            parameter_group=parameters,
            allocated_storage=allocated_storage_gib,
            max_allocated_storage=max_allocated_storage_gib,
            storage_type=rds.StorageType.GP3,
            storage_encrypted=True,
            storage_encryption_key=data_key,
            multi_az=multi_az,
            availability_zone=None if multi_az else availability_zone,
            backup_retention=Duration.days(backup_retention_days),
            preferred_backup_window="03:00-04:00",
            preferred_maintenance_window="sun:04:30-sun:05:30",
            auto_minor_version_upgrade=True,
            iam_authentication=True,
            cloudwatch_logs_exports=["postgresql"],
            enable_performance_insights=True,
            performance_insight_encryption_key=data_key,
            monitoring_interval=Duration.seconds(60),
            monitoring_role=monitoring_role,
            copy_tags_to_snapshot=True,
            deletion_protection=protect_data,
            # A final snapshot even in dev: deleting a stack never silently loses data.
            removal_policy=RemovalPolicy.SNAPSHOT,
            publicly_accessible=False,
        )

        self.instance.node.add_dependency(self.log_group)
        if not multi_az and availability_zone:
            mark_configured_zone(self.instance)
        Validations.of(self.instance).acknowledge(
            Acknowledgment(
                id="AwsSolutions-RDS11",
                reason="The guide documents PostgreSQL on 5432 and clients expect it. The instance is in private "
                "subnets and its security group admits only Corridor's components, so another port adds no protection.",
            )
        )
        if not multi_az:
            Validations.of(self.instance).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-RDS3",
                    reason="Topology single-az is chosen in configuration for this environment; the guide runs "
                    "development and testing databases single-AZ. multi-az environments get a standby.",
                )
            )
        if not protect_data:
            Validations.of(self.instance).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-RDS10",
                    reason="protect_data is false for this disposable environment so `cdk destroy` can remove it; "
                    "a final snapshot is still taken on delete. Protected environments enable deletion protection.",
                )
            )

        # The hosted rotation Lambda runs in the private subnets; it reaches Secrets
        # Manager through the interface endpoint and the database through this group.
        self.rotation_security_group = ec2.SecurityGroup(
            self,
            "RotationSecurityGroup",
            vpc=vpc,
            description="Corridor database credential rotation Lambda",
            allow_all_outbound=False,
        )
        self.secret.add_rotation_schedule(
            "Rotation",
            automatically_after=Duration.days(ROTATION_DAYS),
            hosted_rotation=secretsmanager.HostedRotation.postgre_sql_single_user(
                vpc=vpc,
                vpc_subnets=subnets,
                security_groups=[self.rotation_security_group],
            ),
        )
