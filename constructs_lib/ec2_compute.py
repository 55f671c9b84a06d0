"""EC2 rendering of the Corridor component model: an Auto Scaling group of VMs behind the ALB.

Every instance runs every component (the guide's single-VM layout, step 6.4); the group
size and instance type come from the tier's EC2 table. What runs on the instance is
rendered by ``corridor_cdk.vm_bootstrap`` from the component model.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Sequence

import jsii
from aws_cdk import (
    Acknowledgment,
    AspectPriority,
    Aspects,
    Aws,
    CfnResource,
    Duration,
    IAspect,
    RemovalPolicy,
    Stack,
    TagManager,
    Tags,
    Validations,
)
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from constructs_lib.compute_common import ComponentMetrics, ComputeObservability
from corridor_cdk.components import SCALE_ON_CPU_PERCENT, Component
from corridor_cdk.naming import pascal_case
from corridor_cdk.runtime import SecretName, secret_environment
from corridor_cdk.sizing import TierSizing
from corridor_cdk.vm_bootstrap import (
    DATA_DEVICE,
    DRAIN_HOOK_NAME,
    BootstrapSettings,
    bundle_components,
    render_files,
    render_user_data,
)

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"  # public, AWS-maintained
ROOT_DEVICE = "/dev/xvda"  # Amazon Linux 2023's root device name
BACKUP_TAG_KEY = "corridor:backup"  # on the launch template's volumes only: AWS Backup selects by it
BOOT_TIMEOUT = Duration.minutes(30)  # packages + bundle install + migration + health, with retries
HEALTH_GRACE = Duration.minutes(20)
DRAIN_TIMEOUT = Duration.minutes(10)
CFN_INIT_CONFIG_SET = "corridor"
UTILISATION_LABEL = "instances"  # the one host group; alarms read "<env>-high-cpu-instances"


@dataclass(frozen=True)
class Ec2Runtime:
    """Everything an instance needs from the rest of the stack."""

    environment: str
    version: str
    bundle_s3_uri: str
    secrets: dict[SecretName, secretsmanager.ISecret]
    data_key: kms.IKey  # EBS volumes and the backup bucket
    logs_key: kms.IKey
    log_retention: logs.RetentionDays
    log_removal_policy: RemovalPolicy
    backup_bucket: s3.IBucket
    notification_topic: sns.ITopic | None = None


@jsii.implements(IAspect)
class _TagSpecifications:
    """Launch template tag specifications: the stack's tags on instances and volumes, and
    the backup tag on volumes only (a tagged instance would make AWS Backup take AMIs).

    An aspect that runs after the tag aspects, so it sees every tag applied from above.
    """

    def __init__(self, launch_template: ec2.LaunchTemplate, volume_tags: dict[str, str]) -> None:
        self._launch_template = launch_template
        self._volume_tags = volume_tags

    def visit(self, node: IConstruct) -> None:
        if node is not self._launch_template:
            return
        manager = TagManager.of(self._launch_template)  # the template's own tags (a protected member)
        assert manager is not None
        tags = [{"Key": t["Key"], "Value": t["Value"]} for t in manager.render_tags() or []]
        extra = [{"Key": k, "Value": v} for k, v in self._volume_tags.items()]
        cfn_template = self._launch_template.node.default_child
        assert isinstance(cfn_template, CfnResource)
        cfn_template.add_property_override(
            "LaunchTemplateData.TagSpecifications",
            [{"ResourceType": "instance", "Tags": tags}, {"ResourceType": "volume", "Tags": tags + extra}],
        )


class Ec2Compute(Construct):
    """An Auto Scaling group of Amazon Linux 2023 instances, each running every component.

    - instance type and group size from the tier's EC2 table, in the private subnets,
      registered with the stack's target group (nginx on port 80), ELB health checks;
    - launch template: current AL2023 image from the public SSM parameter (resolved at
      deploy time), IMDSv2 required, detailed monitoring, no key pair, KMS-encrypted gp3
      root and data volumes sized by the EBS table;
    - boot: cfn-init writes the files rendered from the component model, the bootstrap
      installs and starts everything, and the group waits for each instance's signal
      (creation policy and rolling updates), so a failed boot fails the deployment;
    - a termination lifecycle hook gives an instance time to stop its components and
      copy its data volume to S3 before it goes; data volumes are selected for AWS
      Backup by tag (``backup_resources``);
    - an instance role that reads the named secrets and the bundle object, writes its
      log groups and CWAgent metrics, uses its prefix of the backup bucket and nothing else;
      shells through SSM Session Manager only.

    Attributes:
        group, launch_template, role, log_groups, backup_resources, observability.
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
        runtime: Ec2Runtime,
        target_group: elbv2.ApplicationTargetGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        env = runtime.environment
        size = sizing.ec2_instances
        self.group_name = f"corridor-{env}"
        bundle = bundle_components(components)
        data_prefix = f"ec2/{env}/"

        # --- logs the CloudWatch agent writes -------------------------------------------
        self.log_groups: dict[str, logs.ILogGroup] = {}
        for label in [c.name for c in bundle] + ["nginx", "bootstrap"]:
            self.log_groups[label] = logs.LogGroup(
                self,
                f"{pascal_case(label)}Logs",
                log_group_name=f"/ec2/corridor/{env}/{label}",
                encryption_key=runtime.logs_key,
                retention=runtime.log_retention,
                removal_policy=runtime.log_removal_policy,
            )

        # --- instance role ---------------------------------------------------------------
        self.role = iam.Role(
            self,
            "InstanceRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"Corridor {env} EC2 instances: named secrets, the bundle object, own logs, metrics and backups",
        )
        self._grant_instance_permissions(runtime, bundle, data_prefix)

        # --- launch template ---------------------------------------------------------------
        self.user_data = ec2.UserData.for_linux(shebang="#!/bin/bash")
        data = sizing.ebs_data_volume
        self.launch_template = ec2.LaunchTemplate(
            self,
            "LaunchTemplate",
            # Resolved by CloudFormation at every deployment (a parameter, no lookup at synth):
            # a newer AMI means a new template version and a rolling replacement.
            machine_image=ec2.MachineImage.from_ssm_parameter(AMI_PARAMETER, os=ec2.OperatingSystemType.LINUX),
            instance_type=ec2.InstanceType(size.instance_type),
            role=self.role,
            security_group=security_group,
            user_data=self.user_data,
            http_tokens=ec2.LaunchTemplateHttpTokens.REQUIRED,
            http_endpoint=True,
            http_put_response_hop_limit=1,
            require_imdsv2=True,
            detailed_monitoring=True,
            ebs_optimized=True,
            associate_public_ip_address=False,
            block_devices=[
                ec2.BlockDevice(
                    device_name=ROOT_DEVICE,
                    volume=ec2.BlockDeviceVolume.ebs(
                        sizing.ec2_root_volume_gib,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        encrypted=True,
                        kms_key=runtime.data_key,
                        delete_on_termination=True,
                    ),
                ),
                ec2.BlockDevice(
                    device_name=DATA_DEVICE,
                    volume=ec2.BlockDeviceVolume.ebs(
                        data.size_gib,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        iops=data.iops,
                        throughput=data.throughput_mibps,
                        encrypted=True,
                        kms_key=runtime.data_key,
                        # Replaced instances hand their files over through the S3 mirror
                        # and AWS Backup keeps the snapshots; an orphaned volume helps nobody.
                        delete_on_termination=True,
                    ),
                ),
            ],
        )
        self.backup_tag_value = f"{env}-ec2-volumes"
        Aspects.of(self.launch_template).add(
            _TagSpecifications(self.launch_template, {BACKUP_TAG_KEY: self.backup_tag_value}),
            priority=AspectPriority.READONLY,  # after the tag aspects (MUTATING)
        )

        # --- the group ----------------------------------------------------------------
        # The Auto Scaling service creates the encrypted volumes; it needs the data key. A
        # service-linked role owned by this stack can be named in the key policy on the
        # first deployment (the account's default one may not exist yet).
        self.service_linked_role = iam.CfnServiceLinkedRole(
            self,
            "AutoScalingServiceRole",
            aws_service_name="autoscaling.amazonaws.com",
            # IAM names are account-wide: the region keeps a DR-region redeploy from colliding.
            custom_suffix=f"corridor-{env}-{Stack.of(self).region}",
            description=f"Corridor {env}: launches the EC2 instances and their KMS-encrypted volumes",
        )
        service_role_arn = (
            f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/aws-service-role/autoscaling.amazonaws.com/"
            f"{self.service_linked_role.ref}"
        )
        self._allow_volume_encryption(runtime.data_key, service_role_arn)
        topic_key = runtime.notification_topic.master_key if runtime.notification_topic else None
        if topic_key is not None:
            # Scaling notifications go to an encrypted topic: Auto Scaling publishes with its role.
            topic_key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="CorridorAutoScalingNotifications",
                    principals=[iam.ArnPrincipal(service_role_arn)],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],
                )
            )

        self.group = autoscaling.AutoScalingGroup(
            self,
            "Group",
            auto_scaling_group_name=self.group_name,
            vpc=vpc,
            vpc_subnets=subnets,
            launch_template=self.launch_template,
            min_capacity=size.min_size,
            max_capacity=size.max_size,
            health_checks=autoscaling.HealthChecks.with_additional_checks(
                additional_types=[autoscaling.AdditionalHealthCheckType.ELB], grace_period=HEALTH_GRACE
            ),
            cooldown=Duration.minutes(5),
            group_metrics=[autoscaling.GroupMetrics.all()],
            signals=autoscaling.Signals.wait_for_all(timeout=BOOT_TIMEOUT),
            # One instance at a time; a single-instance group stops the old one first, so
            # its last data copy reaches S3 before the replacement restores from there.
            update_policy=autoscaling.UpdatePolicy.rolling_update(
                max_batch_size=1,
                min_instances_in_service=max(size.min_size - 1, 0),
                wait_on_resource_signals=True,
                pause_time=BOOT_TIMEOUT,
            ),
            termination_policies=[
                autoscaling.TerminationPolicy.OLDEST_LAUNCH_TEMPLATE,
                autoscaling.TerminationPolicy.DEFAULT,
            ],
            notifications=(
                [autoscaling.NotificationConfiguration(topic=runtime.notification_topic)]
                if runtime.notification_topic
                else None
            ),
        )
        cfn_group = self.group.node.default_child
        assert isinstance(cfn_group, autoscaling.CfnAutoScalingGroup)
        cfn_group.service_linked_role_arn = service_role_arn
        Tags.of(self.group).add("Name", self.group_name)
        self.group.attach_to_application_target_group(target_group)
        if size.max_size > 1:
            # Every instance runs its own Redis (sessions, queues): keep a user on one instance.
            target_group.enable_cookie_stickiness(Duration.hours(8))
        if size.max_size > size.min_size:
            self.group.scale_on_cpu_utilization(
                "CpuScaling",
                target_utilization_percent=SCALE_ON_CPU_PERCENT,
                estimated_instance_warmup=HEALTH_GRACE,
            )
        autoscaling.LifecycleHook(
            self,
            "Drain",
            auto_scaling_group=self.group,
            lifecycle_hook_name=DRAIN_HOOK_NAME,
            lifecycle_transition=autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
            heartbeat_timeout=DRAIN_TIMEOUT,
            default_result=autoscaling.DefaultResult.CONTINUE,
        )

        # --- what runs on the instances -----------------------------------------------------
        settings = BootstrapSettings(
            environment=env,
            version=runtime.version,
            bundle_s3_uri=runtime.bundle_s3_uri,
            region=stack.region,
            stack_name=stack.stack_name,
            signal_resource=stack.resolve(stack.get_logical_id(cfn_group)),
            group_name=self.group_name,
            secret_arns={name: secret.secret_arn for name, secret in runtime.secrets.items()},
            log_groups={label: group.log_group_name for label, group in self.log_groups.items()},
            data_mirror_uri=f"s3://{runtime.backup_bucket.bucket_name}/{data_prefix}data/",
            components=components,
        )
        files = {
            f.path: {"content": f.content, "mode": f.mode, "owner": "root", "group": "root"}
            for f in render_files(settings)
        }
        metadata = {"configSets": {CFN_INIT_CONFIG_SET: ["files"]}, "files": {"files": files}}
        cfn_group.add_metadata("AWS::CloudFormation::Init", metadata)
        fingerprint = hashlib.sha256(json.dumps(stack.resolve(metadata), sort_keys=True).encode()).hexdigest()[:16]
        self.user_data.add_commands(render_user_data(settings, fingerprint).removeprefix("#!/bin/bash\n"))

        self.backup_resources: list[backup.BackupResource] = [
            backup.BackupResource.from_tag(BACKUP_TAG_KEY, self.backup_tag_value)
        ]
        self.observability = self._observability(stack.region)
        self._acknowledge(stack, runtime)

    # ------------------------------------------------------------------------------------
    def restart_after_rotation(self, scope: Construct, role: iam.IRole) -> sfn.IChainable | None:
        """Nothing to restart: each instance re-reads its secrets every 10 minutes and restarts
        the components only when a value changed (corridor_cdk.vm_bootstrap)."""
        return None

    # ------------------------------------------------------------------------------------
    def _grant_instance_permissions(self, runtime: Ec2Runtime, bundle: Sequence[Component], data_prefix: str) -> None:
        role = self.role
        # Secrets the components read at boot (corridor-config), and only those.
        for name in sorted({ref.secret for c in bundle for ref in secret_environment(c).values()}):
            runtime.secrets[name].grant_read(role)
        # The bundle object, nothing else in its bucket.
        bucket, key = _split_s3_uri(runtime.bundle_s3_uri)
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadCorridorBundle",
                actions=["s3:GetObject"],
                resources=[f"arn:{Aws.PARTITION}:s3:::{bucket}/{key}"],
            )
        )
        # Its prefix of the backup bucket: the data-volume mirror and the guide's manual
        # backups (database export, config tarball). No delete: the bucket is versioned.
        backups = runtime.backup_bucket
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UseBackupPrefix",
                actions=["s3:GetObject", "s3:PutObject"],
                resources=[backups.arn_for_objects(f"{data_prefix}*")],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ListBackupPrefix",
                actions=["s3:ListBucket"],
                resources=[backups.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{data_prefix}*"]}},
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="BackupBucketKey",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[runtime.data_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": f"s3.{Aws.REGION}.amazonaws.com"}},
            )
        )
        # The CloudWatch agent: its log groups, and metrics in the CWAgent namespace only.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[g.log_group_arn for g in self.log_groups.values()],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="PutAgentMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "CWAgent"}},
            )
        )
        # Actions without resource-level permissions: Session Manager shells, and the tag
        # lookup the agent does for its AutoScalingGroupName dimension.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="SessionManagerAndTags",
                actions=[
                    "ssm:UpdateInstanceInformation",
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                    "ec2:DescribeTags",
                ],
                resources=["*"],
            )
        )
        # cfn-init reads this stack's metadata for the group (the group's signals add
        # cloudformation:SignalResource on the stack themselves).
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadBootFiles",
                actions=["cloudformation:DescribeStackResource"],
                resources=[Aws.STACK_ID],
            )
        )
        # The drain hook: an instance completes its own termination once its data is copied.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CompleteOwnDrain",
                actions=["autoscaling:CompleteLifecycleAction"],
                resources=[
                    f"arn:{Aws.PARTITION}:autoscaling:{Aws.REGION}:{Aws.ACCOUNT_ID}:autoScalingGroup:*:"
                    f"autoScalingGroupName/{self.group_name}"
                ],
            )
        )

    def _allow_volume_encryption(self, key: kms.IKey, service_role_arn: str) -> None:
        """The key-policy statements AWS documents for Auto Scaling with CMK-encrypted EBS."""
        principal = iam.ArnPrincipal(service_role_arn)
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CorridorAutoScalingUseOfTheKey",
                principals=[principal],
                actions=["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                resources=["*"],
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CorridorAutoScalingGrantsForVolumes",
                principals=[principal],
                actions=["kms:CreateGrant"],
                resources=["*"],
                conditions={"Bool": {"kms:GrantIsForAWSResource": True}},
            )
        )

    def _observability(self, region: str) -> ComputeObservability:
        dims = {"AutoScalingGroupName": self.group_name}

        def metric(namespace: str, name: str, period: Duration = Duration.minutes(5)) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=namespace, metric_name=name, dimensions_map=dims, statistic="Average", period=period
            )

        missing = cloudwatch.MathExpression(
            expression="desired - inservice",
            using_metrics={
                "desired": metric("AWS/AutoScaling", "GroupDesiredCapacity", Duration.minutes(1)),
                "inservice": metric("AWS/AutoScaling", "GroupInServiceInstances", Duration.minutes(1)),
            },
            label="missing instances",
            period=Duration.minutes(1),
        )
        return ComputeObservability(
            method="ec2",
            utilisation=(
                ComponentMetrics(
                    label=UTILISATION_LABEL,
                    cpu_percent=metric("AWS/EC2", "CPUUtilization"),
                    memory_percent=metric("CWAgent", "mem_used_percent"),
                ),
            ),
            unhealthy=((UTILISATION_LABEL, missing),),
            access_command=(
                f"aws ssm start-session --region {region} --target $(aws autoscaling describe-auto-scaling-groups "
                f"--region {region} --auto-scaling-group-names {self.group_name} "
                "--query 'AutoScalingGroups[0].Instances[0].InstanceId' --output text)"
            ),
        )

    def _acknowledge(self, stack: Stack, runtime: Ec2Runtime) -> None:
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Only actions without resource-level permissions use '*': Session Manager "
                "(ssm:UpdateInstanceInformation, ssmmessages:*Channel), ec2:DescribeTags for the agent's "
                "group dimension, and cloudwatch:PutMetricData limited to the CWAgent namespace by condition.",
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::<{_logical_id(stack, runtime.backup_bucket)}.Arn>/ec2/{runtime.environment}/*]",
                reason="The instance mirrors its data volume and writes the guide's backups under its own "
                "prefix of the backup bucket; object names are the application's files, so only the "
                "prefix can be fixed. It may read and write there, never delete.",
            ),
            Acknowledgment(
                id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/{self.group_name}]",
                reason="CompleteLifecycleAction on this one group (by name); the group's ARN contains an "
                "id AWS assigns at creation, which is the only wildcard here.",
            ),
        )
        if runtime.notification_topic is None:
            Validations.of(self.group).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-AS3",
                    reason="No notification topic is passed to this construct: scaling activity is in the group's "
                    "activity history and CloudTrail, and the missing-instances metric it exposes "
                    "(desired minus in-service) drives the stack's alarms.",
                )
            )


def _split_s3_uri(uri: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/(.+)", uri)
    if not match:
        raise ValueError(f"not an s3://bucket/key URI: {uri}")
    return match.group(1), match.group(2)


def _logical_id(stack: Stack, construct: Any) -> str:
    child = construct.node.default_child
    return str(stack.resolve(stack.get_logical_id(child)))



__all__ = ["BACKUP_TAG_KEY", "Ec2Compute", "Ec2Runtime"]
