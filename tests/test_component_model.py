"""The component model and sizing tables: one description of Corridor, the guide's numbers."""

from __future__ import annotations

from corridor_cdk.components import COMPONENTS, load_balanced_component
from corridor_cdk.runtime import plain_environment, secret_environment
from corridor_cdk.sizing import SIZING, TIERS


def test_the_guides_six_components() -> None:
    assert [c.name for c in COMPONENTS] == [
        "corridor-app",
        "corridor-api",
        "corridor-worker-api",
        "corridor-worker-spark",
        "corridor-jupyter",
        "redis",
    ]
    assert load_balanced_component().name == "corridor-app"
    assert load_balanced_component().port == 5002


def test_ports_are_distinct_so_one_vm_can_run_everything() -> None:
    ports = [c.port for c in COMPONENTS if c.port is not None]
    assert len(ports) == len(set(ports))


def test_health_checks_are_the_guides_timings() -> None:
    for c in COMPONENTS:
        if c.health:
            assert (c.health.path, c.health.interval_seconds, c.health.timeout_seconds) == ("/health", 30, 5)
            assert (c.health.retries, c.health.start_period_seconds) == (3, 60)


def test_sizing_tables_match_the_guide() -> None:
    assert tuple(SIZING) == TIERS
    assert [SIZING[t].db_instance_class for t in TIERS] == ["t3.medium", "t3.xlarge", "m5.xlarge", "m5.2xlarge"]
    assert [(SIZING[t].web_task.cpu, SIZING[t].web_task.memory_mib) for t in TIERS] == [
        (1024, 2048),
        (2048, 4096),
        (4096, 8192),
        (8192, 16384),
    ]
    assert [SIZING[t].redis_task.cpu for t in TIERS] == [512, 1024, 2048, 4096]
    assert [
        (n.instance_type, n.min_size, n.max_size) for n in (SIZING[t].eks_nodes for t in TIERS)
    ] == [("m5.large", 2, 5), ("m5.xlarge", 3, 8), ("m5.2xlarge", 3, 12), ("m5.4xlarge", 5, 20)]
    assert [SIZING[t].ec2_instances.instance_type for t in TIERS] == ["t3.xlarge", "t3.2xlarge", "m5.2xlarge", "m5.4xlarge"]
    assert SIZING["large"].ec2_instances.min_size >= 2
    assert all(7 <= SIZING[t].db_backup_retention_days <= 35 for t in TIERS)


def test_redis_gets_no_secrets_and_no_database() -> None:
    redis = next(c for c in COMPONENTS if c.name == "redis")
    assert secret_environment(redis) == {}
    assert plain_environment(redis, environment="prod", service_domain="x") == {}


def test_service_urls_follow_the_domain_or_localhost() -> None:
    app = load_balanced_component()
    assert plain_environment(app, environment="prod", service_domain="prod.corridor.internal")["REDIS_URL"] == (
        "redis://redis.prod.corridor.internal:6379/0"
    )
    assert plain_environment(app, environment="prod", service_domain="")["CORRIDOR_API_URL"] == "http://127.0.0.1:5003"
