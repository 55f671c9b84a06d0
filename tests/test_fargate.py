"""Fargate renders the component model: sizes, health checks, secrets, EFS, scaling, exposure."""

from __future__ import annotations

import json

import pytest

from corridor_cdk.components import COMPONENTS
from corridor_cdk.runtime import secret_environment
from corridor_cdk.sizing import SIZING
from tests.synth import Synthesized


def _tasks(s: Synthesized, stack: str) -> dict[str, dict]:  # type: ignore[type-arg]
    """Container name -> (task definition properties, its single container)."""
    out = {}
    for r in s.resources(stack, "AWS::ECS::TaskDefinition").values():
        (container,) = r["Properties"]["ContainerDefinitions"]
        out[container["Name"]] = {"task": r["Properties"], "container": container}
    return out


def _services(s: Synthesized, stack: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return {r["Properties"]["ServiceName"]: r["Properties"] for r in s.resources(stack, "AWS::ECS::Service").values()}


def test_cluster_has_both_capacity_providers_insights_and_audited_exec(fargate: Synthesized) -> None:
    t = fargate.template("CorridorProd")
    t.has_resource_properties(
        "AWS::ECS::ClusterCapacityProviderAssociations", {"CapacityProviders": ["FARGATE", "FARGATE_SPOT"]}
    )
    (cluster,) = fargate.resources("CorridorProd", "AWS::ECS::Cluster").values()
    p = cluster["Properties"]
    assert {"Name": "containerInsights", "Value": "enhanced"} in p["ClusterSettings"]
    exec_cfg = p["Configuration"]["ExecuteCommandConfiguration"]
    assert exec_cfg["Logging"] == "OVERRIDE" and exec_cfg["LogConfiguration"]["CloudWatchEncryptionEnabled"] is True


@pytest.mark.parametrize("stack", ["CorridorDev", "CorridorProd"])
def test_every_component_has_a_task_and_service_sized_by_tier(fargate: Synthesized, stack: str) -> None:
    sizing = SIZING[fargate.configs[stack].tier]
    tasks, services = _tasks(fargate, stack), _services(fargate, stack)
    assert set(tasks) == set(services) == {c.name for c in COMPONENTS}
    for c in COMPONENTS:
        size = c.task_size(sizing)
        assert (tasks[c.name]["task"]["Cpu"], tasks[c.name]["task"]["Memory"]) == (str(size.cpu), str(size.memory_mib))
        assert services[c.name]["DesiredCount"] == c.replicas(sizing)


def test_fargate_sizes_are_valid_combinations() -> None:
    """Fargate accepts only some CPU/memory pairs; a bad table entry would fail at deploy."""
    allowed = {
        256: range(512, 2049, 512),
        512: range(1024, 4097, 1024),
        1024: range(2048, 8193, 1024),
        2048: range(4096, 16385, 1024),
        4096: range(8192, 30721, 1024),
        8192: range(16384, 61441, 4096),
        16384: range(32768, 122881, 8192),
    }
    for tier, sizing in SIZING.items():
        for c in COMPONENTS:
            size = c.task_size(sizing)
            assert size.memory_mib in allowed[size.cpu], (tier, c.name, size)


def test_web_components_use_the_guides_container_health_check(fargate: Synthesized) -> None:
    tasks = _tasks(fargate, "CorridorProd")
    for c in COMPONENTS:
        check = tasks[c.name]["container"].get("HealthCheck")
        if c.health is None:
            assert check is None
            continue
        assert check == {
            "Command": ["CMD-SHELL", f"curl -f http://localhost:{c.port}/health || exit 1"],
            "Interval": 30,
            "Timeout": 5,
            "Retries": 3,
            "StartPeriod": 60,
        }
    assert "localhost:5002/health" in json.dumps(tasks["corridor-app"]["container"]["HealthCheck"])


def test_secrets_are_injected_from_secrets_manager_never_as_values(fargate: Synthesized) -> None:
    tasks = _tasks(fargate, "CorridorProd")
    for c in COMPONENTS:
        container = tasks[c.name]["container"]
        injected = {s["Name"] for s in container.get("Secrets", [])}
        assert injected == set(secret_environment(c))
        plain = {e["Name"] for e in container.get("Environment", [])}
        assert not plain & {"DB_PASSWORD", "SECRET_KEY", "LICENSE_KEY", "OPENAI_API_KEY"}


def test_efs_is_mounted_with_tls_and_iam_and_the_role_may_mount(fargate: Synthesized) -> None:
    """Pitfall: IAM-authorized EFS needs ClientMount/ClientWrite on the task role."""
    tasks = _tasks(fargate, "CorridorProd")
    resources = fargate.templates["CorridorProd"]["Resources"]
    for c in COMPONENTS:
        volumes = tasks[c.name]["task"].get("Volumes", [])
        if not c.mounts_shared_storage:
            assert volumes == []
            continue
        (volume,) = volumes
        efs = volume["EFSVolumeConfiguration"]
        assert efs["TransitEncryption"] == "ENABLED"
        assert efs["AuthorizationConfig"]["IAM"] == "ENABLED"
        assert tasks[c.name]["container"]["MountPoints"][0]["ContainerPath"] == "/opt/corridor/data"
        role = tasks[c.name]["task"]["TaskRoleArn"]["Fn::GetAtt"][0]
        actions = [
            a
            for r in resources.values()
            if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
            for st in r["Properties"]["PolicyDocument"]["Statement"]
            for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
        ]
        assert {"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"} <= set(actions)


def test_logs_go_to_encrypted_groups_under_ecs_corridor(fargate: Synthesized) -> None:
    groups = {
        r["Properties"]["LogGroupName"]: r["Properties"]
        for r in fargate.resources("CorridorProd", "AWS::Logs::LogGroup").values()
        if "LogGroupName" in r["Properties"]
    }
    for c in COMPONENTS:
        group = groups[f"/ecs/corridor/prod/{c.name}"]
        assert group["KmsKeyId"] == {"Fn::GetAtt": ["KeysLogsKeyD24E82DB", "Arn"]}
        assert group["RetentionInDays"] == 90


def test_services_are_private_with_rollback_and_exec(fargate: Synthesized) -> None:
    for name, svc in _services(fargate, "CorridorProd").items():
        net = svc["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert net["AssignPublicIp"] == "DISABLED", name
        assert all("Private" in s["Ref"] for s in net["Subnets"]), name
        assert svc["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
        assert svc["EnableExecuteCommand"] is True


def test_only_the_app_is_behind_the_load_balancer_and_prod_runs_two(fargate: Synthesized) -> None:
    services = _services(fargate, "CorridorProd")
    balanced = {n for n, s in services.items() if s.get("LoadBalancers")}
    assert balanced == {"corridor-app"}
    assert services["corridor-app"]["LoadBalancers"][0]["ContainerPort"] == 5002
    assert services["corridor-app"]["DesiredCount"] >= 2


def test_api_and_redis_are_discoverable_nothing_else(fargate: Synthesized) -> None:
    names = {r["Properties"]["Name"] for r in fargate.resources("CorridorProd", "AWS::ServiceDiscovery::Service").values()}
    assert names == {"api", "redis"}
    fargate.template("CorridorProd").has_resource_properties(
        "AWS::ServiceDiscovery::PrivateDnsNamespace", {"Name": "prod.corridor.internal"}
    )


def test_app_and_api_scale_on_cpu(fargate: Synthesized) -> None:
    targets = fargate.resources("CorridorProd", "AWS::ApplicationAutoScaling::ScalableTarget")
    assert len(targets) == 2
    for t in targets.values():
        assert t["Properties"]["MinCapacity"] == 2 and t["Properties"]["MaxCapacity"] == 4
    fargate.template("CorridorProd").has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": {
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                "TargetValue": 70,
                "ScaleInCooldown": 300,
                "ScaleOutCooldown": 60,
            }
        },
    )


