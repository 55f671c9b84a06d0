"""One stack per environment: everything Corridor needs in one account and region."""

from __future__ import annotations

from aws_cdk import CfnOutput, CfnResource, Environment, RemovalPolicy, Stack, Tags
from aws_cdk import aws_backup as backup
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from constructs_lib.app_secrets import AppSecrets
from constructs_lib.backup import DataBackup, dr_vault_arn
from constructs_lib.budget import MonthlyBudget
from constructs_lib.database import DATABASE_PORT, Database
from constructs_lib.compute_common import Compute
from constructs_lib.credential_refresh import CredentialRefresh
from constructs_lib.ec2_compute import Ec2Compute, Ec2Runtime
from constructs_lib.eks_compute import EksCompute, EksRuntime
from constructs_lib.encryption_keys import EncryptionKeys
from constructs_lib.fargate_compute import FargateCompute, FargateRuntime
from constructs_lib.load_balancer import LoadBalancer
from constructs_lib.log_policy import enforce_log_group_policy
from constructs_lib.monitoring import Alerts, Monitoring
from constructs_lib.network import Network
from constructs_lib.storage import Buckets, SharedFileSystem
from constructs_lib.waf import LoadBalancerFirewall
from corridor_cdk.components import COMPONENTS, load_balanced_component
from corridor_cdk.config import EnvironmentConfig
from corridor_cdk.runtime import EC2_HTTP_PORT, SecretName


