"""Kubernetes manifests rendered from the component model, without a synth."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from corridor_cdk import kubernetes_manifests as k8s
from corridor_cdk.components import COMPONENTS, Component, HealthCheck, component
from corridor_cdk.runtime import SHARED_DATA_PATH, plain_environment, reads_database_secret, secret_environment
from corridor_cdk.sizing import TIERS, sizing_for

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = k8s.WorkloadSettings(
    environment="prod",
    region="us-east-1",
    corridor_image="111111111111.dkr.ecr.us-east-1.amazonaws.com/corridor/ggx:1.0.0",
    redis_image="public.ecr.aws/docker/library/redis:7.2-alpine",
    secret_arns={
        "database": "arn:aws:secretsmanager:us-east-1:1:secret:db",
        "app_secret_key": "arn:aws:secretsmanager:us-east-1:1:secret:key",
        "llm_api_keys": "arn:aws:secretsmanager:us-east-1:1:secret:llm",
        "license_key": "arn:aws:secretsmanager:us-east-1:1:secret:lic",
    },
    file_system_id="fs-0123",
    access_point_id="fsap-0456",
)


def _by_kind(manifests: list[dict], kind: str) -> list[dict]:
    return [m for m in manifests if m["kind"] == kind]


def _container(c: Component, tier: str = "small", settings: k8s.WorkloadSettings = SETTINGS) -> dict:
    return k8s.deployment(c, sizing_for(tier), settings)["spec"]["template"]["spec"]["containers"][0]


def test_probes_are_the_guides_for_every_http_component() -> None:
    app = _container(component("corridor-app"))
    assert app["livenessProbe"] == {
        "httpGet": {"path": "/health", "port": 5002},
        "initialDelaySeconds": 60,
        "periodSeconds": 30,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }
    assert app["readinessProbe"] == {
        "httpGet": {"path": "/health", "port": 5002},
        "initialDelaySeconds": 30,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }
    for c in COMPONENTS:
        container = _container(c)
        if c.health is not None:
            assert container["livenessProbe"]["httpGet"] == {"path": c.health.path, "port": c.port}
        elif c.port is not None:
            assert container["readinessProbe"]["tcpSocket"] == {"port": c.port}
            assert "livenessProbe" not in container
        else:
            assert "livenessProbe" not in container and "readinessProbe" not in container


def test_probe_timings_follow_the_model_not_constants() -> None:
    slow = dataclasses.replace(
        component("corridor-api"),
        health=HealthCheck(interval_seconds=45, start_period_seconds=120, readiness_initial_delay_seconds=50),
    )
    probes = k8s.probes(slow)
    assert probes["livenessProbe"]["periodSeconds"] == 45
    assert probes["livenessProbe"]["initialDelaySeconds"] == 120
    assert probes["readinessProbe"]["initialDelaySeconds"] == 50


@pytest.mark.parametrize("tier", TIERS)
def test_resources_and_replicas_by_tier(tier: str) -> None:
    sizing = sizing_for(tier)
    for c in COMPONENTS:
        size = c.task_size(sizing)
        limits = {"cpu": f"{size.cpu * 1000 // 1024}m", "memory": f"{size.memory_mib}Mi"}
        container = _container(c, tier)
        assert container["resources"]["limits"] == limits
        assert container["resources"]["requests"]["memory"] == limits["memory"]
        assert container["resources"]["requests"]["cpu"] == f"{size.cpu * 1000 // 1024 // 2}m"
        spec = k8s.deployment(c, sizing, SETTINGS)["spec"]
        if c.autoscaled:
            assert "replicas" not in spec  # the HPA owns the count
            hpa = k8s.horizontal_pod_autoscaler(c, sizing)
            assert hpa is not None
            assert hpa["spec"]["minReplicas"] == c.replicas(sizing)
            assert hpa["spec"]["maxReplicas"] == c.max_replicas(sizing)
        else:
            assert spec["replicas"] == c.replicas(sizing)


def test_hpa_scales_at_seventy_percent_of_the_task_size() -> None:
    hpa = k8s.horizontal_pod_autoscaler(component("corridor-app"), sizing_for("small"))
    assert hpa is not None
    target = hpa["spec"]["metrics"][0]["resource"]["target"]
    # utilisation is relative to the request (half the limit): 140 % of it is 70 % of the limit
    assert target == {"type": "Utilization", "averageUtilization": 140}
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300


def test_pdb_and_hpa_exist_exactly_for_autoscaled_components() -> None:
    names = {c.name for c in COMPONENTS if c.autoscaled}
    assert names == {"corridor-app", "corridor-api"}
    for c in COMPONENTS:
        pdb = k8s.pod_disruption_budget(c)
        assert (pdb is not None) == c.autoscaled
        assert (k8s.horizontal_pod_autoscaler(c, sizing_for("dev")) is not None) == c.autoscaled
        if pdb:
            assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": c.name}}}


def test_services_resolve_the_urls_the_runtime_model_hands_out() -> None:
    for c in COMPONENTS:
        env = plain_environment(c, environment="prod", service_domain=k8s.SERVICE_DOMAIN)
        for key in ("REDIS_URL", "CORRIDOR_API_URL"):
            if key not in env:
                continue
            host_port = env[key].split("://")[1].split("/")[0]
            host, port = host_port.split(":")
            short = host.removesuffix("." + k8s.SERVICE_DOMAIN)
            target = next(t for t in COMPONENTS if t.short_name == short)
            svc = k8s.service(target)
            assert svc is not None, target.name
            assert svc["metadata"]["name"] == short
            assert svc["metadata"]["namespace"] == k8s.NAMESPACE
            assert svc["spec"]["ports"][0]["port"] == int(port)


def test_secret_variables_come_only_from_the_synced_secret() -> None:
    for c in COMPONENTS:
        env = {e["name"]: e for e in _container(c)["env"]}
        for var in secret_environment(c):
            assert "value" not in env[var]
            assert env[var]["valueFrom"] == {"secretKeyRef": {"name": f"{c.name}-secrets", "key": var}}
        for var, value in plain_environment(c, environment="prod", service_domain=k8s.SERVICE_DOMAIN).items():
            assert env[var] == {"name": var, "value": value}


def test_secret_provider_class_reads_exactly_the_named_fields() -> None:
    app = component("corridor-app")
    spc = k8s.secret_provider_class(app, SETTINGS)
    assert spc is not None
    params = spc["spec"]["parameters"]
    assert params["usePodIdentity"] == "true"
    objects = json.loads(params["objects"])
    fields = {
        (o["objectName"], entry["path"], entry["objectAlias"]) for o in objects for entry in o["jmesPath"]
    }
    expected = {
        (SETTINGS.secret_arns[ref.secret], f'to_string("{ref.field}")', var)
        for var, ref in secret_environment(app).items()
    }
    assert fields == expected
    synced = spc["spec"]["secretObjects"][0]
    assert synced["secretName"] == "corridor-app-secrets"
    assert {d["key"] for d in synced["data"]} == set(secret_environment(app))
    assert k8s.secret_provider_class(component("redis"), SETTINGS) is None


@pytest.mark.parametrize("c", COMPONENTS, ids=lambda c: c.name)
def test_deployments_reading_a_synced_secret_ask_reloader_to_roll_on_its_change(c: Component) -> None:
    """Rotation -> CSI driver re-syncs ``<component>-secrets`` -> Reloader rolls the Deployment."""
    d = k8s.deployment(c, sizing_for("small"), SETTINGS)
    annotations = d["metadata"].get("annotations", {})
    spc = k8s.secret_provider_class(c, SETTINGS)
    if secret_environment(c):
        assert spc is not None
        assert annotations == {"secret.reloader.stakater.com/reload": spc["spec"]["secretObjects"][0]["secretName"]}
        assert annotations["secret.reloader.stakater.com/reload"] == f"{c.name}-secrets"
    else:
        assert spc is None
        assert "secret.reloader.stakater.com/reload" not in annotations
    # On the Deployment, not the pod template: Reloader reads it there, and a template
    # annotation would itself roll the pods on every change of the list.
    assert "annotations" not in d["spec"]["template"]["metadata"]


def test_every_database_user_and_no_other_component_is_reloaded() -> None:
    reloaded = {
        c.name
        for c in COMPONENTS
        if "secret.reloader.stakater.com/reload" in k8s.deployment(c, sizing_for("small"), SETTINGS)["metadata"].get("annotations", {})
    }
    assert reloaded == {c.name for c in COMPONENTS if reads_database_secret(c)}
    assert "redis" not in reloaded


def test_shared_volume_is_the_stacks_access_point_over_tls() -> None:
    pv = k8s.persistent_volume(SETTINGS)
    assert pv["spec"]["csi"]["volumeHandle"] == "fs-0123::fsap-0456"
    assert pv["spec"]["csi"]["volumeAttributes"]["encryptInTransit"] == "true"
    assert "tls" in pv["spec"]["mountOptions"] and "iam" in pv["spec"]["mountOptions"]
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    sc = k8s.storage_class()
    assert sc["provisioner"] == "efs.csi.aws.com" and "tls" in sc["mountOptions"]
    pvc = k8s.persistent_volume_claim()
    assert pvc["spec"]["volumeName"] == pv["metadata"]["name"]
    assert pvc["spec"]["storageClassName"] == sc["metadata"]["name"] == pv["spec"]["storageClassName"]
    for c in COMPONENTS:
        mounts = {m["mountPath"] for m in _container(c).get("volumeMounts", [])}
        assert (SHARED_DATA_PATH in mounts) == c.mounts_shared_storage, c.name


def test_pods_spread_across_zones_and_use_their_own_service_account() -> None:
    for c in COMPONENTS:
        pod = k8s.deployment(c, sizing_for("small"), SETTINGS)["spec"]["template"]["spec"]
        keys = {t["topologyKey"] for t in pod["topologySpreadConstraints"]}
        assert "topology.kubernetes.io/zone" in keys
        assert pod["serviceAccountName"] == c.name
        assert pod["automountServiceAccountToken"] is False


def test_non_ecr_registry_uses_the_operator_created_pull_secret() -> None:
    settings = dataclasses.replace(SETTINGS, image_pull_secret=k8s.REGISTRY_PULL_SECRET)
    app = k8s.deployment(component("corridor-app"), sizing_for("dev"), settings)["spec"]["template"]["spec"]
    redis = k8s.deployment(component("redis"), sizing_for("dev"), settings)["spec"]["template"]["spec"]
    assert app["imagePullSecrets"] == [{"name": "corridor-registry"}]
    assert "imagePullSecrets" not in redis
    assert "imagePullSecrets" not in k8s.deployment(component("corridor-app"), sizing_for("dev"), SETTINGS)["spec"][
        "template"
    ]["spec"]


def test_target_group_binding_points_at_the_given_target_group() -> None:
    tgb = k8s.target_group_binding(component("corridor-app"), "arn:tg")
    assert tgb["apiVersion"] == "elbv2.k8s.aws/v1beta1"
    assert tgb["spec"] == {"serviceRef": {"name": "app", "port": 5002}, "targetGroupARN": "arn:tg", "targetType": "ip"}


def test_workload_is_complete_and_namespaced() -> None:
    manifests = k8s.workload_manifests(COMPONENTS, sizing_for("small"), SETTINGS, "arn:tg")
    assert manifests[0]["kind"] == "Namespace" and manifests[0]["metadata"]["name"] == "corridor"
    assert {d["metadata"]["name"] for d in _by_kind(manifests, "Deployment")} == {c.name for c in COMPONENTS}
    assert len(_by_kind(manifests, "TargetGroupBinding")) == 1
    assert not _by_kind(manifests, "Secret"), "secret values must never be rendered into a manifest"
    cluster_scoped = {"Namespace", "StorageClass", "PersistentVolume"}
    for m in manifests:
        if m["kind"] not in cluster_scoped:
            assert m["metadata"]["namespace"] == "corridor", m


def _string_constants(path: Path) -> set[str]:
    """String literals of a module, without docstrings and comments."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, (str, int)) and id(n) not in docstrings
    }


