"""The EKS deployment method, checked on the synthesized templates (compute=eks)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from corridor_cdk import kubernetes_manifests as k8s
from corridor_cdk.components import COMPONENTS, component
from corridor_cdk.eks_versions import ADDON_VERSIONS, HELM_CHARTS, KUBECTL_LAYER_MODULE, KUBERNETES_VERSION
from corridor_cdk.runtime import secret_environment
from corridor_cdk.sizing import sizing_for
from tests.synth import STACKS, Synthesized, build_prod_stack, flatten, one_resource, synthesize_single_environment

# The guide's "Resource Sizing" EKS node groups (instance type, min, max), by tier.
GUIDE_NODE_GROUPS = {
    "dev": ("m5.large", 2, 5),
    "small": ("m5.xlarge", 3, 8),
    "medium": ("m5.2xlarge", 3, 12),
    "large": ("m5.4xlarge", 5, 20),
}
GUIDE_NODE_POLICIES = {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"}
CONTROL_PLANE_LOGS = ["api", "audit", "authenticator", "controllerManager", "scheduler"]


# --- helpers -----------------------------------------------------------------------------


def _manifests(s: Synthesized, stack: str) -> list[tuple[str, dict[str, Any]]]:
    """(logical id, object) for every Kubernetes object the stack applies."""
    out = []
    for logical_id, res in s.resources(stack, "Custom::AWSCDK-EKS-KubernetesResource").items():
        for obj in json.loads(flatten(res["Properties"]["Manifest"])):
            out.append((logical_id, obj))
    return out


def _objects(s: Synthesized, stack: str, kind: str) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for _, obj in _manifests(s, stack) if obj["kind"] == kind}


def _logical_id(s: Synthesized, stack: str, type_: str, pattern: str) -> str:
    ids = [k for k in s.resources(stack, type_) if re.fullmatch(pattern, k)]
    assert len(ids) == 1, (type_, pattern, ids)
    return ids[0]


def _role_policies(s: Synthesized, stack: str, role_id: str) -> list[dict[str, Any]]:
    statements = []
    for policy in s.resources(stack, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _managed_policy_names(role: dict[str, Any]) -> set[str]:
    return {flatten(arn).rsplit("/", 1)[-1] for arn in role["Properties"].get("ManagedPolicyArns", [])}


# --- cluster -------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_cluster_runs_the_pinned_version_in_the_private_subnets(eks: Synthesized, stack: str) -> None:
    _, cluster = one_resource(eks, stack, "AWS::EKS::Cluster")
    props = cluster["Properties"]
    assert props["Version"] == KUBERNETES_VERSION
    assert props["Name"] == f"corridor-{eks.configs[stack].name}"
    subnets = [s["Ref"] for s in props["ResourcesVpcConfig"]["SubnetIds"]]
    assert subnets and all("PrivateSubnet" in s for s in subnets)
    assert len(subnets) == len(eks.configs[stack].availability_zones)  # control plane spans the zones
    assert props["ComputeConfig"] == {"Enabled": False}  # managed node group, not Auto Mode


def test_kubectl_layer_matches_the_cluster_version(eks: Synthesized) -> None:
    _, cluster = one_resource(eks, "CorridorProd", "AWS::EKS::Cluster")
    layers = [
        layer["Properties"]["Description"]
        for layer in eks.resources("CorridorProd", "AWS::Lambda::LayerVersion").values()
        if "kubectl" in layer["Properties"].get("Description", "")
    ]
    assert len(layers) == 1
    kubectl = re.search(r"kubectl (\d+)\.(\d+)", layers[0])
    assert kubectl, layers[0]
    assert f"{kubectl[1]}.{kubectl[2]}" == cluster["Properties"]["Version"]
    assert KUBECTL_LAYER_MODULE.endswith("_v" + KUBERNETES_VERSION.replace("1.", "", 1))
    requirements = (Path(__file__).resolve().parent.parent / "requirements.txt").read_text()
    assert f"aws-cdk.lambda-layer-kubectl-v{KUBERNETES_VERSION.split('.')[1]}==" in requirements


def test_kubectl_handler_runs_in_the_private_subnets_with_eks_access_only(eks: Synthesized) -> None:
    handlers = {
        k: v
        for k, v in eks.resources("CorridorProd", "AWS::Lambda::Function").items()
        if k.startswith("EksClusterKubectlProviderHandler")
    }
    ((_, handler),) = handlers.items()
    subnets = [s["Ref"] for s in handler["Properties"]["VpcConfig"]["SubnetIds"]]
    assert subnets and all("PrivateSubnet" in s for s in subnets)
    role_id = handler["Properties"]["Role"]["Fn::GetAtt"][0]
    role = eks.templates["CorridorProd"]["Resources"][role_id]
    assert _managed_policy_names(role) == {"AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole"}
    assert "Conditions" not in eks.templates["CorridorProd"] or not any(
        "HasEcrPublic" in c for c in eks.templates["CorridorProd"]["Conditions"]
    )


@pytest.mark.parametrize("stack", STACKS)
def test_endpoint_access_follows_configuration(eks: Synthesized, stack: str) -> None:
    cfg = eks.configs[stack]
    vpc_config = one_resource(eks, stack, "AWS::EKS::Cluster")[1]["Properties"]["ResourcesVpcConfig"]
    assert vpc_config["EndpointPrivateAccess"] is True
    assert vpc_config["EndpointPublicAccess"] is (cfg.eks_endpoint_access == "public-and-private")
    if stack == "CorridorProd":
        assert vpc_config["EndpointPublicAccess"] is False


def test_a_public_endpoint_is_limited_to_the_configured_networks(tmp_path: Path) -> None:
    """dev switched to public-and-private: only the listed CIDRs reach the public endpoint."""
    # Synthesizing runs cdk-nag: it passes on a restricted public endpoint.
    template = synthesize_single_environment(
        "eks", "dev", tmp_path, eks_endpoint_access="public-and-private", eks_public_access_cidrs=["203.0.113.0/24"]
    )
    (cluster,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::EKS::Cluster"]
    vpc_config = cluster["Properties"]["ResourcesVpcConfig"]
    assert vpc_config["EndpointPublicAccess"] is True
    assert vpc_config["PublicAccessCidrs"] == ["203.0.113.0/24"]


@pytest.mark.parametrize("stack", STACKS)
def test_control_plane_logs_every_type_to_an_encrypted_log_group(eks: Synthesized, stack: str) -> None:
    cluster_id, cluster = one_resource(eks, stack, "AWS::EKS::Cluster")
    enabled = [t["Type"] for t in cluster["Properties"]["Logging"]["ClusterLogging"]["EnabledTypes"]]
    assert enabled == CONTROL_PLANE_LOGS
    name = cluster["Properties"]["Name"]
    groups = {
        k: v
        for k, v in eks.resources(stack, "AWS::Logs::LogGroup").items()
        if v["Properties"].get("LogGroupName") == f"/aws/eks/{name}/cluster"
    }
    ((group_id, group),) = groups.items()
    assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["KeysLogsKeyD24E82DB", "Arn"]}
    assert group["Properties"]["RetentionInDays"] == sizing_for(eks.configs[stack].tier).log_retention_days
    assert group_id in cluster["DependsOn"]  # created before EKS would create it itself


@pytest.mark.parametrize("stack", STACKS)
def test_container_insights_log_groups_are_encrypted_and_expire(eks: Synthesized, stack: str) -> None:
    name = f"corridor-{eks.configs[stack].name}"
    groups = {
        v["Properties"]["LogGroupName"]: v
        for v in eks.resources(stack, "AWS::Logs::LogGroup").values()
        if isinstance(v["Properties"].get("LogGroupName"), str)
        and v["Properties"]["LogGroupName"].startswith(f"/aws/containerinsights/{name}/")
    }
    assert set(groups) == {f"/aws/containerinsights/{name}/{k}" for k in ("application", "dataplane", "host", "performance")}
    for group in groups.values():
        assert "KmsKeyId" in group["Properties"] and "RetentionInDays" in group["Properties"]


def test_kubernetes_secrets_are_envelope_encrypted(eks: Synthesized) -> None:
    eks.template("CorridorProd").has_resource_properties(
        "AWS::EKS::Cluster",
        {
            "EncryptionConfig": [
                {"Provider": {"KeyArn": {"Fn::GetAtt": ["KeysSecretsKey3899A925", "Arn"]}}, "Resources": ["secrets"]}
            ]
        },
    )


@pytest.mark.parametrize("stack", STACKS)
def test_access_through_access_entries_only_with_the_configured_admin(eks: Synthesized, stack: str) -> None:
    access = one_resource(eks, stack, "AWS::EKS::Cluster")[1]["Properties"]["AccessConfig"]
    assert access == {"AuthenticationMode": "API", "BootstrapClusterCreatorAdminPermissions": False}
    entries = [e["Properties"] for e in eks.resources(stack, "AWS::EKS::AccessEntry").values()]
    admin = [e for e in entries if e["PrincipalArn"] == eks.configs[stack].admin_role_arn]
    assert len(admin) == 1
    policy = flatten(admin[0]["AccessPolicies"][0]["PolicyArn"])
    assert policy.endswith(":eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy")
    assert admin[0]["AccessPolicies"][0]["AccessScope"] == {"Type": "cluster"}
    assert "aws-auth" not in json.dumps(eks.templates[stack])


# --- nodes ---------------------------------------------------------------------------------
def test_sizing_table_is_the_guides() -> None:
    for tier, (instance_type, lo, hi) in GUIDE_NODE_GROUPS.items():
        nodes = sizing_for(tier).eks_nodes
        assert (nodes.instance_type, nodes.min_size, nodes.max_size) == (instance_type, lo, hi)


@pytest.mark.parametrize("stack", STACKS)
def test_node_group_sized_by_tier_and_spread_across_zones(eks: Synthesized, stack: str) -> None:
    cfg = eks.configs[stack]
    props = one_resource(eks, stack, "AWS::EKS::Nodegroup")[1]["Properties"]
    instance_type, lo, hi = GUIDE_NODE_GROUPS[cfg.tier]
    assert props["InstanceTypes"] == [instance_type]
    assert props["ScalingConfig"] == {"MinSize": lo, "DesiredSize": sizing_for(cfg.tier).eks_nodes.desired_size, "MaxSize": hi}
    assert props["AmiType"] == "AL2023_x86_64_STANDARD"
    zones = len(cfg.availability_zones) if cfg.multi_az else 1
    assert len(props["Subnets"]) == zones
    assert all("PrivateSubnet" in s["Ref"] for s in props["Subnets"])


@pytest.mark.parametrize("stack", STACKS)
def test_launch_template_requires_imdsv2_and_encrypts_gp3_roots(eks: Synthesized, stack: str) -> None:
    lt_id, lt = one_resource(eks, stack, "AWS::EC2::LaunchTemplate")
    data = lt["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 1  # pods cannot reach node credentials
    (device,) = data["BlockDeviceMappings"]
    assert device["Ebs"]["Encrypted"] is True and device["Ebs"]["VolumeType"] == "gp3"
    groups = data["SecurityGroupIds"]
    assert {"Fn::GetAtt": ["NetworkAppSecurityGroupE3807721", "GroupId"]} in groups
    assert any(g.get("Fn::GetAtt", [None, None])[1] == "ClusterSecurityGroupId" for g in groups)
    nodegroup = one_resource(eks, stack, "AWS::EKS::Nodegroup")[1]["Properties"]
    assert nodegroup["LaunchTemplate"]["Id"] == {"Ref": lt_id}


@pytest.mark.parametrize("stack", STACKS)
def test_node_role_has_the_guides_policies_but_not_the_efs_driver_policy(eks: Synthesized, stack: str) -> None:
    role_id = one_resource(eks, stack, "AWS::EKS::Nodegroup")[1]["Properties"]["NodeRole"]["Fn::GetAtt"][0]
    role = eks.templates[stack]["Resources"][role_id]
    assert _managed_policy_names(role) == GUIDE_NODE_POLICIES
    assert "AmazonEFSCSIDriverPolicy" not in json.dumps(role)
    assert _role_policies(eks, stack, role_id) == []  # nothing inline either
    # The EFS CSI policy sits on the driver controller's own Pod Identity role instead.
    controller = eks.templates[stack]["Resources"][_logical_id(eks, stack, "AWS::IAM::Role", r"EksEfsCsiControllerRole.*")]
    assert _managed_policy_names(controller) == {"AmazonEFSCSIDriverPolicy"}
    trust = controller["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}


def test_security_groups_admit_pods_from_the_alb_and_to_the_data_stores(eks: Synthesized) -> None:
    template = eks.template("CorridorProd")
    app_sg = {"Fn::GetAtt": ["NetworkAppSecurityGroupE3807721", "GroupId"]}
    web = component("corridor-app")
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {"GroupId": app_sg, "FromPort": web.port, "ToPort": web.port, "SourceSecurityGroupId": Match.any_value()},
    )
    # Pods carry the application group (launch template), which the data stores admit.
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": {"Fn::GetAtt": ["NetworkDatabaseSecurityGroup2B3F4679", "GroupId"]},
            "FromPort": 5432,
            "SourceSecurityGroupId": app_sg,
        },
    )
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress",
        {
            "GroupId": {"Fn::GetAtt": ["NetworkEfsSecurityGroup11684003", "GroupId"]},
            "FromPort": 2049,
            "ToPort": 2049,
            "SourceSecurityGroupId": app_sg,
        },
    )


# --- add-ons and charts ----------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_addons_are_pinned_versions_for_the_cluster_version(eks: Synthesized, stack: str) -> None:
    addons = {a["Properties"]["AddonName"]: a for a in eks.resources(stack, "AWS::EKS::Addon").values()}
    assert set(addons) == set(ADDON_VERSIONS)
    assert {"aws-efs-csi-driver", "amazon-cloudwatch-observability", "cert-manager", "eks-pod-identity-agent"} <= set(addons)
    nodegroup_id = one_resource(eks, stack, "AWS::EKS::Nodegroup")[0]
    for name, addon in addons.items():
        assert addon["Properties"]["AddonVersion"] == ADDON_VERSIONS[name]
        assert re.fullmatch(r"v\d+\.\d+\.\d+-eksbuild\.\d+", ADDON_VERSIONS[name])
        assert nodegroup_id in addon["DependsOn"]


def test_efs_driver_and_cloudwatch_agent_have_their_own_scoped_roles(eks: Synthesized) -> None:
    stack = "CorridorProd"
    addons = {a["Properties"]["AddonName"]: a["Properties"] for a in eks.resources(stack, "AWS::EKS::Addon").values()}
    (efs_assoc,) = addons["aws-efs-csi-driver"]["PodIdentityAssociations"]
    assert efs_assoc["ServiceAccount"] == "efs-csi-controller-sa"
    (cw_assoc,) = addons["amazon-cloudwatch-observability"]["PodIdentityAssociations"]
    assert cw_assoc["ServiceAccount"] == "cloudwatch-agent"
    # The node daemonset mounts with IAM: it may mount and write the one file system.
    associations = [a["Properties"] for a in eks.resources(stack, "AWS::EKS::PodIdentityAssociation").values()]
    (node_assoc,) = [a for a in associations if a["ServiceAccount"] == "efs-csi-node-sa"]
    statements = _role_policies(eks, stack, node_assoc["RoleArn"]["Fn::GetAtt"][0])
    efs = [s for s in statements if "elasticfilesystem:ClientMount" in s["Action"]]
    assert efs and efs[0]["Resource"] == {"Fn::GetAtt": ["SharedStorageFileSystemFF4F5FE9", "Arn"]}


def test_helm_charts_are_pinned(eks: Synthesized) -> None:
    charts = {c["Properties"]["Chart"]: c["Properties"] for c in eks.resources("CorridorProd", "Custom::AWSCDK-EKS-HelmChart").values()}
    assert set(charts) == {c.chart for c in HELM_CHARTS.values()}
    for pinned in HELM_CHARTS.values():
        assert charts[pinned.chart]["Version"] == pinned.version
        assert charts[pinned.chart]["Repository"] == pinned.repository
    values = json.loads(flatten(charts["secrets-store-csi-driver-provider-aws"]["Values"]))
    assert values["secrets-store-csi-driver"]["syncSecret"]["enabled"] is True
    # Re-sync the Kubernetes Secrets soon after a rotation (Reloader then rolls the Deployments).
    assert values["secrets-store-csi-driver"]["enableSecretRotation"] is True
    assert values["secrets-store-csi-driver"]["rotationPollInterval"] == "120s"
    # Helm gives up before the kubectl Lambda's 900 s limit, so the custom resource fails cleanly.
    assert {c["Timeout"] for c in charts.values()} == {"600s"}


def test_load_balancer_controller_may_only_register_targets_in_the_stacks_target_group(eks: Synthesized) -> None:
    stack = "CorridorProd"
    associations = [a["Properties"] for a in eks.resources(stack, "AWS::EKS::PodIdentityAssociation").values()]
    (assoc,) = [a for a in associations if a["ServiceAccount"] == "aws-load-balancer-controller"]
    statements = _role_policies(eks, stack, assoc["RoleArn"]["Fn::GetAtt"][0])
    writes = [s for s in statements if s["Resource"] != "*"]
    assert writes == [
        {
            "Action": ["elasticloadbalancing:DeregisterTargets", "elasticloadbalancing:RegisterTargets"],
            "Effect": "Allow",
            "Resource": {"Ref": "LoadBalancerAppTargetsBA630F2E"},
        }
    ]
    for s in statements:
        if s["Resource"] == "*":
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            assert all(re.fullmatch(r"(ec2|elasticloadbalancing):(Describe|Get)\w+", a) for a in actions), actions


# --- workloads ---------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_workloads_follow_the_component_model(eks: Synthesized, stack: str) -> None:
    sizing = sizing_for(eks.configs[stack].tier)
    assert "corridor" in _objects(eks, stack, "Namespace")
    deployments = _objects(eks, stack, "Deployment")
    assert set(deployments) == {c.name for c in COMPONENTS}
    hpas = _objects(eks, stack, "HorizontalPodAutoscaler")
    pdbs = _objects(eks, stack, "PodDisruptionBudget")
    assert set(hpas) == set(pdbs) == {"corridor-app", "corridor-api"}
    for c in COMPONENTS:
        d = deployments[c.name]
        container = d["spec"]["template"]["spec"]["containers"][0]
        assert container["resources"] == k8s.resources(c.task_size(sizing))
        if c.autoscaled:
            assert (hpas[c.name]["spec"]["minReplicas"], hpas[c.name]["spec"]["maxReplicas"]) == (
                c.replicas(sizing),
                c.max_replicas(sizing),
            )
        else:
            assert d["spec"]["replicas"] == c.replicas(sizing)
        expected_image = eks.configs[stack].corridor_image if c.image == "corridor" else eks.configs[stack].redis_image
        assert container["image"] == expected_image
    app = deployments["corridor-app"]["spec"]["template"]["spec"]["containers"][0]
    assert app["livenessProbe"]["httpGet"] == {"path": "/health", "port": 5002}
    assert [app["livenessProbe"][k] for k in ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold")] == [60, 30, 5, 3]
    assert [app["readinessProbe"][k] for k in ("initialDelaySeconds", "periodSeconds", "timeoutSeconds", "failureThreshold")] == [30, 10, 5, 3]


def test_shared_volume_is_the_stacks_efs_access_point_with_tls(eks: Synthesized) -> None:
    pv = _objects(eks, "CorridorProd", "PersistentVolume")["corridor-data"]
    assert pv["spec"]["csi"]["volumeHandle"] == (
        "<Ref:SharedStorageFileSystemFF4F5FE9>::<Ref:SharedStorageFileSystemCorridorAccessPointA998CCD2>"
    )
    assert "tls" in pv["spec"]["mountOptions"]
    assert "corridor-efs" in _objects(eks, "CorridorProd", "StorageClass")
    assert _objects(eks, "CorridorProd", "PersistentVolumeClaim")["corridor-data"]["spec"]["accessModes"] == ["ReadWriteMany"]


@pytest.mark.parametrize("stack", STACKS)
def test_each_component_with_secrets_has_a_pod_identity_role_reading_only_them(eks: Synthesized, stack: str) -> None:
    service_accounts = _objects(eks, stack, "ServiceAccount")
    assert set(service_accounts) == {c.name for c in COMPONENTS}
    associations = {
        a["Properties"]["ServiceAccount"]: a["Properties"]
        for a in eks.resources(stack, "AWS::EKS::PodIdentityAssociation").values()
        if a["Properties"]["Namespace"] == "corridor"
    }
    secret_ids = {
        "database": "DatabaseCredentials24F58BE6",
        "app_secret_key": "AppSecretsAppSecretKeyCB75FF60",
        "llm_api_keys": "AppSecretsLlmApiKeysC754B200",
        "license_key": "AppSecretsLicenseKey0BA84F20",
    }
    for c in COMPONENTS:
        needed = {ref.secret for ref in secret_environment(c).values()}
        if not needed:
            assert c.name not in associations
            continue
        statements = _role_policies(eks, stack, associations[c.name]["RoleArn"]["Fn::GetAtt"][0])
        read = {
            r["Ref"]
            for s in statements
            if "secretsmanager:GetSecretValue" in s["Action"]
            for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        }
        assert read == {secret_ids[n] for n in needed}, c.name
        assert not any(s["Resource"] == "*" for s in statements)


def test_no_secret_value_reaches_a_manifest_or_the_template(eks: Synthesized) -> None:
    for stack in STACKS:
        objects = [obj for _, obj in _manifests(eks, stack)]
        assert not [o for o in objects if o["kind"] == "Secret"]
        for d in (o for o in objects if o["kind"] == "Deployment"):
            c = component(d["metadata"]["name"])
            for env in d["spec"]["template"]["spec"]["containers"][0]["env"]:
                if env["name"] in secret_environment(c):
                    assert set(env) == {"name", "valueFrom"}
        # Kubernetes objects and chart values hold ARNs at most: no value, no dynamic reference.
        for type_ in ("Custom::AWSCDK-EKS-KubernetesResource", "Custom::AWSCDK-EKS-HelmChart"):
            text = json.dumps(eks.resources(stack, type_))
            assert "resolve:secretsmanager" not in text and "SecretString" not in text


def test_app_pods_join_the_stacks_target_group_after_the_controller(eks: Synthesized) -> None:
    stack = "CorridorProd"
    bindings = [(lid, obj) for lid, obj in _manifests(eks, stack) if obj["kind"] == "TargetGroupBinding"]
    ((binding_id, binding),) = bindings
    web = component("corridor-app")
    assert binding["spec"] == {
        "serviceRef": {"name": web.short_name, "port": web.port},
        "targetGroupARN": "<Ref:LoadBalancerAppTargetsBA630F2E>",
        "targetType": "ip",
    }
    services = _objects(eks, stack, "Service")
    assert services[web.short_name]["spec"]["selector"] == {"app.kubernetes.io/name": web.name}
    controller_id = _logical_id(eks, stack, "Custom::AWSCDK-EKS-HelmChart", r"EksLoadBalancerController.*")
    assert controller_id in eks.templates[stack]["Resources"][binding_id]["DependsOn"]
    # Exactly one load balancer: the stack's own; Kubernetes creates none.
    assert len(eks.resources(stack, "AWS::ElasticLoadBalancingV2::LoadBalancer")) == 1
    assert not [o for _, o in _manifests(eks, stack) if o["kind"] == "Ingress"]
    assert not [o for o in services.values() if o["spec"].get("type") == "LoadBalancer"]


# --- what the stack reads back (Compute contract) ------------------------------------------------
def test_compute_contract_for_alarms_and_operators(tmp_path: Path) -> None:
    stack = build_prod_stack("eks", tmp_path)
    compute = stack.compute  # type: ignore[attr-defined]
    obs = compute.observability
    assert obs.method == "eks"
    assert [m.label for m in obs.utilisation] == [c.name for c in COMPONENTS]
    for c, m in zip(COMPONENTS, obs.utilisation):
        cpu = stack.resolve(m.cpu_percent.to_metric_config().metric_stat.dimensions)  # type: ignore[union-attr]
        assert {d["name"]: d["value"] for d in cpu} == {
            "ClusterName": "corridor-prod",
            "Namespace": "corridor",
            "PodName": c.name,
        }
        assert m.cpu_percent.to_metric_config().metric_stat.namespace == "ContainerInsights"  # type: ignore[union-attr]
    assert [label for label, _ in obs.unhealthy] == [c.name for c in COMPONENTS]
    assert "aws eks update-kubeconfig" in obs.access_command and "--name corridor-prod" in obs.access_command
    assert {"control-plane", "application"} <= set(compute.log_groups)
    assert compute.backup_resources == []