def test_dev_runs_workers_on_spot_and_prod_does_not(fargate: Synthesized) -> None:
    def providers(stack: str) -> dict[str, str]:
        return {n: s["CapacityProviderStrategy"][0]["CapacityProvider"] for n, s in _services(fargate, stack).items()}

    dev, prod = providers("CorridorDev"), providers("CorridorProd")
    assert dev["corridor-worker-api"] == dev["corridor-worker-spark"] == "FARGATE_SPOT"
    assert dev["corridor-app"] == "FARGATE"
    assert set(prod.values()) == {"FARGATE"}


def test_single_az_pins_services_to_the_first_zone(fargate: Synthesized) -> None:
    for svc in _services(fargate, "CorridorDev").values():
        assert [s["Ref"] for s in svc["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"]] == [
            "NetworkVpcPrivateSubnet1Subnet6DD86AE6"
        ]


def test_ecr_pulls_are_granted_for_the_corridor_repository_only(fargate: Synthesized) -> None:
    text = json.dumps(fargate.resources("CorridorProd", "AWS::IAM::Policy"))
    assert "repository/corridor/ggx" in text
    assert '"ecr:*"' not in text


@pytest.mark.parametrize("stack", ["CorridorDev", "CorridorProd"])
def test_single_replica_services_stop_before_their_successor_starts(fargate: Synthesized, stack: str) -> None:
    """Redis/Jupyter: 0 % min / 100 % max healthy, so a deploy never runs two copies side by side."""
    sizing = SIZING[fargate.configs[stack].tier]
    services = _services(fargate, stack)
    for c in COMPONENTS:
        config = services[c.name]["DeploymentConfiguration"]
        limits = (config["MinimumHealthyPercent"], config["MaximumPercent"])
        assert limits == ((0, 100) if c.replicas(sizing) == 1 and not c.autoscaled else (100, 200)), c.name
    assert services["redis"]["DeploymentConfiguration"]["MaximumPercent"] == 100
    assert services["corridor-app"]["DeploymentConfiguration"]["MinimumHealthyPercent"] == 100