_RETENTION = {
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def retention_days(days: int) -> logs.RetentionDays:
    """The RetentionDays member for the tier tables' retention periods."""
    return _RETENTION[days]


class CorridorStack(Stack):
    """Corridor GenGuardX for one environment (CorridorDev, CorridorStaging, CorridorProd).

    Builds the network, keys, data stores, secrets and load balancer once, then renders
    the component model with the configured compute method. Security-group rules between
    the pieces are wired here, so each construct stays usable on its own.
    """

    def __init__(self, scope: Construct, cfg: EnvironmentConfig) -> None:
        super().__init__(
            scope,
            cfg.stack_name,
            env=Environment(account=cfg.account, region=cfg.region),
            termination_protection=cfg.termination_protection,
            description=f"Corridor GenGuardX ({cfg.name}, {cfg.tier} tier, {cfg.compute}, {cfg.topology})",
        )
        self.cfg = cfg
        Tags.of(self).add("Project", "Corridor")
        Tags.of(self).add("Environment", cfg.name)

        sizing = cfg.sizing
        log_retention = retention_days(sizing.log_retention_days)
        # Data stores are retained (or snapshotted) in protected environments; the
        # database always leaves a final snapshot and keys/buckets are always kept.
        # "Except on create": a first deploy that rolls back leaves no fixed-name secret,
        # log group or vault behind to block the retry.
        data_removal = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if cfg.protect_data else RemovalPolicy.DESTROY

        self.keys = EncryptionKeys(self, "Keys", alias_prefix=f"alias/{cfg.resource_prefix}")
        self.network = Network(
            self,
            "Network",
            cidr=cfg.vpc_cidr,
            availability_zones=cfg.availability_zones,
            nat_gateways=len(cfg.availability_zones) if cfg.multi_az else 1,
            logs_key=self.keys.logs,
            log_retention=log_retention,
            removal_policy=data_removal,
        )
        private = self.network.private_subnets
        # single-az pins compute to the first zone; the ALB and the database subnet
        # group still span two zones because AWS requires it.
        compute_subnets = (
            private
            if cfg.multi_az
            else ec2.SubnetSelection(
                subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, availability_zones=[cfg.availability_zones[0]]
            )
        )

        self.buckets = Buckets(
            self,
            "Buckets",
            key=self.keys.data,
            log_retention_days=sizing.log_retention_days,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        self.database = Database(
            self,
            "Database",
            vpc=self.network.vpc,
            subnets=private,
            security_group=self.network.database_security_group,
            instance_class=sizing.db_instance_class,
            allocated_storage_gib=sizing.db_storage_gib,
            max_allocated_storage_gib=sizing.db_max_storage_gib,
            backup_retention_days=sizing.db_backup_retention_days,
            multi_az=cfg.multi_az,
            availability_zone=cfg.availability_zones[0],  # single-az: next to the compute
            protect_data=cfg.protect_data,
            data_key=self.keys.data,
            secrets_key=self.keys.secrets,
            secret_name=f"corridor/{cfg.name}/database/credentials",
            instance_identifier=f"{cfg.resource_prefix}-db",
            logs_key=self.keys.logs,
            log_retention=log_retention,
        )
        self.app_secrets = AppSecrets(
            self,
            "AppSecrets",
            name_prefix=f"corridor/{cfg.name}",
            key=self.keys.secrets,
            needs_registry_credentials=not cfg.uses_ecr,
            removal_policy=data_removal,
        )

        web = load_balanced_component()
        assert web.port is not None and web.health is not None
        on_vms = cfg.compute == "ec2"
        # Containers register by IP on the app's port; EC2 instances register on nginx's port.
        self.target_port = EC2_HTTP_PORT if on_vms else web.port
        self.load_balancer = LoadBalancer(
            self,
            "LoadBalancer",
            vpc=self.network.vpc,
            subnets=self.network.public_subnets,
            security_group=self.network.alb_security_group,
            domain_name=cfg.domain_name,
            hosted_zone_id=cfg.hosted_zone_id,
            hosted_zone_name=cfg.hosted_zone_name,
            certificate_arn=cfg.certificate_arn,
            target_port=self.target_port,
            target_type=elbv2.TargetType.INSTANCE if on_vms else elbv2.TargetType.IP,
            health=web.health,
            access_logs_bucket=self.buckets.access_logs,
            deletion_protection=cfg.protect_data,
        )

        # Shared files: EFS for the container methods; EC2 keeps them on its EBS data volume.
        self.file_system = (
            None
            if on_vms
            else SharedFileSystem(
                self,
                "SharedStorage",
                vpc=self.network.vpc,
                subnets=private,
                security_group=self.network.efs_security_group,
                key=self.keys.data,
                provisioned_mibps=sizing.efs_provisioned_mibps,
                removal_policy=data_removal,
            )
        )

        # Operations' alerts topic comes first: EC2 scaling events notify it.
        self.alerts = Alerts(
            self, "Alerts", topic_name=f"{cfg.resource_prefix}-alerts", key=self.keys.alerts, email=cfg.alert_email
        )

        # One renderer per compute method; configuration already limits cfg.compute to these.
        builders = {"fargate": self._fargate, "eks": self._eks, "ec2": self._ec2}
        self.compute: Compute = builders[cfg.compute](compute_subnets, log_retention, data_removal)
        # After each rotation of the database password, restart what read it at start-up.
        self.credential_refresh = CredentialRefresh(
            self,
            "CredentialRefresh",
            secret=self.database.secret,
            compute=self.compute,
            name=f"{cfg.resource_prefix}-credential-refresh",
            logs_key=self.keys.logs,
            log_retention=log_retention,
            log_removal_policy=data_removal,
            topic=self.alerts.topic,
        )

        self._wire_security_groups()
        self._operations(log_retention, data_removal)
        self._outputs()
        self._annotate_generated_resources()
        # Last, so it sees every log group and Lambda function the stack holds.
        enforce_log_group_policy(
            self,
            key=self.keys.logs,
            retention=log_retention,
            retention_days=sizing.log_retention_days,
            removal_policy=data_removal,
            function_log_group_name=f"/aws/lambda/{cfg.resource_prefix}-generated",
        )

    # --- compute methods: each renders the component model -------------------------------
    @property
    def runtime_secrets(self) -> dict[SecretName, secretsmanager.ISecret]:
        """The secrets components read, by the names the runtime model uses."""
        return {
            "database": self.database.secret,
            "app_secret_key": self.app_secrets.app_secret_key,
            "llm_api_keys": self.app_secrets.llm_api_keys,
            "license_key": self.app_secrets.license_key,
        }

    def _fargate(
        self, subnets: ec2.SubnetSelection, log_retention: logs.RetentionDays, removal: RemovalPolicy
    ) -> FargateCompute:
        assert self.file_system is not None
        return FargateCompute(
            self,
            "Fargate",
            vpc=self.network.vpc,
            subnets=subnets,
            security_group=self.network.app_security_group,
            components=COMPONENTS,
            sizing=self.cfg.sizing,
            runtime=FargateRuntime(
                environment=self.cfg.name,
                container_registry=self.cfg.container_registry,
                image_tag=self.cfg.image_tag,
                redis_image=self.cfg.redis_image,
                registry_credentials=self.app_secrets.registry_credentials,
                secrets=self.runtime_secrets,
                file_system=self.file_system.file_system,
                access_point=self.file_system.access_point,
                logs_key=self.keys.logs,
                log_retention=log_retention,
                log_removal_policy=removal,
            ),
            target_group=self.load_balancer.target_group,
            spot_workers=self.cfg.fargate_spot_workers,
        )

    def _eks(
        self, subnets: ec2.SubnetSelection, log_retention: logs.RetentionDays, removal: RemovalPolicy
    ) -> EksCompute:
        assert self.file_system is not None
        cfg = self.cfg
        return EksCompute(
            self,
            "Eks",
            vpc=self.network.vpc,
            # The control plane needs subnets in two zones even when compute is single-AZ.
            cluster_subnets=self.network.private_subnets,
            node_subnets=subnets,
            security_group=self.network.app_security_group,
            components=COMPONENTS,
            sizing=cfg.sizing,
            runtime=EksRuntime(
                environment=cfg.name,
                cluster_name=cfg.resource_prefix,
                corridor_image=cfg.corridor_image,
                redis_image=cfg.redis_image,
                uses_ecr=cfg.uses_ecr,
                secrets=self.runtime_secrets,
                file_system=self.file_system.file_system,
                access_point=self.file_system.access_point,
                logs_key=self.keys.logs,
                secrets_key=self.keys.secrets,
                log_retention=log_retention,
                log_removal_policy=removal,
                endpoint_access=cfg.eks_endpoint_access,
                public_access_cidrs=cfg.eks_public_access_cidrs,
                admin_role_arn=cfg.admin_role_arn,
            ),
            target_group=self.load_balancer.target_group,
        )

    def _ec2(
        self, subnets: ec2.SubnetSelection, log_retention: logs.RetentionDays, removal: RemovalPolicy
    ) -> Ec2Compute:
        return Ec2Compute(
            self,
            "Ec2",
            vpc=self.network.vpc,
            subnets=subnets,
            security_group=self.network.app_security_group,
            components=COMPONENTS,
            sizing=self.cfg.sizing,
            runtime=Ec2Runtime(
                environment=self.cfg.name,
                version=self.cfg.image_tag,
                bundle_s3_uri=self.cfg.bundle_s3_uri,
                secrets=self.runtime_secrets,
                data_key=self.keys.data,
                logs_key=self.keys.logs,
                log_retention=log_retention,
                log_removal_policy=removal,
                backup_bucket=self.buckets.backups,
                notification_topic=self.alerts.topic,
            ),
            target_group=self.load_balancer.target_group,
        )

    # --- operations: the same for every compute method -----------------------------------
    @property
    def dashboard_name(self) -> str:
        """The guide's CorridorHealthDashboard, one per environment and region: dashboards (like
        budgets) are global to the account, and a restore drill deploys the environment again in
        its DR region."""
        return f"CorridorHealthDashboard-{self.cfg.name}-{self.cfg.region}"

    def _operations(self, log_retention: logs.RetentionDays, removal: RemovalPolicy) -> None:
        """Alerts topic, WAF, backups, alarms and dashboard, budget.

        Compute-specific inputs come only from ``self.compute`` (the Compute contract).
        """
        cfg = self.cfg
        prefix = cfg.resource_prefix
        self.firewall = (
            LoadBalancerFirewall(
                self,
                "Firewall",
                name=f"{prefix}-web-acl",
                resource_arn=self.load_balancer.alb.load_balancer_arn,
                rate_limit=cfg.waf_rate_limit,
                logs_key=self.keys.logs,
                log_retention=log_retention,
                removal_policy=removal,
            )
            if cfg.waf_enabled
            else None
        )

        resources = [backup.BackupResource.from_rds_database_instance(self.database.instance)]
        if self.file_system is not None:
            resources.append(backup.BackupResource.from_efs_file_system(self.file_system.file_system))
        resources += self.compute.backup_resources
        self.backup = DataBackup(
            self,
            "Backup",
            name_prefix=prefix,
            key=self.keys.backup,
            resources=resources,
            daily_retention_days=cfg.sizing.backup_daily_retention_days,
            protect=cfg.protect_data,
            copy_to_vault_arn=(
                dr_vault_arn(partition=self.partition, region=cfg.dr_region, account=cfg.account, resource_prefix=prefix)
                if cfg.dr_region
                else None
            ),
            topic=self.alerts.topic,
        )

        self.monitoring = Monitoring(
            self,
            "Monitoring",
            name_prefix=prefix,
            dashboard_name=self.dashboard_name,
            topic=self.alerts.topic,
            load_balancer=self.load_balancer.alb,
            target_group=self.load_balancer.target_group,
            certificate=self.load_balancer.certificate,
            database=self.database.instance,
            database_instance_class=cfg.sizing.db_instance_class,
            database_storage_gib=cfg.sizing.db_storage_gib,
            file_system=self.file_system.file_system if self.file_system is not None else None,
            efs_provisioned_mibps=cfg.sizing.efs_provisioned_mibps,
            backup_bucket=self.buckets.backups,
            nat_gateway_ids=self.network.nat_gateway_ids,
            observability=self.compute.observability,
            log_groups=self.compute.log_groups,
            web_acl_metric_name=self.firewall.name if self.firewall is not None else None,
        )
        self.budget = MonthlyBudget(
            self, "Budget", name=f"{prefix}-monthly-{cfg.region}", amount_usd=cfg.monthly_budget_usd, email=cfg.alert_email
        )

    # Availability zones come from configuration: the default implementation would
    # look them up in the account, which needs AWS credentials at synth.
    @property
    def availability_zones(self) -> list[str]:
        return list(self.cfg.availability_zones)

    def _wire_security_groups(self) -> None:
        """The guide's rules: ALB -> app; app -> database, EFS, internet 443; nothing else."""
        net = self.network
        app = net.app_security_group
        net.alb_security_group.connections.allow_to(app, ec2.Port.tcp(self.target_port), "ALB to corridor-app")
        self.database.instance.connections.allow_from(app, ec2.Port.tcp(DATABASE_PORT), "Corridor components to PostgreSQL")
        if self.file_system is not None:
            self.file_system.file_system.connections.allow_default_port_from(app, "Corridor components to EFS (NFS)")
        app.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs and LLM providers")
        # On EC2 every component of an instance talks to the others over loopback.
        for c in COMPONENTS if self.cfg.compute != "ec2" else ():
            if c.port is not None and not c.load_balanced:
                app.connections.allow_internally(ec2.Port.tcp(c.port), f"{c.name} between components")
        # Credential rotation: to PostgreSQL, and to Secrets Manager through the endpoint.
        rotation = self.database.rotation_security_group
        self.database.instance.connections.allow_from(rotation, ec2.Port.tcp(DATABASE_PORT), "Rotation Lambda to PostgreSQL")
        rotation.connections.allow_to(net.endpoint_security_group, ec2.Port.tcp(443), "Rotation Lambda to AWS APIs")

    def _annotate_generated_resources(self) -> None:
        """cfn-lint notes on resources CDK generates (not ours to restructure)."""
        provider = self.node.try_find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
        handler = provider.node.try_find_child("Handler") if provider else None
        if isinstance(handler, CfnResource):
            # W3005: CDK adds an explicit DependsOn on the role next to a GetAtt of it; harmless.
            handler.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})

    def _outputs(self) -> None:
        """What an operator needs after `cdk deploy` (docs/operations.md refers to these names)."""
        obs = self.compute.observability
        CfnOutput(self, "Url", value=self.load_balancer.url, description="Corridor URL")
        CfnOutput(
            self,
            "DatabaseSecretName",
            value=self.database.secret_name,
            description="Secrets Manager secret with the database connection",
        )
        CfnOutput(self, "BackupBucketName", value=self.buckets.backups.bucket_name)
        CfnOutput(self, "DashboardName", value=self.dashboard_name, description="CloudWatch health dashboard")
        CfnOutput(
            self,
            "DashboardUrl",
            value=f"https://console.aws.amazon.com/cloudwatch/home?region={self.region}#dashboards:name="
            f"{self.dashboard_name}",
        )
        CfnOutput(self, "AlertsTopicArn", value=self.alerts.topic.topic_arn, description="SNS topic every alarm notifies")
        CfnOutput(self, "AccessCommand", value=obs.access_command, description=f"Shell into Corridor ({obs.method})")
        CfnOutput(self, "BackupVaultName", value=self.backup.vault.backup_vault_name)
        CfnOutput(self, "BackupRoleArn", value=self.backup.role.role_arn, description="IAM role for AWS Backup restores")
        if self.firewall is not None:
            CfnOutput(self, "WebAclArn", value=self.firewall.web_acl.attr_arn)
        if self.cfg.dr_region:
            CfnOutput(
                self,
                "DrBackupVaultArn",
                value=self.backup.copy_to_vault_arn,
                description="Vault in the disaster-recovery region receiving backup copies",
            )
