"""Kubernetes manifests rendered from the Corridor component model (pure Python).

Nothing here imports CDK: each function returns plain manifest dicts, so the
rendering is unit-tested without a synth. Values that are only known at deploy
time (secret ARNs, file system and target group ids) arrive as strings in
`WorkloadSettings` and may be CDK tokens.

What each component gets (only what the model says it needs):

- a ServiceAccount bound to its own IAM role through EKS Pod Identity (the role is
  created by the EKS construct), with no Kubernetes API token mounted;
- a Deployment: image, replicas and resources by tier, the guide's liveness and
  readiness probes, spread across zones and nodes, the shared EFS volume at
  ``SHARED_DATA_PATH`` and its secrets as environment variables;
- a SecretProviderClass (Secrets Store CSI driver, AWS provider) that reads exactly
  the Secrets Manager fields ``secret_environment(c)`` names and syncs them into a
  Kubernetes Secret of the same name; manifests carry secret ARNs, never values;
- a Service named by the component's short name when other components reach it
  (``api``, ``redis``) or the load balancer does (``app``);
- for autoscaled components, a HorizontalPodAutoscaler and a PodDisruptionBudget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from corridor_cdk.components import SCALE_ON_CPU_PERCENT, Component
from corridor_cdk.runtime import SHARED_DATA_PATH, SecretName, SecretRef, plain_environment, secret_environment
from corridor_cdk.sizing import TaskSize, TierSizing

Manifest = dict[str, Any]

NAMESPACE = "corridor"
SERVICE_DOMAIN = f"{NAMESPACE}.svc.cluster.local"  # <short-name>.<namespace>.svc.cluster.local

# Shared file storage: one static PersistentVolume on the stack's EFS access point.
STORAGE_CLASS = "corridor-efs"
SHARED_VOLUME = "corridor-data"  # PersistentVolume, PersistentVolumeClaim and pod volume name
SHARED_VOLUME_CAPACITY = "1Ti"  # nominal: EFS is elastic, Kubernetes only needs a number to bind
EFS_CSI_DRIVER = "efs.csi.aws.com"

SECRETS_VOLUME = "secrets-store"
SECRETS_MOUNT_PATH = "/mnt/secrets-store"
SECRETS_STORE_CSI_DRIVER = "secrets-store.csi.k8s.io"
# Stakater Reloader rolls a Deployment when a Secret this annotation names changes.
RELOADER_SECRET_ANNOTATION = "secret.reloader.stakater.com/reload"

# Same target as the Fargate services: scale out at 70 % of the task-size CPU.
# Kubernetes schedules by requests; a pod may burst to its limit (the Fargate task size).
# CPU is requested at half the limit so that the guide's node counts hold a tier's
# baseline replicas; memory is requested at the limit (memory cannot be reclaimed).
CPU_REQUEST_FRACTION = 0.5
SCALE_IN_STABILIZATION_SECONDS = 300  # Fargate: scale-in cooldown 300 s
SCALE_OUT_STABILIZATION_SECONDS = 60  # Fargate: scale-out cooldown 60 s
TERMINATION_GRACE_SECONDS = 60  # Fargate: stop timeout 60 s

REGISTRY_PULL_SECRET = "corridor-registry"  # created by operators for non-ECR registries (docs/eks.md)


@dataclass(frozen=True)
class WorkloadSettings:
    """Deploy-time facts the manifests need (strings may be CDK tokens).

    Attributes:
        environment: dev, staging or prod.
        region: AWS region, for the Secrets Manager provider.
        corridor_image: full image reference of the vendor image (``<registry>/corridor/ggx:<tag>``).
        redis_image: full image reference of Redis.
        secret_arns: ARN of each runtime secret, by the runtime model's name.
        file_system_id / access_point_id: the shared EFS file system and its access point.
        image_pull_secret: name of a docker-registry Secret for a non-ECR registry, else None.
    """

    environment: str
    region: str
    corridor_image: str
    redis_image: str
    secret_arns: Mapping[SecretName, str]
    file_system_id: str
    access_point_id: str
    image_pull_secret: str | None = None


# --------------------------------------------------------------------------------------
# Names and small pieces


def labels(c: Component) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": c.name,
        "app.kubernetes.io/part-of": "corridor",
        "app.kubernetes.io/component": c.role,
    }


def selector(c: Component) -> dict[str, str]:
    return {"app.kubernetes.io/name": c.name}


def service_name(c: Component) -> str:
    """Services use the short name so ``plain_environment`` URLs resolve (``api.corridor.svc...``)."""
    return c.short_name


def service_account_name(c: Component) -> str:
    return c.name


def secret_provider_class_name(c: Component) -> str:
    """Also the name of the Kubernetes Secret the CSI driver syncs the values into."""
    return f"{c.name}-secrets"


def needs_service(c: Component) -> bool:
    return c.port is not None and (c.discoverable or c.load_balanced)


def needs_aws_role(c: Component) -> bool:
    """A component gets an IAM role (Pod Identity) when it reads secrets at run time."""
    return bool(secret_environment(c))


def cpu_millicores(units: int) -> int:
    """ECS CPU units (1024 = 1 vCPU) to Kubernetes millicores."""
    return units * 1000 // 1024


def resources(size: TaskSize) -> dict[str, dict[str, str]]:
    """Requests and limits for a tier's task size (see CPU_REQUEST_FRACTION)."""
    limit_m = cpu_millicores(size.cpu)
    return {
        "requests": {"cpu": f"{int(limit_m * CPU_REQUEST_FRACTION)}m", "memory": f"{size.memory_mib}Mi"},
        "limits": {"cpu": f"{limit_m}m", "memory": f"{size.memory_mib}Mi"},
    }


