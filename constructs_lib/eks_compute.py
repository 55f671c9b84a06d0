"""EKS rendering of the Corridor component model.

The cluster, its managed node group, the add-ons, access, and the Kubernetes objects
rendered by ``corridor_cdk.kubernetes_manifests``. Every version comes from
``corridor_cdk.eks_versions``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Literal, Sequence

from aws_cdk import Acknowledgment, Aws, CfnOutput, CfnResource, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_eks_v2 as eks
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct, IConstruct

from constructs_lib.compute_common import ComponentMetrics, ComputeObservability
from corridor_cdk import kubernetes_manifests as k8s
from corridor_cdk.components import Component
from corridor_cdk.naming import pascal_case
from corridor_cdk.eks_versions import (
    ADDON_VERSIONS,
    HELM_CHARTS,
    KUBECTL_LAYER_CLASS,
    KUBECTL_LAYER_MODULE,
    KUBERNETES_VERSION,
)
from corridor_cdk.runtime import SecretName, secret_environment
from corridor_cdk.sizing import TierSizing

HELM_TIMEOUT = Duration.seconds(600)
# The Secrets Store CSI driver re-reads Secrets Manager (and re-syncs the Kubernetes Secrets)
# this often; Reloader then rolls the Deployments whose synced Secret changed, so a rotated
# database password reaches new pods within about one poll.
SECRET_ROTATION_POLL_SECONDS = 120
NODE_ROOT_VOLUME_GIB = 100  # images of the vendor bundle (Spark, Jupyter) plus kubelet scratch space
NODE_LABEL = {"corridor.ai/node-group": "corridor"}
KUBE_SYSTEM = "kube-system"
CONTROL_PLANE_LOG_TYPES = (
    eks.ClusterLoggingTypes.API,
    eks.ClusterLoggingTypes.AUDIT,
    eks.ClusterLoggingTypes.AUTHENTICATOR,
    eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
    eks.ClusterLoggingTypes.SCHEDULER,
)
# Log groups Container Insights (CloudWatch Observability add-on) writes to; created here
# so they are KMS-encrypted and expire with the tier's retention.
CONTAINER_INSIGHTS_LOG_GROUPS = ("application", "dataplane", "host", "performance")
# Service accounts of the add-ons and charts that call AWS APIs (Pod Identity).
EFS_CSI_CONTROLLER_SA = "efs-csi-controller-sa"
EFS_CSI_NODE_SA = "efs-csi-node-sa"
CLOUDWATCH_AGENT_NAMESPACE = "amazon-cloudwatch"
CLOUDWATCH_AGENT_SA = "cloudwatch-agent"
LOAD_BALANCER_CONTROLLER_SA = "aws-load-balancer-controller"
CLUSTER_AUTOSCALER_SA = "cluster-autoscaler"

# Read-only calls the load balancer controller makes while reconciling a TargetGroupBinding
# (the "describe" statement of the controller's published IAM policy). It gets no
# permission to create, modify or delete load balancers, listeners or security groups:
# the stack owns those.
LOAD_BALANCER_CONTROLLER_READ_ACTIONS = (
    "ec2:DescribeAccountAttributes",
    "ec2:DescribeAddresses",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeInternetGateways",
    "ec2:DescribeVpcs",
    "ec2:DescribeVpcPeeringConnections",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeTags",
    "ec2:GetSecurityGroupsForVpc",
    "ec2:DescribeRouteTables",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeListeners",
    "elasticloadbalancing:DescribeListenerAttributes",
    "elasticloadbalancing:DescribeListenerCertificates",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetHealth",
    "elasticloadbalancing:DescribeTags",
)
CLUSTER_AUTOSCALER_READ_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "autoscaling:DescribeTags",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
)


@dataclass(frozen=True)
class EksRuntime:
    """Everything the EKS deployment needs from the rest of the stack and the configuration.

    Attributes:
        environment: dev, staging or prod.
        cluster_name: physical cluster name (fixed, so the control-plane log group name is known).
        corridor_image / redis_image: full image references.
        uses_ecr: the vendor image is in ECR (pulled with the node role); otherwise pods
            reference the ``corridor-registry`` pull secret that operators create.
        secrets: the runtime secrets by the runtime model's names.
        file_system / access_point: the shared EFS file system and its access point.
        logs_key: encrypts every log group; secrets_key: envelope-encrypts Kubernetes Secrets.
        endpoint_access / public_access_cidrs / admin_role_arn: from the configuration.
    """

    environment: str
    cluster_name: str
    corridor_image: str
    redis_image: str
    uses_ecr: bool
    secrets: dict[SecretName, secretsmanager.ISecret]
    file_system: efs.IFileSystem
    access_point: efs.IAccessPoint
    logs_key: kms.IKey
    secrets_key: kms.IKey
    log_retention: logs.RetentionDays
    log_removal_policy: RemovalPolicy
    endpoint_access: Literal["private", "public-and-private"]
    public_access_cidrs: tuple[str, ...]
    admin_role_arn: str


def kubectl_layer(scope: Construct, construct_id: str) -> lambda_.ILayerVersion:
    """The kubectl/helm layer for KUBERNETES_VERSION (one package per Kubernetes minor)."""
    module = importlib.import_module(KUBECTL_LAYER_MODULE)
    layer_class = getattr(module, KUBECTL_LAYER_CLASS)
    return layer_class(scope, construct_id)  # type: ignore[no-any-return]


def kubernetes_version() -> eks.KubernetesVersion:
    return eks.KubernetesVersion.of(KUBERNETES_VERSION)


class EksCompute(Construct):
    """An EKS cluster running every Corridor component as a Deployment.

    - Cluster: Kubernetes ``KUBERNETES_VERSION`` in the private subnets; API endpoint
      private, or public and private restricted to configured CIDRs; all five
      control-plane log types to a KMS-encrypted log group; Kubernetes Secrets
      envelope-encrypted with the secrets key; authentication through access entries
      only (mode ``API``, no aws-auth ConfigMap), cluster admin for the configured role.
    - Nodes: one managed node group sized by tier across the compute subnets' zones;
      launch template with IMDSv2 required (hop limit 1: pods cannot reach the node
      role), encrypted gp3 root volume, the stack's application security group next to
      the cluster security group; node role with the worker-node, CNI and ECR read-only
      policies only.
    - Add-ons: EKS Pod Identity agent, EFS CSI driver (own roles), CloudWatch
      Observability, cert-manager, metrics-server; Helm charts for the AWS Load Balancer
      Controller, the Secrets Store CSI driver with the AWS provider, and the Cluster
      Autoscaler, each with a Pod Identity role scoped to what it does.
    - Workloads: namespace ``corridor`` rendered from the component model, a static EFS
      volume on the stack's access point, and a TargetGroupBinding that puts corridor-app
      pods in the stack's target group.

    Attributes:
        cluster, nodegroup, node_role, workload_roles (by component), log_groups,
        observability, backup_resources.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        cluster_subnets: ec2.SubnetSelection,
        node_subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        components: Sequence[Component],
        sizing: TierSizing,
        runtime: EksRuntime,
        target_group: elbv2.IApplicationTargetGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        self._runtime = runtime
        self._components = tuple(components)
        stack = Stack.of(self)
        name = runtime.cluster_name

        # --- logs --------------------------------------------------------------------
        self.log_groups: dict[str, logs.ILogGroup] = {
            "control-plane": self._log_group("ControlPlaneLogs", f"/aws/eks/{name}/cluster")
        }
        for kind in CONTAINER_INSIGHTS_LOG_GROUPS:
            self.log_groups[kind] = self._log_group(
                f"ContainerInsights{kind.capitalize()}Logs", f"/aws/containerinsights/{name}/{kind}"
            )

        # --- cluster -------------------------------------------------------------------
        cluster_role = iam.Role(
            self,
            "ClusterRole",
            assumed_by=iam.ServicePrincipal("eks.amazonaws.com"),
            description=f"EKS control plane of {name}",
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonEKSClusterPolicy")],
        )
        cluster_role.assume_role_policy.add_statements(  # type: ignore[union-attr]
            iam.PolicyStatement(
                actions=["sts:TagSession"], principals=[iam.ServicePrincipal("eks.amazonaws.com")]
            )
        )
        runtime.secrets_key.grant(cluster_role, "kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:ListGrants")

        endpoint = (
            eks.EndpointAccess.PRIVATE
            if runtime.endpoint_access == "private"
            else eks.EndpointAccess.PUBLIC_AND_PRIVATE.only_from(*runtime.public_access_cidrs)
        )
        private_subnets = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnets
        self.cluster = eks.Cluster(
            self,
            "Cluster",
            cluster_name=name,
            version=kubernetes_version(),
            vpc=vpc,
            vpc_subnets=[cluster_subnets],
            endpoint_access=endpoint,
            role=cluster_role,
            cluster_logging=list(CONTROL_PLANE_LOG_TYPES),
            secrets_encryption_key=runtime.secrets_key,
            default_capacity=0,
            default_capacity_type=eks.DefaultCapacityType.NODEGROUP,
            bootstrap_cluster_creator_admin_permissions=False,
            output_config_command=False,
            # The handler runs kubectl/helm from the private subnets, so it reaches a
            # private endpoint; NAT lets helm download charts.
            kubectl_provider_options=eks.KubectlProviderOptions(
                kubectl_layer=kubectl_layer(self, "KubectlLayer"),
                private_subnets=private_subnets,
            ),
        )
        # EKS would create the log group itself (unencrypted, never expiring) if it came first.
        cluster_resource = self.cluster.node.default_child
        assert cluster_resource is not None
        cluster_resource.node.add_dependency(self.log_groups["control-plane"])
        self.cluster.grant_access(
            "AdminAccess",
            runtime.admin_role_arn,
            [
                eks.AccessPolicy.from_access_policy_name(
                    "AmazonEKSClusterAdminPolicy", access_scope_type=eks.AccessScopeType.CLUSTER
                )
            ],
        )

        # --- nodes ---------------------------------------------------------------------
        self.node_role = iam.Role(
            self,
            "NodeRole",
            assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
            description=f"EKS worker nodes of {name}",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(p)
                for p in ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
            ],
        )
        launch_template = ec2.LaunchTemplate(
            self,
            "NodeLaunchTemplate",
            require_imdsv2=True,
            http_tokens=ec2.LaunchTemplateHttpTokens.REQUIRED,
            http_put_response_hop_limit=1,
            http_endpoint=True,
            security_group=security_group,
            block_devices=[
                ec2.BlockDevice(
                    device_name="/dev/xvda",
                    volume=ec2.BlockDeviceVolume.ebs(
                        NODE_ROOT_VOLUME_GIB,
                        volume_type=ec2.EbsDeviceVolumeType.GP3,
                        encrypted=True,
                        delete_on_termination=True,
                    ),
                )
            ],
        )
        # Nodes keep the cluster security group (control plane <-> kubelet, pod to pod)
        # and carry the guide's application group, which the database, EFS and the
        # load balancer rules admit. Pods use the node's groups (VPC CNI).
        launch_template.add_security_group(self.cluster.cluster_security_group)
        size = sizing.eks_nodes
        self.nodegroup = eks.Nodegroup(
            self,
            "Nodes",
            cluster=self.cluster,
            node_role=self.node_role,
            subnets=node_subnets,
            ami_type=eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
            capacity_type=eks.CapacityType.ON_DEMAND,
            instance_types=[ec2.InstanceType(size.instance_type)],
            min_size=size.min_size,
            desired_size=size.desired_size,
            max_size=size.max_size,
            max_unavailable=1,
            enable_node_auto_repair=True,
            labels=dict(NODE_LABEL),
            launch_template_spec=eks.LaunchTemplateSpec(
                id=launch_template.launch_template_id or "", version=launch_template.latest_version_number
            ),
        )

        # --- add-ons -------------------------------------------------------------------
        self.addons: dict[str, eks.CfnAddon] = {}
        pod_identity_agent = self._addon("eks-pod-identity-agent")
        efs_controller_role = self._pod_role("EfsCsiControllerRole", f"EFS CSI controller of {name}")
        efs_controller_role.add_managed_policy(
            iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonEFSCSIDriverPolicy")
        )
        # The node daemonset mounts with the `iam` option; it may mount and write the one
        # file system, nothing else. (The add-on API associates only the controller.)
        efs_node_role = self._pod_role("EfsCsiNodeRole", f"EFS CSI node daemonset of {name}")
        runtime.file_system.grant(efs_node_role, "elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite")
        efs_node_association = self._pod_identity("EfsCsiNodePodIdentity", KUBE_SYSTEM, EFS_CSI_NODE_SA, efs_node_role)
        efs_driver = self._addon(
            "aws-efs-csi-driver", pod_identities=[(EFS_CSI_CONTROLLER_SA, efs_controller_role)]
        )
        efs_driver.node.add_dependency(efs_node_association)
        cloudwatch_role = self._pod_role("CloudWatchAgentRole", f"CloudWatch agent of {name}")
        cloudwatch_role.add_managed_policy(iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchAgentServerPolicy"))
        observability = self._addon(
            "amazon-cloudwatch-observability", pod_identities=[(CLOUDWATCH_AGENT_SA, cloudwatch_role)]
        )
        for group in self.log_groups.values():
            observability.node.add_dependency(group)
        cert_manager = self._addon("cert-manager")
        self._addon("metrics-server")
        for addon in self.addons.values():
            if addon is not pod_identity_agent:
                addon.node.add_dependency(pod_identity_agent)

        # --- charts --------------------------------------------------------------------
        region = stack.region
        alb_role = self._pod_role("LoadBalancerControllerRole", f"AWS Load Balancer Controller of {name}")
        alb_role.add_to_policy(
            iam.PolicyStatement(actions=list(LOAD_BALANCER_CONTROLLER_READ_ACTIONS), resources=["*"])
        )
        alb_role.add_to_policy(
            iam.PolicyStatement(
                actions=["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
                resources=[target_group.target_group_arn],
            )
        )
        alb_controller = self._chart(
            "aws-load-balancer-controller",
            "LoadBalancerController",
            values={
                "clusterName": name,
                "region": region,
                "vpcId": vpc.vpc_id,
                "replicaCount": 2,
                "serviceAccount": {"create": True, "name": LOAD_BALANCER_CONTROLLER_SA},
                # Only TargetGroupBindings: no IngressClass, no Service mutation.
                "createIngressClassResource": False,
                "enableServiceMutatorWebhook": False,
                # Its webhook certificate is issued by cert-manager.
                "enableCertManager": True,
            },
        )
        alb_controller.node.add_dependency(
            self._pod_identity("LoadBalancerControllerPodIdentity", KUBE_SYSTEM, LOAD_BALANCER_CONTROLLER_SA, alb_role),
            cert_manager,
        )
        secrets_store = self._chart(
            "secrets-store-csi-driver-provider-aws",
            "SecretsStoreCsiDriver",
            values={
                "awsRegion": region,
                "secrets-store-csi-driver": {
                    "syncSecret": {"enabled": True},
                    "enableSecretRotation": True,
                    "rotationPollInterval": f"{SECRET_ROTATION_POLL_SECONDS}s",
                },
            },
        )
        autoscaler_role = self._pod_role("ClusterAutoscalerRole", f"Cluster Autoscaler of {name}")
        autoscaler_role.add_to_policy(iam.PolicyStatement(actions=list(CLUSTER_AUTOSCALER_READ_ACTIONS), resources=["*"]))
        autoscaler_role.add_to_policy(
            iam.PolicyStatement(
                actions=["eks:DescribeNodegroup"],
                resources=[f"arn:{Aws.PARTITION}:eks:{region}:{stack.account}:nodegroup/{name}/*"],
            )
        )
        autoscaler_role.add_to_policy(
            iam.PolicyStatement(
                actions=["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                resources=["*"],
                conditions={"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{name}": "owned"}},
            )
        )
        autoscaler = self._chart(
            "cluster-autoscaler",
            "ClusterAutoscaler",
            values={
                "autoDiscovery": {"clusterName": name},
                "awsRegion": region,
                "rbac": {"serviceAccount": {"create": True, "name": CLUSTER_AUTOSCALER_SA}},
                "extraArgs": {"balance-similar-node-groups": True, "expander": "least-waste"},
            },
        )
        autoscaler.node.add_dependency(
            self._pod_identity("ClusterAutoscalerPodIdentity", KUBE_SYSTEM, CLUSTER_AUTOSCALER_SA, autoscaler_role)
        )
        for chart in (alb_controller, secrets_store, autoscaler):
            chart.node.add_dependency(self.nodegroup, pod_identity_agent)

        # --- workloads -----------------------------------------------------------------
        settings = k8s.WorkloadSettings(
            environment=runtime.environment,
            region=region,
            corridor_image=runtime.corridor_image,
            redis_image=runtime.redis_image,
            secret_arns={n: s.secret_arn for n, s in runtime.secrets.items()},
            file_system_id=runtime.file_system.file_system_id,
            access_point_id=runtime.access_point.access_point_id,
            image_pull_secret=None if runtime.uses_ecr else k8s.REGISTRY_PULL_SECRET,
        )
        namespace = self._manifest("Namespace", [k8s.namespace()])
        storage = self._manifest("SharedStorage", k8s.storage_manifests(settings))
        storage.node.add_dependency(namespace, efs_driver)
        # Reloader: rolls a Deployment when the synced Secret named in its annotation changes
        # (rotation -> CSI driver re-sync -> new Secret data -> rolling restart), in-cluster,
        # so it works with the private API endpoint. Installed in the corridor namespace with
        # watchGlobally=false: the chart then grants it a namespaced Role (read Secrets, patch
        # Deployments) in corridor only, instead of a ClusterRole over every namespace's
        # Secrets, and it cannot act elsewhere; more robust than a namespaceSelector, which
        # needs that cluster-wide access and a label that must stay on the namespace. Only
        # explicitly annotated Deployments reload (autoReloadAll stays off); ConfigMaps are
        # ignored. Strategy "annotations": the pod template gets a last-reloaded-from
        # annotation (no environment variable added to the containers).
        reloader = self._chart(
            "reloader",
            "Reloader",
            namespace=k8s.NAMESPACE,
            values={
                "reloader": {
                    "watchGlobally": False,
                    "autoReloadAll": False,
                    "ignoreConfigMaps": True,
                    "reloadStrategy": "annotations",
                },
            },
        )
        reloader.node.add_dependency(namespace, self.nodegroup)  # no AWS access: no Pod Identity

        self.workload_roles: dict[str, iam.Role] = {}
        self.workloads: dict[str, eks.KubernetesManifest] = {}
        for c in components:
            workload = self._manifest(f"{pascal_case(c.short_name)}Workload", k8s.component_manifests(c, sizing, settings))
            workload.node.add_dependency(namespace, storage, secrets_store, efs_driver, self.addons["metrics-server"])
            if k8s.needs_aws_role(c):
                role = self._workload_role(c)
                workload.node.add_dependency(
                    self._pod_identity(f"{pascal_case(c.short_name)}PodIdentity", k8s.NAMESPACE, k8s.service_account_name(c), role)
                )
            self.workloads[c.name] = workload
            if c.load_balanced:
                binding = self._manifest(
                    f"{pascal_case(c.short_name)}TargetGroupBinding",
                    [k8s.target_group_binding(c, target_group.target_group_arn)],
                )
                binding.node.add_dependency(workload, alb_controller)

        # --- contract with the stack -------------------------------------------------------
        self.backup_resources: list[backup.BackupResource] = []  # all data is on EFS and RDS
        web = next((c for c in components if c.load_balanced), components[0])
        self.observability = ComputeObservability(
            method="eks",
            utilisation=tuple(
                ComponentMetrics(
                    label=c.name,
                    cpu_percent=self._insight("pod_cpu_utilization_over_pod_limit", c),
                    memory_percent=self._insight("pod_memory_utilization_over_pod_limit", c),
                )
                for c in components
            ),
            unhealthy=tuple((c.name, self._missing_pods(c)) for c in components),
            access_command=(
                f"aws eks update-kubeconfig --region {region} --name {name} && "
                f"kubectl -n {k8s.NAMESPACE} exec -it deploy/{web.name} -- /bin/sh"
            ),
        )
        CfnOutput(self, "ClusterName", value=name, description="EKS cluster name")
        CfnOutput(
            self,
            "KubeconfigCommand",
            value=f"aws eks update-kubeconfig --region {region} --name {name}",
            description="Writes a kubeconfig entry (needs network access to the API endpoint; see docs/eks.md)",
        )
        self._acknowledge()

    # ------------------------------------------------------------------------------------
    def restart_after_rotation(self, scope: Construct, role: iam.IRole) -> sfn.IChainable | None:
        """Nothing to restart from outside: the cluster refreshes in-cluster.

        The Secrets Store CSI driver re-syncs each component's Kubernetes Secret every
        SECRET_ROTATION_POLL_SECONDS, and Reloader (chart ``reloader``) rolls every Deployment
        annotated with that Secret's name (``kubernetes_manifests.RELOADER_SECRET_ANNOTATION``)
        once its content changed. No Step Functions ``eks:call``, which could only reach a
        public API endpoint.
        """
        return None

    def _log_group(self, construct_id: str, name: str) -> logs.LogGroup:
        rt = self._runtime
        return logs.LogGroup(
            self,
            construct_id,
            log_group_name=name,
            encryption_key=rt.logs_key,
            retention=rt.log_retention,
            removal_policy=rt.log_removal_policy,
        )

    def _pod_role(self, construct_id: str, description: str) -> iam.Role:
        """A role for EKS Pod Identity. Only a pod identity association binds it to a
        service account, and creating one needs iam:PassRole on this role in this account."""
        principal = iam.SessionTagsPrincipal(iam.ServicePrincipal("pods.eks.amazonaws.com"))
        return iam.Role(self, construct_id, assumed_by=principal, description=description)

    def _pod_identity(
        self, construct_id: str, namespace: str, service_account: str, role: iam.IRole
    ) -> eks.CfnPodIdentityAssociation:
        return eks.CfnPodIdentityAssociation(
            self,
            construct_id,
            cluster_name=self.cluster.cluster_name,
            namespace=namespace,
            service_account=service_account,
            role_arn=role.role_arn,
        )

    def _addon(
        self, addon_name: str, *, pod_identities: Sequence[tuple[str, iam.IRole]] = ()
    ) -> eks.CfnAddon:
        """An EKS add-on at its pinned version, installed once the nodes exist."""
        addon = eks.CfnAddon(
            self,
            pascal_case(addon_name) + "Addon",
            cluster_name=self.cluster.cluster_name,
            addon_name=addon_name,
            addon_version=ADDON_VERSIONS[addon_name],
            resolve_conflicts="OVERWRITE",
            pod_identity_associations=[
                eks.CfnAddon.PodIdentityAssociationProperty(service_account=sa, role_arn=role.role_arn)
                for sa, role in pod_identities
            ]
            or None,
        )
        addon.node.add_dependency(self.nodegroup)
        self.addons[addon_name] = addon
        return addon

    def _chart(
        self, key: str, construct_id: str, *, values: dict[str, object], namespace: str = KUBE_SYSTEM
    ) -> eks.HelmChart:
        pinned = HELM_CHARTS[key]
        return eks.HelmChart(
            self,
            construct_id,
            cluster=self.cluster,
            repository=pinned.repository,
            chart=pinned.chart,
            version=pinned.version,
            release=pinned.chart,
            namespace=namespace,
            # kube-system always exists; other namespaces are our own manifests (never Helm's).
            create_namespace=None if namespace == KUBE_SYSTEM else False,
            values=values,
            wait=True,
            atomic=True,
            # Below the kubectl handler's 15-minute Lambda limit, so that a chart that never
            # becomes ready fails (and rolls back, atomic) instead of the handler timing out.
            timeout=HELM_TIMEOUT,
        )

    def _manifest(self, construct_id: str, manifest: list[k8s.Manifest]) -> eks.KubernetesManifest:
        return eks.KubernetesManifest(self, construct_id, cluster=self.cluster, manifest=manifest, overwrite=True)

    def _workload_role(self, c: Component) -> iam.Role:
        """The component's AWS identity: read exactly the secrets its environment names."""
        role = self._pod_role(f"{pascal_case(c.short_name)}Role", f"Corridor {c.name} pods ({self._runtime.environment})")
        for secret in sorted({ref.secret for ref in secret_environment(c).values()}):
            self._runtime.secrets[secret].grant_read(role)
        self.workload_roles[c.name] = role
        return role

    def _insight(self, metric_name: str, c: Component, period: Duration | None = None) -> cloudwatch.Metric:
        """A Container Insights pod metric, aggregated per Deployment (PodName = workload name)."""
        return cloudwatch.Metric(
            namespace="ContainerInsights",
            metric_name=metric_name,
            dimensions_map={
                "ClusterName": self._runtime.cluster_name,
                "Namespace": k8s.NAMESPACE,
                "PodName": c.name,
            },
            statistic="Average",
            period=period or Duration.minutes(5),
        )

    def _missing_pods(self, c: Component) -> cloudwatch.IMetric:
        """Desired minus ready pods (Container Insights, enhanced observability): above 0 while
        pods are pending, crash-looping or failing their readiness probe."""

        def metric(name: str) -> cloudwatch.Metric:
            return self._insight(name, c, period=Duration.minutes(1))

        return cloudwatch.MathExpression(
            expression="desired - ready",
            using_metrics={"desired": metric("replicas_desired"), "ready": metric("replicas_ready")},
            label="missing pods",
            period=Duration.minutes(1),
        )

    def _acknowledge(self) -> None:
        """Findings that cannot be fixed, each acknowledged on the construct that has it."""
        managed = "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{}]"
        _ack(
            self.node.find_child("ClusterRole"),
            managed.format("AmazonEKSClusterPolicy"),
            "The guide's EKS cluster service role policy: EKS requires it to manage the control plane's ENIs and "
            "load balancers, and AWS updates it with the service. Nothing else is attached to the role.",
        )
        node_reasons = {
            "AmazonEKSWorkerNodePolicy": "lets the kubelet describe the cluster and its own instance to join it",
            "AmazonEKS_CNI_Policy": "lets the VPC CNI (aws-node, host network) attach ENIs and pod IP addresses",
            "AmazonEC2ContainerRegistryReadOnly": "lets the kubelet pull images from ECR, read-only",
        }
        for policy, what in node_reasons.items():
            _ack(
                self.node_role,
                managed.format(policy),
                f"The guide's node group role policy: it {what}. Pods cannot use the node role (IMDSv2 hop limit 1); "
                "they get scoped Pod Identity roles.",
            )
        _ack(
            self.node.find_child("EfsCsiControllerRole"),
            managed.format("service-role/AmazonEFSCSIDriverPolicy"),
            "The EFS CSI driver's own policy (the guide puts it on the node role; here only the driver controller's "
            "Pod Identity role has it). Its create/delete actions are limited by AWS to access points it tagged.",
        )
        _ack(
            self.node.find_child("CloudWatchAgentRole"),
            managed.format("CloudWatchAgentServerPolicy"),
            "AWS's policy for the CloudWatch agent that the Observability add-on runs: put metrics and write its "
            "log groups. Only the agent's service account gets this role, through Pod Identity.",
        )
        _ack(
            self.node.find_child("LoadBalancerControllerRole"),
            "AwsSolutions-IAM5[Resource::*]",
            "EC2 and Elastic Load Balancing Describe* calls have no resource-level permissions. The controller can "
            "register and deregister targets in the stack's one target group and change nothing else.",
        )
        autoscaler = self.node.find_child("ClusterAutoscalerRole")
        _ack(
            autoscaler,
            "AwsSolutions-IAM5[Resource::*]",
            "Auto Scaling and EC2 Describe* calls have no resource-level permissions; resizing and terminating are "
            "allowed only on groups tagged as owned by this cluster (aws:ResourceTag condition).",
        )
        stack = Stack.of(self)
        _ack(
            autoscaler,
            f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:eks:{stack.region}:{stack.account}:nodegroup/"
            f"{self._runtime.cluster_name}/*]",
            "eks:DescribeNodegroup on the node groups of this one cluster; node group ARNs end in a generated id, "
            "so the last part of the ARN cannot be fixed in advance.",
        )
        self._harden_kubectl_provider()

    def _harden_kubectl_provider(self) -> None:
        """CDK's kubectl handler: keep only what it uses, acknowledge what CDK builds in.

        The handler gets ECR read-only policies by default for charts stored in ECR
        registries; Corridor's charts come from HTTPS repositories, so they are dropped.
        """
        provider = self.cluster.node.find_child("KubectlProvider")
        handler = provider.node.find_child("Handler")
        handler_role = handler.node.find_child("ServiceRole")
        cfn_role = handler_role.node.default_child
        assert isinstance(cfn_role, iam.CfnRole)
        partition_arn = "arn:" + Aws.PARTITION + ":iam::aws:policy/service-role/"
        cfn_role.managed_policy_arns = [
            partition_arn + "AWSLambdaBasicExecutionRole",
            partition_arn + "AWSLambdaVPCAccessExecutionRole",
        ]
        handler.node.try_remove_child("HasEcrPublic")
        framework = provider.node.find_child("Provider").node.find_child("framework-onEvent")
        framework_role = framework.node.find_child("ServiceRole")
        # cfn-lint W3005: CDK adds an explicit DependsOn next to a Ref/GetAtt of the same
        # resource (the cluster on the VPC's subnets, the Lambdas on their roles); harmless.
        for generated in (self.cluster, handler, framework):
            resource = generated.node.default_child
            assert isinstance(resource, CfnResource)
            resource.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})
        managed = "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{}]"
        for role in (handler_role, framework_role):
            _ack(
                role,
                managed.format("AWSLambdaBasicExecutionRole"),
                "CDK's kubectl custom-resource Lambda writes its own execution logs; AWS's basic execution policy "
                "grants only log-stream creation and writes.",
            )
            _ack(
                role,
                managed.format("AWSLambdaVPCAccessExecutionRole"),
                "CDK's kubectl custom-resource Lambda runs in the private subnets to reach the private API "
                "endpoint; this AWS policy grants only the ENI calls a VPC Lambda needs.",
            )
        _ack(
            framework_role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::<{Stack.of(self).resolve(Stack.of(self).get_logical_id(handler.node.default_child))}.Arn>:*]",  # type: ignore[arg-type]
            "The custom-resource framework may invoke the kubectl handler function and its versions only; the "
            "version suffix of the ARN is the wildcard.",
        )
        _ack(
            handler,
            "AwsSolutions-L1",
            "aws-cdk-lib picks the newest Python runtime its kubectl handler and AWS CLI layer are built and "
            "tested for; it moves with aws-cdk-lib upgrades rather than by hand.",
        )



def _ack(construct: IConstruct, rule: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


__all__ = ["EksCompute", "EksRuntime", "kubectl_layer", "kubernetes_version"]
