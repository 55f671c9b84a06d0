"""The Corridor component model: each component described once.

The Fargate, EKS and EC2 renderers all read this tuple; none of them hard-codes
a component name, port, health path or size. Sizes come from the tier record
(`corridor_cdk.sizing`), keyed by the component's role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from corridor_cdk.sizing import TaskSize, TierSizing

Role = Literal["web", "worker", "jupyter", "redis"]

HEALTH_PATH = "/health"
# Autoscaled components scale out above this average CPU, whatever runs them.
SCALE_ON_CPU_PERCENT = 70
REDIS_PORT = 6379


@dataclass(frozen=True)
class HealthCheck:
    """The guide's health-check timings (ECS container check and Kubernetes probes)."""

    path: str = HEALTH_PATH
    interval_seconds: int = 30
    timeout_seconds: int = 5
    retries: int = 3
    start_period_seconds: int = 60
    # Kubernetes readiness probe (guide: initialDelay 30, period 10, timeout 5, failures 3)
    readiness_initial_delay_seconds: int = 30
    readiness_period_seconds: int = 10


@dataclass(frozen=True)
class VmProcess:
    """How the Corridor bundle runs a component on a VM (EC2).

    From the vendor's "Running the Application" page: each installed component gets a
    virtual environment ``<install dir>/venv-<venv>`` whose ``bin/`` holds the command.

    Attributes:
        venv: the virtual environment's suffix (``api`` for ``venv-api``).
        command: the executable in that venv's ``bin/`` and its arguments.
        migration: arguments of the same venv's executable that migrate the database
            (``corridor-api db upgrade``), run once before the components start; None
            when the component migrates nothing.
    """

    venv: str
    command: tuple[str, ...]
    migration: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Component:
    """One Corridor process, independent of how it is run.

    Attributes:
        name: the guide's name (``corridor-app``...); used for services, units, deployments.
        role: selects the size row of the tier's tables.
        port: TCP port it listens on, or None for queue workers.
        health: HTTP health check, or None when the process serves no HTTP.
        image: ``corridor`` (the vendor image, one image for every component, as the
            guide's ``kubectl set image`` step shows) or ``redis``.
        bundle_target: name given to ``corridor-bundle/install`` on EC2 (guide step 6.4);
            None for redis, which EC2 installs from the OS packages.
        load_balanced: the load balancer's target group routes to it.
        discoverable: other components reach it by a private DNS name.
        uses_database / uses_app_secrets / mounts_shared_storage: what it is given.
        autoscaled: CPU target tracking (and an HPA/PDB on EKS).
        vm_process: how the bundle runs it on EC2; None for redis (an OS package there).
    """

    name: str
    role: Role
    port: int | None
    health: HealthCheck | None
    image: Literal["corridor", "redis"] = "corridor"
    bundle_target: str | None = None
    load_balanced: bool = False
    discoverable: bool = False
    uses_database: bool = True
    uses_app_secrets: bool = True
    mounts_shared_storage: bool = True
    autoscaled: bool = False
    vm_process: VmProcess | None = None

    @property
    def short_name(self) -> str:
        """``app`` for ``corridor-app``; used in construct IDs and env var values."""
        return self.name.removeprefix("corridor-")

    def task_size(self, sizing: TierSizing) -> TaskSize:
        """CPU and memory for this component in a tier."""
        return {
            "web": sizing.web_task,
            "worker": sizing.worker_task,
            "jupyter": sizing.jupyter_task,
            "redis": sizing.redis_task,
        }[self.role]

    def replicas(self, sizing: TierSizing) -> int:
        """Baseline replica count in a tier. Redis and Jupyter hold state in memory: one each."""
        if self.role == "web":
            return sizing.web_replicas
        if self.role == "worker":
            return sizing.worker_replicas
        return 1

    def single_instance(self, sizing: TierSizing) -> bool:
        """One fixed replica in this tier: a rollout must stop the old copy before starting
        the new one (Redis or Jupyter running twice would split their in-memory state)."""
        return self.replicas(sizing) == 1 and not self.autoscaled

    def max_replicas(self, sizing: TierSizing) -> int:
        """Upper bound for autoscaling."""
        return max(sizing.max_web_replicas, self.replicas(sizing)) if self.autoscaled else self.replicas(sizing)


COMPONENTS: tuple[Component, ...] = (
    Component(
        name="corridor-app",
        role="web",
        port=5002,  # the guide's health checks and probes target 5002
        health=HealthCheck(),
        bundle_target="app",
        load_balanced=True,
        autoscaled=True,
        vm_process=VmProcess(venv="app", command=("corridor-app", "run")),
    ),
    Component(
        name="corridor-api",
        role="web",
        port=5003,
        health=HealthCheck(),
        bundle_target="api",
        discoverable=True,
        autoscaled=True,
        vm_process=VmProcess(
            venv="api", command=("corridor-api", "run"), migration=("corridor-api", "db", "upgrade")
        ),
    ),
    Component(
        name="corridor-worker-api",
        role="worker",
        port=None,
        health=None,
        bundle_target="worker-api",
        vm_process=VmProcess(venv="api", command=("corridor-worker", "run", "--queue", "api")),
    ),
    Component(
        name="corridor-worker-spark",
        role="worker",
        port=None,
        health=None,
        bundle_target="worker-spark",
        vm_process=VmProcess(
            venv="api", command=("corridor-worker", "run", "--queue", "spark", "--queue", "quick_spark")
        ),
    ),
    Component(
        name="corridor-jupyter",
        role="jupyter",
        port=5004,
        health=HealthCheck(),
        bundle_target="jupyter",
        vm_process=VmProcess(venv="jupyter", command=("corridor-jupyter", "run")),
    ),
    Component(
        name="redis",
        role="redis",
        port=REDIS_PORT,
        health=None,
        image="redis",
        discoverable=True,
        uses_database=False,
        uses_app_secrets=False,
        mounts_shared_storage=False,
    ),
)


def component(name: str) -> Component:
    """Look a component up by name."""
    for c in COMPONENTS:
        if c.name == name:
            return c
    raise KeyError(name)


def load_balanced_component() -> Component:
    """The single component behind the load balancer (corridor-app)."""
    (lb,) = [c for c in COMPONENTS if c.load_balanced]
    return lb