def hpa_cpu_target_percent() -> int:
    """HPA utilisation is relative to the request: 70 % of the limit is 140 % of a half request."""
    return round(SCALE_ON_CPU_PERCENT / CPU_REQUEST_FRACTION)


def probes(c: Component) -> dict[str, Any]:
    """The guide's probes ("Health Monitoring", EKS): liveness 60/30/5/3, readiness 30/10/5/3.

    Components without an HTTP health check but with a port (Redis) get a TCP readiness probe.
    """
    if c.port is None:
        return {}
    if c.health is None:
        return {
            "readinessProbe": {
                "tcpSocket": {"port": c.port},
                "initialDelaySeconds": 5,
                "periodSeconds": 10,
                "timeoutSeconds": 5,
                "failureThreshold": 3,
            }
        }
    h = c.health
    http = {"path": h.path, "port": c.port}
    return {
        "livenessProbe": {
            "httpGet": http,
            "initialDelaySeconds": h.start_period_seconds,
            "periodSeconds": h.interval_seconds,
            "timeoutSeconds": h.timeout_seconds,
            "failureThreshold": h.retries,
        },
        "readinessProbe": {
            "httpGet": dict(http),
            "initialDelaySeconds": h.readiness_initial_delay_seconds,
            "periodSeconds": h.readiness_period_seconds,
            "timeoutSeconds": h.timeout_seconds,
            "failureThreshold": h.retries,
        },
    }


def _metadata(name: str, c: Component | None = None, namespaced: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespaced:
        meta["namespace"] = NAMESPACE
    meta["labels"] = labels(c) if c is not None else {"app.kubernetes.io/part-of": "corridor"}
    return meta


# --------------------------------------------------------------------------------------
# Cluster-level objects


def namespace() -> Manifest:
    """The guide's ``corridor`` namespace, with the baseline Pod Security Standard enforced."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NAMESPACE,
            "labels": {
                "app.kubernetes.io/part-of": "corridor",
                "pod-security.kubernetes.io/enforce": "baseline",
                "pod-security.kubernetes.io/warn": "restricted",
            },
        },
    }


def storage_class() -> Manifest:
    """The class the shared volume binds through. It provisions nothing dynamically:
    Corridor's data lives on the stack's one EFS access point (the same directory the
    Fargate tasks use), so the volume is static and outlives the cluster."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS, "labels": {"app.kubernetes.io/part-of": "corridor"}},
        "provisioner": EFS_CSI_DRIVER,
        "reclaimPolicy": "Retain",
        "volumeBindingMode": "Immediate",
        "mountOptions": ["tls", "iam"],
    }


