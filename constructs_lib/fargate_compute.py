"""ECS Fargate rendering of the Corridor component model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from aws_cdk import Acknowledgment, Aws, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_efs as efs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_servicediscovery as servicediscovery
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from constructs_lib.compute_common import ComponentMetrics, ComputeObservability
from corridor_cdk.components import SCALE_ON_CPU_PERCENT, Component
from corridor_cdk.naming import pascal_case
from corridor_cdk.runtime import (
    SHARED_DATA_PATH,
    SecretName,
    plain_environment,
    reads_database_secret,
    secret_environment,
)
from corridor_cdk.sizing import TierSizing

SHARED_VOLUME = "corridor-data"
CORRIDOR_REPOSITORY = "corridor/ggx"  # the guide's image name: <registry>/corridor/ggx:<version>


@dataclass(frozen=True)
class FargateRuntime:
    """Everything a Fargate task needs from the rest of the stack."""

    environment: str
    container_registry: str
    image_tag: str
    redis_image: str
    registry_credentials: secretsmanager.ISecret | None
    secrets: dict[SecretName, secretsmanager.ISecret]
    file_system: efs.IFileSystem
    access_point: efs.IAccessPoint
    logs_key: kms.IKey
    log_retention: logs.RetentionDays
    log_removal_policy: RemovalPolicy


class FargateCompute(Construct):
    """An ECS cluster running every Corridor component as a Fargate service.

    Per component: a task definition sized by tier, its own task role, a KMS-encrypted
    log group ``/ecs/corridor/<env>/<component>``, secrets injected from Secrets
    Manager, the shared EFS volume mounted with TLS and IAM authorization, and the
    guide's container health check on components that serve HTTP. Services run in
    private subnets without public IPs, roll back on failed deployments, allow ECS
    Exec, and the load-balanced component registers with the stack's target group.
    Discoverable components (api, redis) get a Cloud Map name in ``<env>.corridor.internal``.

    Attributes:
        cluster, namespace, services (by component name), task_definitions, log_groups.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        components: Sequence[Component],
        sizing: TierSizing,
        runtime: FargateRuntime,
        target_group: elbv2.IApplicationTargetGroup,
        spot_workers: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self._runtime = runtime
        self._components = tuple(components)
        self._repository: ecr.IRepository | None = None
        self.namespace = servicediscovery.PrivateDnsNamespace(
            self, "Namespace", name=f"{runtime.environment}.corridor.internal", vpc=vpc
        )
        exec_log_group = self._log_group("ExecLogs", f"/ecs/corridor/{runtime.environment}/exec")
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            container_insights_v2=ecs.ContainerInsights.ENHANCED,
            enable_fargate_capacity_providers=True,
            execute_command_configuration=ecs.ExecuteCommandConfiguration(
                kms_key=runtime.logs_key,
                logging=ecs.ExecuteCommandLogging.OVERRIDE,
                log_configuration=ecs.ExecuteCommandLogConfiguration(
                    cloud_watch_log_group=exec_log_group, cloud_watch_encryption_enabled=True
                ),
            ),
        )

        self.services: dict[str, ecs.FargateService] = {}
        self.task_definitions: dict[str, ecs.FargateTaskDefinition] = {}
        self.log_groups: dict[str, logs.ILogGroup] = {"exec": exec_log_group}
        for c in components:
            task_definition = self._task_definition(c, sizing)
            service = ecs.FargateService(
                self,
                f"{pascal_case(c.short_name)}Service",
                cluster=self.cluster,
                service_name=c.name,
                task_definition=task_definition,
                desired_count=c.replicas(sizing),
                vpc_subnets=subnets,
                security_groups=[security_group],
                assign_public_ip=False,
                enable_execute_command=True,
                circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
                # Rolling (new task first) unless the component runs exactly one copy: then
                # stop it first, so Redis/Jupyter never run twice with diverging state.
                min_healthy_percent=0 if c.single_instance(sizing) else 100,
                max_healthy_percent=100 if c.single_instance(sizing) else 200,
                propagate_tags=ecs.PropagatedTagSource.SERVICE,
                capacity_provider_strategies=[
                    ecs.CapacityProviderStrategy(
                        capacity_provider="FARGATE_SPOT" if spot_workers and c.role == "worker" else "FARGATE",
                        weight=1,
                    )
                ],
                cloud_map_options=(
                    ecs.CloudMapOptions(
                        cloud_map_namespace=self.namespace, name=c.short_name, dns_ttl=Duration.seconds(10)
                    )
                    if c.discoverable
                    else None
                ),
                health_check_grace_period=Duration.seconds(120) if c.load_balanced else None,
            )
            if c.load_balanced:
                service.attach_to_application_target_group(target_group)
            if c.autoscaled:
                scaling = service.auto_scale_task_count(
                    min_capacity=c.replicas(sizing), max_capacity=c.max_replicas(sizing)
                )
                scaling.scale_on_cpu_utilization(
                    "CpuScaling",
                    target_utilization_percent=SCALE_ON_CPU_PERCENT,
                    scale_in_cooldown=Duration.seconds(300),
                    scale_out_cooldown=Duration.seconds(60),
                )
            self.services[c.name] = service

        self.backup_resources: list[backup.BackupResource] = []  # all data is on EFS and RDS
        self.observability = ComputeObservability(
            method="fargate",
            utilisation=tuple(
                ComponentMetrics(
                    label=name,
                    cpu_percent=service.metric_cpu_utilization(period=Duration.minutes(5)),
                    memory_percent=service.metric_memory_utilization(period=Duration.minutes(5)),
                )
                for name, service in self.services.items()
            ),
            unhealthy=tuple((name, self._missing_tasks(service)) for name, service in self.services.items()),
            access_command=(
                f"aws ecs execute-command --region {Stack.of(self).region} --cluster {self.cluster.cluster_name} "
                "--task <task-id> --container corridor-app --interactive --command /bin/sh"
            ),
        )

    # ------------------------------------------------------------------------------------
    def restart_after_rotation(self, scope: Construct, role: iam.IRole) -> sfn.IChainable | None:
        """A forced new deployment of every service given the database secret: ECS starts new
        tasks, which read the current password at start, and the circuit breaker rolls back a
        deployment that fails. Each call returns at once; ECS rolls the services in parallel."""
        chain: sfn.Chain | None = None
        for c in self._components:
            if not reads_database_secret(c):
                continue
            service = self.services[c.name]
            step = tasks.CallAwsService(
                scope,
                f"Restart{pascal_case(c.short_name)}",
                state_name=f"Restart {c.name}",
                service="ecs",
                action="updateService",
                parameters={
                    "Cluster": self.cluster.cluster_arn,
                    "Service": service.service_name,
                    "ForceNewDeployment": True,
                },
                iam_action="ecs:UpdateService",
                iam_resources=[service.service_arn],
                result_path=sfn.JsonPath.DISCARD,
            )
            chain = sfn.Chain.start(step) if chain is None else chain.next(step)
        return chain

    def _missing_tasks(self, service: ecs.FargateService) -> cloudwatch.IMetric:
        """Desired minus running tasks (Container Insights): above 0 while tasks are missing."""

        def insight(metric_name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="ECS/ContainerInsights",
                metric_name=metric_name,
                dimensions_map={"ClusterName": self.cluster.cluster_name, "ServiceName": service.service_name},
                statistic="Average",
                period=Duration.minutes(1),
            )

        return cloudwatch.MathExpression(
            expression="desired - running",
            using_metrics={"desired": insight("DesiredTaskCount"), "running": insight("RunningTaskCount")},
            label="missing tasks",
            period=Duration.minutes(1),
        )

    def _corridor_image(self) -> ecs.ContainerImage:
        """The vendor image; from ECR through the repository (so pulls are granted), else
        from the registry with its pull credentials."""
        rt = self._runtime
        ecr_host = re.fullmatch(r"(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com", rt.container_registry)
        if not ecr_host:
            return ecs.ContainerImage.from_registry(
                f"{rt.container_registry}/{CORRIDOR_REPOSITORY}:{rt.image_tag}", credentials=rt.registry_credentials
            )
        if self._repository is None:
            account, region = ecr_host.groups()
            self._repository = ecr.Repository.from_repository_attributes(
                self,
                "CorridorRepository",
                repository_name=CORRIDOR_REPOSITORY,
                repository_arn=f"arn:{Aws.PARTITION}:ecr:{region}:{account}:repository/{CORRIDOR_REPOSITORY}",
            )
        return ecs.ContainerImage.from_ecr_repository(self._repository, rt.image_tag)

    def _acknowledge_unscoped_actions(self, task_definition: ecs.FargateTaskDefinition) -> None:
        """The only wildcards in the task's roles are actions AWS cannot scope."""
        stack = Stack.of(self)
        exec_logs = self.log_groups["exec"].node.default_child
        exec_logs_id = stack.resolve(stack.get_logical_id(exec_logs))  # type: ignore[arg-type]
        Validations.of(task_definition.task_role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="ECS Exec: ssmmessages:Create/Open*Channel and logs:DescribeLogGroups have no resource-level "
                "permissions. Everything else in this role names its secret, file system or key.",
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::arn:aws:logs:{stack.region}:{stack.account}:log-group:<{exec_logs_id}>:*]",
                reason="ECS Exec session logging writes streams inside the one exec log group; stream names are "
                "generated per session, so the stream part of the ARN cannot be fixed.",
            ),
        )
        if task_definition.execution_role is not None:
            Validations.of(task_definition.execution_role).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-IAM5[Resource::*]",
                    reason="ecr:GetAuthorizationToken has no resource-level permissions; image pulls are scoped to "
                    "the corridor/ggx repository.",
                )
            )

    def _log_group(self, construct_id: str, name: str) -> logs.LogGroup:
        return logs.LogGroup(
            self,
            construct_id,
            log_group_name=name,
            encryption_key=self._runtime.logs_key,
            retention=self._runtime.log_retention,
            removal_policy=self._runtime.log_removal_policy,
        )

    def _task_definition(self, c: Component, sizing: TierSizing) -> ecs.FargateTaskDefinition:
        rt = self._runtime
        pascal = pascal_case(c.short_name)
        size = c.task_size(sizing)
        task_definition = ecs.FargateTaskDefinition(
            self,
            f"{pascal}Task",
            family=f"corridor-{rt.environment}-{c.short_name}",
            cpu=size.cpu,
            memory_limit_mib=size.memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
                cpu_architecture=ecs.CpuArchitecture.X86_64,
            ),
        )
        log_group = self._log_group(f"{pascal}Logs", f"/ecs/corridor/{rt.environment}/{c.name}")
        self.log_groups[c.name] = log_group

        image = ecs.ContainerImage.from_registry(rt.redis_image) if c.image == "redis" else self._corridor_image()

        secrets = {
            env: ecs.Secret.from_secrets_manager(rt.secrets[ref.secret], ref.field)
            for env, ref in secret_environment(c).items()
        }
        container = task_definition.add_container(
            c.name,
            container_name=c.name,
            image=image,
            essential=True,
            environment=plain_environment(
                c, environment=rt.environment, service_domain=f"{rt.environment}.corridor.internal"
            ),
            secrets=secrets or None,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=c.short_name, log_group=log_group),
            port_mappings=[ecs.PortMapping(container_port=c.port, name=c.short_name)] if c.port else None,
            health_check=(
                ecs.HealthCheck(
                    command=["CMD-SHELL", f"curl -f http://localhost:{c.port}{c.health.path} || exit 1"],
                    interval=Duration.seconds(c.health.interval_seconds),
                    timeout=Duration.seconds(c.health.timeout_seconds),
                    retries=c.health.retries,
                    start_period=Duration.seconds(c.health.start_period_seconds),
                )
                if c.health and c.port
                else None
            ),
            stop_timeout=Duration.seconds(60),
        )
        # Components read their secrets again at run time through the SDK (the guide's
        # "retrieve secrets at runtime"), so the task role may read exactly those secrets.
        for name in sorted({ref.secret for ref in secret_environment(c).values()}):
            rt.secrets[name].grant_read(task_definition.task_role)

        if c.mounts_shared_storage:
            task_definition.add_volume(
                name=SHARED_VOLUME,
                efs_volume_configuration=ecs.EfsVolumeConfiguration(
                    file_system_id=rt.file_system.file_system_id,
                    transit_encryption="ENABLED",
                    authorization_config=ecs.AuthorizationConfig(
                        access_point_id=rt.access_point.access_point_id, iam="ENABLED"
                    ),
                ),
            )
            container.add_mount_points(
                ecs.MountPoint(container_path=SHARED_DATA_PATH, source_volume=SHARED_VOLUME, read_only=False)
            )
            rt.file_system.grant(
                task_definition.task_role, "elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"
            )

        self._acknowledge_unscoped_actions(task_definition)
        if plain_environment(c, environment=rt.environment, service_domain=""):
            Validations.of(task_definition).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-ECS2",
                    reason="The environment holds only non-secret settings (component name, service URLs, port, "
                    "data path). Every credential is injected from Secrets Manager through `secrets`.",
                )
            )
        return task_definition



__all__ = ["FargateCompute", "FargateRuntime"]