@pytest.mark.parametrize("module", ["corridor_cdk/kubernetes_manifests.py", "constructs_lib/eks_compute.py"])
def test_eks_code_hard_codes_no_component(module: str) -> None:
    constants = _string_constants(ROOT / module)
    for c in COMPONENTS:
        assert c.name not in constants, f"{module} names {c.name}"
        if c.port is not None:
            assert c.port not in constants, f"{module} hard-codes port {c.port}"


@pytest.mark.parametrize("tier", TIERS)
def test_single_replicas_are_recreated_others_roll_with_a_surge(tier: str) -> None:
    """Redis and Jupyter (one fixed replica) must never run twice; scaled components keep serving."""
    sizing = sizing_for(tier)
    for c in COMPONENTS:
        strategy = k8s.deployment(c, sizing, SETTINGS)["spec"]["strategy"]
        if c.replicas(sizing) == 1 and not c.autoscaled:
            assert strategy == {"type": "Recreate"}, c.name
        else:
            assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}, c.name
    assert k8s.deployment(component("redis"), sizing, SETTINGS)["spec"]["strategy"]["type"] == "Recreate"
    assert k8s.deployment(component("corridor-jupyter"), sizing, SETTINGS)["spec"]["strategy"]["type"] == "Recreate"
    assert k8s.deployment(component("corridor-app"), sizing, SETTINGS)["spec"]["strategy"]["type"] == "RollingUpdate"