def persistent_volume(settings: WorkloadSettings) -> Manifest:
    """EFS access point mounted with TLS (encryption in transit) and IAM authorization."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": SHARED_VOLUME, "labels": {"app.kubernetes.io/part-of": "corridor"}},
        "spec": {
            "capacity": {"storage": SHARED_VOLUME_CAPACITY},
            "volumeMode": "Filesystem",
            "accessModes": ["ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": STORAGE_CLASS,
            "mountOptions": ["tls", "iam"],
            "csi": {
                "driver": EFS_CSI_DRIVER,
                "volumeHandle": f"{settings.file_system_id}::{settings.access_point_id}",
                "volumeAttributes": {"encryptInTransit": "true"},
            },
        },
    }


def persistent_volume_claim() -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _metadata(SHARED_VOLUME),
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "storageClassName": STORAGE_CLASS,
            "volumeName": SHARED_VOLUME,
            "resources": {"requests": {"storage": SHARED_VOLUME_CAPACITY}},
        },
    }


def storage_manifests(settings: WorkloadSettings) -> list[Manifest]:
    return [storage_class(), persistent_volume(settings), persistent_volume_claim()]


# --------------------------------------------------------------------------------------
# Per component


def service_account(c: Component) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(service_account_name(c), c),
        # Corridor does not talk to the Kubernetes API; Pod Identity and the Secrets Store
        # CSI driver request their own audience-bound tokens.
        "automountServiceAccountToken": False,
    }


def _jmes_path(ref: SecretRef) -> str:
    # The AWS provider only accepts string results; the database secret's port is a number.
    return f'to_string("{ref.field}")'


def secret_provider_class(c: Component, settings: WorkloadSettings) -> Manifest | None:
    """Secrets Manager -> mounted files -> Kubernetes Secret ``<component>-secrets``.

    One object per Secrets Manager secret the component reads, one JMESPath entry per
    environment variable. The Secret is re-synced by the driver's rotation poll; pods
    read it at start-up, and Reloader rolls the Deployment annotated with the Secret's name
    when it changes (so a rotated database password reaches new pods).
    """
    env = secret_environment(c)
    if not env:
        return None
    objects = []
    for secret in sorted({ref.secret for ref in env.values()}):
        objects.append(
            {
                "objectName": settings.secret_arns[secret],
                "objectType": "secretsmanager",
                "objectAlias": secret,
                "jmesPath": [
                    {"path": _jmes_path(ref), "objectAlias": var}
                    for var, ref in sorted(env.items())
                    if ref.secret == secret
                ],
            }
        )
    return {
        "apiVersion": "secrets-store.csi.x-k8s.io/v1",
        "kind": "SecretProviderClass",
        "metadata": _metadata(secret_provider_class_name(c), c),
        "spec": {
            "provider": "aws",
            "parameters": {
                "region": settings.region,
                "usePodIdentity": "true",
                # A YAML string for the provider; JSON is valid YAML and escapes safely.
                "objects": json.dumps(objects),
            },
            "secretObjects": [
                {
                    "secretName": secret_provider_class_name(c),
                    "type": "Opaque",
                    "data": [{"objectName": var, "key": var} for var in sorted(env)],
                }
            ],
        },
    }


def container_env(c: Component, environment: str) -> list[dict[str, Any]]:
    """Plain settings by value, secrets by reference to the synced Secret (never a value)."""
    env: list[dict[str, Any]] = [
        {"name": k, "value": v}
        for k, v in sorted(plain_environment(c, environment=environment, service_domain=SERVICE_DOMAIN).items())
    ]
    env += [
        {"name": var, "valueFrom": {"secretKeyRef": {"name": secret_provider_class_name(c), "key": var}}}
        for var in sorted(secret_environment(c))
    ]
    return env


def strategy(c: Component, sizing: TierSizing) -> dict[str, Any]:
    """Like the Fargate services: start new pods first (100 % min healthy, 200 % max), except
    for a single fixed replica (Redis, Jupyter), which is stopped before its successor starts
    so two independent copies never run at once."""
    if c.single_instance(sizing):
        return {"type": "Recreate"}
    return {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}


def deployment(c: Component, sizing: TierSizing, settings: WorkloadSettings) -> Manifest:
    size = c.task_size(sizing)
    image = settings.corridor_image if c.image == "corridor" else settings.redis_image
    volume_mounts: list[dict[str, Any]] = []
    volumes: list[dict[str, Any]] = []
    if c.mounts_shared_storage:
        volume_mounts.append({"name": SHARED_VOLUME, "mountPath": SHARED_DATA_PATH})
        volumes.append({"name": SHARED_VOLUME, "persistentVolumeClaim": {"claimName": SHARED_VOLUME}})
    if secret_environment(c):
        # The CSI volume must be mounted for the driver to fetch and sync the secrets.
        volume_mounts.append({"name": SECRETS_VOLUME, "mountPath": SECRETS_MOUNT_PATH, "readOnly": True})
        volumes.append(
            {
                "name": SECRETS_VOLUME,
                "csi": {
                    "driver": SECRETS_STORE_CSI_DRIVER,
                    "readOnly": True,
                    "volumeAttributes": {"secretProviderClass": secret_provider_class_name(c)},
                },
            }
        )
    container: dict[str, Any] = {
        "name": c.name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": container_env(c, settings.environment),
        "resources": resources(size),
        "securityContext": {"allowPrivilegeEscalation": False},
        **probes(c),
    }
    if c.port is not None:
        container["ports"] = [{"name": "http" if c.health else "tcp", "containerPort": c.port}]
    if volume_mounts:
        container["volumeMounts"] = volume_mounts

    pod_spec: dict[str, Any] = {
        "serviceAccountName": service_account_name(c),
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector(c)},
            }
            for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
        ],
        "containers": [container],
    }
    if volumes:
        pod_spec["volumes"] = volumes
    if c.image == "corridor" and settings.image_pull_secret:
        pod_spec["imagePullSecrets"] = [{"name": settings.image_pull_secret}]

    spec: dict[str, Any] = {
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector(c)},
        "strategy": strategy(c, sizing),
        "template": {"metadata": {"labels": labels(c)}, "spec": pod_spec},
    }
    if not c.autoscaled:
        # Autoscaled deployments leave the count to their HPA (minReplicas = the tier's
        # baseline), so that `kubectl apply` of a new image never resets a scaled-out count.
        spec = {"replicas": c.replicas(sizing), **spec}
    metadata = _metadata(c.name, c)
    if secret_environment(c):
        # The CSI driver re-syncs the Secret after a rotation (rotationPollInterval); Reloader
        # then rolls this Deployment so new pods read the new values at start-up.
        metadata["annotations"] = {RELOADER_SECRET_ANNOTATION: secret_provider_class_name(c)}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}


def service(c: Component) -> Manifest | None:
    if not needs_service(c):
        return None
    assert c.port is not None
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(service_name(c), c),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(c),
            "ports": [{"name": "tcp", "port": c.port, "targetPort": c.port, "protocol": "TCP"}],
        },
    }


def horizontal_pod_autoscaler(c: Component, sizing: TierSizing) -> Manifest | None:
    if not c.autoscaled:
        return None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(c.name, c),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": c.name},
            "minReplicas": c.replicas(sizing),
            "maxReplicas": c.max_replicas(sizing),
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": hpa_cpu_target_percent()},
                    },
                }
            ],
            "behavior": {
                "scaleDown": {"stabilizationWindowSeconds": SCALE_IN_STABILIZATION_SECONDS},
                "scaleUp": {"stabilizationWindowSeconds": SCALE_OUT_STABILIZATION_SECONDS},
            },
        },
    }


def pod_disruption_budget(c: Component) -> Manifest | None:
    """At most one pod of an autoscaled component is evicted at a time (node drains,
    upgrades). maxUnavailable rather than minAvailable so a one-replica dev tier can
    still be drained."""
    if not c.autoscaled:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(c.name, c),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(c)}},
    }


def target_group_binding(c: Component, target_group_arn: str) -> Manifest:
    """Registers the Service's pod IPs in the stack's own target group (AWS Load Balancer
    Controller), so the load balancer, its certificate, WAF and alarms are defined once
    for every compute method. Security-group rules are CloudFormation's, not the controller's."""
    assert c.load_balanced and c.port is not None
    return {
        "apiVersion": "elbv2.k8s.aws/v1beta1",
        "kind": "TargetGroupBinding",
        "metadata": _metadata(service_name(c), c),
        "spec": {
            "serviceRef": {"name": service_name(c), "port": c.port},
            "targetGroupARN": target_group_arn,
            "targetType": "ip",
        },
    }


def component_manifests(c: Component, sizing: TierSizing, settings: WorkloadSettings) -> list[Manifest]:
    """Everything one component needs, in apply order (the TargetGroupBinding is separate:
    it needs the load balancer controller's CRD)."""
    items = [
        service_account(c),
        secret_provider_class(c, settings),
        deployment(c, sizing, settings),
        service(c),
        horizontal_pod_autoscaler(c, sizing),
        pod_disruption_budget(c),
    ]
    return [m for m in items if m is not None]


def workload_manifests(
    components: Sequence[Component], sizing: TierSizing, settings: WorkloadSettings, target_group_arn: str
) -> list[Manifest]:
    """The whole ``corridor`` namespace, for inspection and tests."""
    out = [namespace(), *storage_manifests(settings)]
    for c in components:
        out += component_manifests(c, sizing, settings)
        if c.load_balanced:
            out.append(target_group_binding(c, target_group_arn))
    return out
