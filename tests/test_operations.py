"""Operations on every compute method: alerts, alarms, dashboard, logs, backups, WAF, budget, outputs.

Most tests take ``any_compute`` (every method in conftest's COMPUTE_METHODS) and read what the
compute method exposes through its contract from the stack object, so EKS and EC2 are checked
the moment they are added there. The probe tests at the end feed the monitoring construct an
invented compute method to show the contract is all it needs.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_efs as efs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Template

from constructs_lib.backup import backup_rules
from constructs_lib.compute_common import ComponentMetrics, ComputeObservability
from constructs_lib.monitoring import DB_INSTANCE_MEMORY_GIB, Monitoring
from constructs_lib.waf import MANAGED_RULE_GROUPS
from corridor_cdk.sizing import TIERS, sizing_for
from tests.synth import DR_STACKS, STACKS, Synthesized, one_resource

ROOT = Path(__file__).resolve().parent.parent
GIB = 1024**3

# Where each compute method's CPU and memory metrics must come from (the issue: ECS
# service metrics on Fargate, Container Insights on EKS, the CloudWatch agent on EC2).
COMPUTE_NAMESPACES: dict[str, dict[str, set[str]]] = {
    "fargate": {"cpu": {"AWS/ECS"}, "memory": {"AWS/ECS"}},
    "eks": {"cpu": {"ContainerInsights"}, "memory": {"ContainerInsights"}},
    "ec2": {"cpu": {"CWAgent", "AWS/EC2"}, "memory": {"CWAgent"}},
}
# What the AccessCommand output contains per method (any one of the alternatives).
ACCESS_COMMANDS = {
    "fargate": ("aws ecs execute-command",),
    "eks": ("kubectl", "aws eks update-kubeconfig"),
    "ec2": ("aws ssm start-session", "ssh "),
}


# --- helpers ----------------------------------------------------------------------------
def _resources(s: Synthesized, stack: str, type_: str) -> dict[str, dict[str, Any]]:
    return s.resources(stack, type_)


def _alarms(s: Synthesized, stack: str) -> dict[str, dict[str, Any]]:
    """Alarm properties by alarm name without the ``corridor-<env>-`` prefix."""
    prefix = s.configs[stack].resource_prefix + "-"
    alarms = {}
    for resource in _resources(s, stack, "AWS::CloudWatch::Alarm").values():
        name = resource["Properties"]["AlarmName"]
        assert name.startswith(prefix), name
        alarms[name.removeprefix(prefix)] = resource["Properties"]
    return alarms


def _metrics(props: dict[str, Any]) -> list[dict[str, Any]]:
    """Every metric an alarm reads: namespace, name, statistic, period, dimensions."""

    def dims(raw: list[dict[str, Any]]) -> dict[str, Any]:
        return {d["Name"]: d["Value"] for d in raw}

    if "MetricName" in props:
        return [
            {
                "namespace": props["Namespace"],
                "name": props["MetricName"],
                "stat": props.get("Statistic") or props.get("ExtendedStatistic"),
                "period": props["Period"],
                "dims": dims(props.get("Dimensions", [])),
            }
        ]
    found = []
    for query in props["Metrics"]:
        if "MetricStat" in query:
            stat = query["MetricStat"]
            found.append(
                {
                    "namespace": stat["Metric"]["Namespace"],
                    "name": stat["Metric"]["MetricName"],
                    "stat": stat["Stat"],
                    "period": stat["Period"],
                    "dims": dims(stat["Metric"].get("Dimensions", [])),
                }
            )
    return found


def _expression(props: dict[str, Any]) -> str:
    (expression,) = [q["Expression"] for q in props.get("Metrics", []) if "Expression" in q]
    return expression


def _single_metric(props: dict[str, Any], namespace: str, name: str, stat: str, period: int) -> dict[str, Any]:
    assert "MetricName" in props, "a single-metric alarm names its metric directly"
    (metric,) = _metrics(props)
    assert (metric["namespace"], metric["name"], metric["stat"], metric["period"]) == (namespace, name, stat, period)
    return metric


def _topic_ref(s: Synthesized, stack: str) -> dict[str, str]:
    logical_id, _ = one_resource(s, stack, "AWS::SNS::Topic")
    return {"Ref": logical_id}


def _observability(s: Synthesized, stack: str) -> ComputeObservability:
    return s.stacks[stack].compute.observability


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def _text(value: Any) -> str:
    return json.dumps(value)


# --- alerts topic -------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_alerts_topic_is_kms_encrypted_and_emails_the_configured_address(any_compute: Synthesized, stack: str) -> None:
    _, topic = one_resource(any_compute, stack, "AWS::SNS::Topic")
    props = topic["Properties"]
    assert props["TopicName"] == f"corridor-{any_compute.configs[stack].name}-alerts"
    assert props["KmsMasterKeyId"] == {"Fn::GetAtt": ["KeysAlertsKeyA195AD70", "Arn"]}
    _, subscription = one_resource(any_compute, stack, "AWS::SNS::Subscription")
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == any_compute.configs[stack].alert_email
    assert subscription["Properties"]["TopicArn"] == _topic_ref(any_compute, stack)


@pytest.mark.parametrize("stack", STACKS)
def test_topic_policy_refuses_plain_http_and_admits_only_this_accounts_alarms(
    any_compute: Synthesized, stack: str
) -> None:
    _, policy = one_resource(any_compute, stack, "AWS::SNS::TopicPolicy")
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for st in statements
    )
    (alarms,) = [st for st in statements if st.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert alarms["Condition"]["StringEquals"] == {"aws:SourceAccount": any_compute.configs[stack].account}


@pytest.mark.parametrize("stack", STACKS)
def test_alerts_key_lets_every_publisher_encrypt(any_compute: Synthesized, stack: str) -> None:
    """SNS encrypts with the topic's key on the publisher's behalf: each publishing service needs it."""
    key = any_compute.templates[stack]["Resources"]["KeysAlertsKeyA195AD70"]
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    allowed: set[str] = set()
    for st in statements:
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(actions):
            services = st["Principal"].get("Service", [])
            allowed |= set(services if isinstance(services, list) else [services])
            if "cloudwatch.amazonaws.com" in services:  # only this account's alarms
                assert st["Condition"] == {"StringEquals": {"aws:SourceAccount": any_compute.configs[stack].account}}
    assert {"cloudwatch.amazonaws.com", "events.amazonaws.com"} <= allowed
    assert "budgets.amazonaws.com" not in allowed


# --- alarms -------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_guide_alarm_load_balancer_healthy_hosts(any_compute: Synthesized, stack: str) -> None:
    """Guide alarm 1: HealthyHostCount, Minimum, 60 s, < 1, 2 periods."""
    alarm = _alarms(any_compute, stack)["health-check-failures"]
    metric = _single_metric(alarm, "AWS/ApplicationELB", "HealthyHostCount", "Minimum", 60)
    assert set(metric["dims"]) == {"LoadBalancer", "TargetGroup"}
    assert metric["dims"]["TargetGroup"] == {"Fn::GetAtt": ["LoadBalancerAppTargetsBA630F2E", "TargetGroupFullName"]}
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == (
        1,
        "LessThanThreshold",
        2,
    )
    assert alarm["TreatMissingData"] == "breaching"


@pytest.mark.parametrize("stack", STACKS)
def test_guide_alarms_compute_cpu_and_memory_for_every_unit(any_compute: Synthesized, stack: str) -> None:
    """Guide alarms 2 and 3 (CPU > 80 %, memory > 85 %, Average, 300 s, 2 periods), once per
    unit the compute method reports, from the method's own metric source."""
    obs = _observability(any_compute, stack)
    alarms = _alarms(any_compute, stack)
    labels = [unit.label for unit in obs.utilisation]
    assert labels, "the compute method reports no CPU/memory metrics"
    assert sorted(n for n in alarms if n.startswith("high-cpu-")) == sorted(f"high-cpu-{_slug(l)}" for l in labels)
    assert sorted(n for n in alarms if n.startswith("high-memory-")) == sorted(
        f"high-memory-{_slug(l)}" for l in labels
    )
    expected = COMPUTE_NAMESPACES.get(obs.method)
    for label in labels:
        for kind, threshold in (("cpu", 80), ("memory", 85)):
            alarm = alarms[f"high-{kind}-{_slug(label)}"]
            assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == (
                threshold,
                "GreaterThanThreshold",
                2,
            ), (label, kind)
            metrics = _metrics(alarm)
            assert metrics and all(m["period"] == 300 for m in metrics), (label, kind)
            if "MetricName" in alarm:
                assert alarm["Statistic"] == "Average"
            if expected is not None:
                assert {m["namespace"] for m in metrics} <= expected[kind], (label, kind, metrics)


def test_fargate_cpu_alarms_read_ecs_service_metrics(fargate: Synthesized) -> None:
    alarm = _alarms(fargate, "CorridorProd")["high-cpu-corridor-app"]
    metric = _single_metric(alarm, "AWS/ECS", "CPUUtilization", "Average", 300)
    assert metric["dims"] == {
        "ClusterName": {"Ref": "FargateCluster03BAFB94"},
        "ServiceName": {"Fn::GetAtt": ["FargateAppService9ADB6E75", "Name"]},
    }
    memory = _alarms(fargate, "CorridorProd")["high-memory-corridor-app"]
    _single_metric(memory, "AWS/ECS", "MemoryUtilization", "Average", 300)


@pytest.mark.parametrize("stack", STACKS)
def test_guide_alarm_database_connections(any_compute: Synthesized, stack: str) -> None:
    """Guide alarm 4: DatabaseConnections, Average, 300 s, > 80, 1 period."""
    alarm = _alarms(any_compute, stack)["db-connection-errors"]
    metric = _single_metric(alarm, "AWS/RDS", "DatabaseConnections", "Average", 300)
    assert metric["dims"] == {"DBInstanceIdentifier": {"Ref": "DatabaseInstanceAA8A5FDE"}}
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == (
        80,
        "GreaterThanThreshold",
        1,
    )


@pytest.mark.parametrize("stack", STACKS)
def test_every_alarm_notifies_the_topic_on_alarm_and_on_ok(any_compute: Synthesized, stack: str) -> None:
    topic = _topic_ref(any_compute, stack)
    alarms = _alarms(any_compute, stack)
    # Guide and operator alarms, three per compute unit (six services, or one EC2 host group), NAT.
    assert len(alarms) >= 14
    for name, alarm in alarms.items():
        assert alarm["AlarmActions"] == [topic], name
        assert alarm["OKActions"] == [topic], name
        assert alarm.get("ActionsEnabled", True) is True, name
        assert alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"], name


# (name, namespace, metric, statistic, period, threshold or None = computed, comparison, periods)
OPERATOR_ALARMS = [
    ("unhealthy-targets", "AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", 60, 0, "GreaterThanThreshold", 5),
    ("target-response-time", "AWS/ApplicationELB", "TargetResponseTime", "p95", 300, 5, "GreaterThanThreshold", 3),
    ("db-high-cpu", "AWS/RDS", "CPUUtilization", "Average", 300, 80, "GreaterThanThreshold", 3),
    ("db-low-storage", "AWS/RDS", "FreeStorageSpace", "Minimum", 300, None, "LessThanThreshold", 2),
    ("db-low-memory", "AWS/RDS", "FreeableMemory", "Minimum", 300, None, "LessThanThreshold", 3),
    ("certificate-expiry", "AWS/CertificateManager", "DaysToExpiry", "Minimum", 86400, 30, "LessThanThreshold", 1),
]


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("spec", OPERATOR_ALARMS, ids=[a[0] for a in OPERATOR_ALARMS])
def test_operator_alarm(any_compute: Synthesized, stack: str, spec: tuple[Any, ...]) -> None:
    name, namespace, metric, stat, period, threshold, comparison, periods = spec
    sizing = any_compute.configs[stack].sizing
    computed = {
        "db-low-storage": round(sizing.db_storage_gib * GIB * 0.05),
        "db-low-memory": round(DB_INSTANCE_MEMORY_GIB[sizing.db_instance_class] * GIB * 0.10),
    }
    alarm = _alarms(any_compute, stack)[name]
    _single_metric(alarm, namespace, metric, stat, period)
    expected_threshold = computed[name] if threshold is None else threshold
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == (
        expected_threshold,
        comparison,
        periods,
    )


@pytest.mark.parametrize("stack", STACKS)
def test_load_balancer_5xx_rate_alarm(any_compute: Synthesized, stack: str) -> None:
    alarm = _alarms(any_compute, stack)["http-5xx-rate"]
    assert {(m["name"], m["stat"], m["period"]) for m in _metrics(alarm)} == {
        ("RequestCount", "Sum", 300),
        ("HTTPCode_Target_5XX_Count", "Sum", 300),
        ("HTTPCode_ELB_5XX_Count", "Sum", 300),
    }
    expression = _expression(alarm)
    assert "100 *" in expression and ">= 20" in expression
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == (
        5,
        "GreaterThanThreshold",
        2,
    )


@pytest.mark.parametrize("stack", STACKS)
def test_file_storage_alarm_follows_the_throughput_mode(any_compute: Synthesized, stack: str) -> None:
    alarms = _alarms(any_compute, stack)
    if any_compute.stacks[stack].file_system is None:  # EC2: files on EBS, no EFS alarm
        assert not [n for n in alarms if n.startswith("efs-")]
        return
    if any_compute.configs[stack].sizing.efs_provisioned_mibps is None:
        alarm = alarms["efs-burst-credits"]
        _single_metric(alarm, "AWS/EFS", "BurstCreditBalance", "Minimum", 300)
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (192 * 10**9, "LessThanThreshold")
        assert "efs-throughput" not in alarms
    else:
        alarm = alarms["efs-throughput"]
        assert {m["name"] for m in _metrics(alarm)} == {"MeteredIOBytes", "PermittedThroughput"}
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (90, "GreaterThanThreshold")


@pytest.mark.parametrize("stack", STACKS)
def test_every_nat_gateway_has_error_alarms(any_compute: Synthesized, stack: str) -> None:
    gateways = set(_resources(any_compute, stack, "AWS::EC2::NatGateway"))
    assert gateways
    alarms = _alarms(any_compute, stack)
    watched = set()
    for name, alarm in alarms.items():
        if name.startswith("nat-port-allocation-"):
            metric = _single_metric(alarm, "AWS/NATGateway", "ErrorPortAllocation", "Sum", 300)
            assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")
            watched.add(metric["dims"]["NatGatewayId"]["Ref"])
    assert watched == gateways
    drops = [a for n, a in alarms.items() if n.startswith("nat-packet-drops-")]
    assert len(drops) == len(gateways)
    for alarm in drops:
        assert {m["name"] for m in _metrics(alarm)} == {
            "PacketsDropCount",
            "PacketsInFromSource",
            "PacketsInFromDestination",
        }
        assert alarm["Threshold"] == 0.01


@pytest.mark.parametrize("stack", STACKS)
def test_unhealthy_units_alarm_for_every_reported_unit(any_compute: Synthesized, stack: str) -> None:
    """Tasks, pods or instances missing or unhealthy for 5 minutes (the contract's ``unhealthy``)."""
    obs = _observability(any_compute, stack)
    assert obs.unhealthy, "the compute method reports no unhealthy-unit metric"
    alarms = _alarms(any_compute, stack)
    for label, _ in obs.unhealthy:
        alarm = alarms[f"unhealthy-{_slug(label)}"]
        assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["EvaluationPeriods"]) == (
            0,
            "GreaterThanThreshold",
            5,
        )
        assert all(m["period"] == 60 for m in _metrics(alarm)), label


def test_fargate_missing_tasks_come_from_container_insights(fargate: Synthesized) -> None:
    alarm = _alarms(fargate, "CorridorProd")["unhealthy-corridor-app"]
    assert {(m["namespace"], m["name"]) for m in _metrics(alarm)} == {
        ("ECS/ContainerInsights", "DesiredTaskCount"),
        ("ECS/ContainerInsights", "RunningTaskCount"),
    }
    assert _expression(alarm) == "desired_h1 - running_h1"


def test_every_tier_database_class_has_a_known_memory_size() -> None:
    for tier in TIERS:
        assert sizing_for(tier).db_instance_class in DB_INSTANCE_MEMORY_GIB, tier


def test_monitoring_depends_on_no_compute_method() -> None:
    """Alarms and dashboard only see the Compute contract: no ECS, EKS or EC2 import."""
    tree = ast.parse((ROOT / "constructs_lib" / "monitoring.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    forbidden = {"aws_ecs", "aws_eks", "aws_autoscaling", "constructs_lib.fargate_compute"}
    assert not imported & forbidden
    assert not [name for name in imported if "fargate" in name or "eks_" in name or "ec2_compute" in name]


# --- dashboard ------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_health_dashboard_has_the_guides_sections(any_compute: Synthesized, stack: str) -> None:
    _, dashboard = one_resource(any_compute, stack, "AWS::CloudWatch::Dashboard")
    props = dashboard["Properties"]
    cfg = any_compute.configs[stack]
    assert props["DashboardName"] == f"CorridorHealthDashboard-{cfg.name}-{cfg.region}"
    body = _text(props["DashboardBody"])
    for title in ("Load Balancer Health", "Compute Resources", "Database Health", "Storage", "Alarms"):
        assert title in body, title
    for metric in ("HealthyHostCount", "UnHealthyHostCount", "DatabaseConnections", "FreeStorageSpace"):
        assert metric in body, metric
    for unit in _observability(any_compute, stack).utilisation:
        assert f'\\"label\\":\\"{unit.label}\\"' in body, unit.label
    if any_compute.stacks[stack].file_system is not None:
        assert "StorageBytes" in body and "BurstCreditBalance" in body
    assert "BucketSizeBytes" in body  # the guide's S3 backup bucket check
    assert "Recent errors" in body  # Logs Insights over the compute method's log groups


# --- log groups -------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS + DR_STACKS)
def test_every_log_group_is_encrypted_and_expires_by_tier(any_compute: Synthesized, stack: str) -> None:
    """In the stack and in any nested stack (none today; the policy and this check cover them if one appears)."""
    env = any_compute.configs.get(stack) or any_compute.configs[stack.removesuffix("Dr")]
    templates = [any_compute.templates[stack]] + [
        json.loads(nested.read_text()) for nested in any_compute.outdir.glob(f"{stack}*.nested.template.json")
    ]
    for index, template in enumerate(templates):
        resources = template["Resources"]
        declared_default_groups = set()
        for logical_id, resource in resources.items():
            assert resource["Type"] != "Custom::LogRetention", logical_id
            if resource["Type"] == "AWS::Logs::LogGroup":
                props = resource["Properties"]
                assert props.get("KmsKeyId"), logical_id
                if index == 0 and stack in STACKS:
                    assert props["KmsKeyId"] == {"Fn::GetAtt": ["KeysLogsKeyD24E82DB", "Arn"]}, logical_id
                assert props.get("RetentionInDays") == env.sizing.log_retention_days, logical_id
                name = props.get("LogGroupName")
                if isinstance(name, dict) and name.get("Fn::Join", [None])[0] == "":
                    parts = name["Fn::Join"][1]
                    if parts[0] == "/aws/lambda/" and isinstance(parts[1], dict):
                        declared_default_groups.add(parts[1].get("Ref"))
        for logical_id, resource in resources.items():
            if resource["Type"] == "AWS::Lambda::Function":
                # Otherwise Lambda creates /aws/lambda/<name> unencrypted and without expiry.
                has_group = "LogGroup" in resource["Properties"].get("LoggingConfig", {})
                assert has_group or logical_id in declared_default_groups, logical_id
                assert "LogRetention" not in logical_id


# --- backup ---------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_backup_vault_is_encrypted_retained_and_locked_when_protected(any_compute: Synthesized, stack: str) -> None:
    _, vault = one_resource(any_compute, stack, "AWS::Backup::BackupVault")
    assert vault["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": ["KeysBackupKey75AC2438", "Arn"]}
    assert vault["DeletionPolicy"] == "RetainExceptOnCreate"
    if any_compute.configs[stack].protect_data:
        assert vault["Properties"]["LockConfiguration"] == {"MinRetentionDays": 7}
    else:
        assert "LockConfiguration" not in vault["Properties"]


@pytest.mark.parametrize("stack", STACKS)
def test_backup_plan_has_daily_weekly_and_monthly_rules(any_compute: Synthesized, stack: str) -> None:
    _, plan = one_resource(any_compute, stack, "AWS::Backup::BackupPlan")
    rules = {r["RuleName"]: r for r in plan["Properties"]["BackupPlan"]["BackupPlanRule"]}
    assert set(rules) == {"Daily", "Weekly", "Monthly"}
    daily_days = any_compute.configs[stack].sizing.backup_daily_retention_days
    assert 7 <= daily_days <= 35
    assert rules["Daily"]["ScheduleExpression"] == "cron(0 6 * * ? *)"
    assert rules["Daily"]["Lifecycle"] == {"DeleteAfterDays": daily_days}
    assert rules["Weekly"]["ScheduleExpression"] == "cron(0 9 ? * SUN *)"
    assert rules["Weekly"]["Lifecycle"] == {"DeleteAfterDays": 90}
    assert rules["Monthly"]["ScheduleExpression"] == "cron(0 12 1 * ? *)"
    assert rules["Monthly"]["Lifecycle"] == {"DeleteAfterDays": 365, "MoveToColdStorageAfterDays": 90}
    for rule in rules.values():
        assert rule["TargetBackupVault"] == {"Fn::GetAtt": ["BackupVaultADF21B19", "BackupVaultName"]}


@pytest.mark.parametrize(("tier", "days"), [("dev", 7), ("small", 14), ("medium", 21), ("large", 35)])
def test_daily_retention_per_tier(tier: str, days: int) -> None:
    daily, weekly, monthly = backup_rules(sizing_for(tier).backup_daily_retention_days)
    assert (daily.name, daily.delete_after_days) == ("Daily", days)
    assert weekly.delete_after_days > days and monthly.delete_after_days >= (monthly.cold_storage_after_days or 0) + 90


@pytest.mark.parametrize("stack", STACKS)
def test_backup_selection_covers_the_database_and_the_files(any_compute: Synthesized, stack: str) -> None:
    _, selection = one_resource(any_compute, stack, "AWS::Backup::BackupSelection")
    props = selection["Properties"]["BackupSelection"]
    text = _text(props)
    assert '"Ref": "DatabaseInstanceAA8A5FDE"' in text and "arn:aws:rds:" in text
    if any_compute.stacks[stack].file_system is not None:
        assert '"Ref": "SharedStorageFileSystemFF4F5FE9"' in text and ":file-system/" in text
    compute = any_compute.stacks[stack].compute
    if compute.backup_resources:  # EC2: its EBS volumes, by tag or ARN
        assert props.get("ListOfTags") or len(props.get("Resources", [])) > 1
    else:
        assert any_compute.stacks[stack].file_system is not None, "no file storage is backed up"
    role_id = props["IamRoleArn"]["Fn::GetAtt"][0]
    role = any_compute.templates[stack]["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "backup.amazonaws.com"}


@pytest.mark.parametrize("stack", STACKS)
def test_backups_are_copied_to_the_dr_region_only_where_configured(any_compute: Synthesized, stack: str) -> None:
    cfg = any_compute.configs[stack]
    _, plan = one_resource(any_compute, stack, "AWS::Backup::BackupPlan")
    rules = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    copy_failure_rules = [
        r for r in _resources(any_compute, stack, "AWS::Events::Rule").values() if "Copy Job" in _text(r)
    ]
    if cfg.dr_region is None:
        assert all("CopyActions" not in r for r in rules), stack
        assert not copy_failure_rules
        return
    assert len(copy_failure_rules) == 1
    arn = f"arn:aws:backup:{cfg.dr_region}:{cfg.account}:backup-vault:{cfg.resource_prefix}-dr-vault"
    for rule in rules:
        (copy,) = rule["CopyActions"]
        assert copy["DestinationBackupVaultArn"] == arn, rule["RuleName"]
        assert copy["Lifecycle"] == rule["Lifecycle"], rule["RuleName"]


def test_only_prod_copies_by_default(any_compute: Synthesized) -> None:
    assert {s for s, c in any_compute.configs.items() if c.dr_region} == {"CorridorProd"}


@pytest.mark.parametrize("stack", DR_STACKS)
def test_dr_stack_holds_the_vault_in_the_dr_region(any_compute: Synthesized, stack: str) -> None:
    main = stack.removesuffix("Dr")
    cfg = any_compute.configs[main]
    manifest = json.loads((any_compute.outdir / "manifest.json").read_text())
    artifact = manifest["artifacts"][stack]
    assert artifact["environment"] == f"aws://{cfg.account}/{cfg.dr_region}"
    assert stack in manifest["artifacts"][main]["dependencies"], "the DR vault must be deployed first"
    _, vault = one_resource(any_compute, stack, "AWS::Backup::BackupVault")
    assert vault["Properties"]["BackupVaultName"] == f"{cfg.resource_prefix}-dr-vault"
    key_id = vault["Properties"]["EncryptionKeyArn"]["Fn::GetAtt"][0]
    assert any_compute.templates[stack]["Resources"][key_id]["Type"] == "AWS::KMS::Key"
    # No cross-region reference: the copy rule builds the ARN from the fixed name.
    assert "Fn::ImportValue" not in _text(any_compute.templates[main])


@pytest.mark.parametrize("stack", STACKS)
def test_failed_backup_jobs_reach_the_topic(any_compute: Synthesized, stack: str) -> None:
    rules = [
        r["Properties"]
        for r in _resources(any_compute, stack, "AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"].get("source") == ["aws.backup"]
    ]
    backup_jobs = [r for r in rules if r["EventPattern"]["detail-type"] == ["Backup Job State Change"]]
    (rule,) = backup_jobs
    assert "FAILED" in rule["EventPattern"]["detail"]["state"]
    assert rule["EventPattern"]["detail"]["backupVaultName"] == [f"{any_compute.configs[stack].resource_prefix}-vault"]
    assert rule["Targets"][0]["Arn"] == _topic_ref(any_compute, stack)


# --- WAF ----------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_waf_protects_the_load_balancer_where_enabled(any_compute: Synthesized, stack: str) -> None:
    cfg = any_compute.configs[stack]
    acls = _resources(any_compute, stack, "AWS::WAFv2::WebACL")
    if not cfg.waf_enabled:
        assert not acls and not _resources(any_compute, stack, "AWS::WAFv2::WebACLAssociation")
        return
    (acl_id, acl), = acls.items()
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL" and props["DefaultAction"] == {"Allow": {}}
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for r in props["Rules"]
        if "ManagedRuleGroupStatement" in r["Statement"]
    }
    assert managed == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesSQLiRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    assert managed == {g.name for g in MANAGED_RULE_GROUPS}
    (rate,) = [r for r in props["Rules"] if "RateBasedStatement" in r["Statement"]]
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == cfg.waf_rate_limit
    assert rate["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert rate["Action"] == {"Block": {}}
    assert len({r["Priority"] for r in props["Rules"]}) == len(props["Rules"])

    _, association = one_resource(any_compute, stack, "AWS::WAFv2::WebACLAssociation")
    assert association["Properties"]["ResourceArn"] == {"Ref": "LoadBalancerAlb240B1141"}
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}

    _, logging = one_resource(any_compute, stack, "AWS::WAFv2::LoggingConfiguration")
    (destination,) = logging["Properties"]["LogDestinationConfigs"]
    group_name = f"aws-waf-logs-{cfg.resource_prefix}-web-acl"
    assert destination == f"arn:aws:logs:{cfg.region}:{cfg.account}:log-group:{group_name}"
    assert {"SingleHeader": {"Name": "authorization"}} in logging["Properties"]["RedactedFields"]
    groups = [g for g in _resources(any_compute, stack, "AWS::Logs::LogGroup").values()
              if g["Properties"].get("LogGroupName") == group_name]
    assert len(groups) == 1 and "KmsKeyId" in groups[0]["Properties"]
    policies = _text(_resources(any_compute, stack, "AWS::Logs::ResourcePolicy"))
    assert "delivery.logs.amazonaws.com" in policies


def test_waf_is_on_in_prod_by_default(any_compute: Synthesized) -> None:
    assert any_compute.configs["CorridorProd"].waf_enabled
    assert _resources(any_compute, "CorridorProd", "AWS::WAFv2::WebACL")


# --- budget -----------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_monthly_budget_emails_the_configured_address(any_compute: Synthesized, stack: str) -> None:
    cfg = any_compute.configs[stack]
    _, budget = one_resource(any_compute, stack, "AWS::Budgets::Budget")
    data = budget["Properties"]["Budget"]
    assert (data["BudgetType"], data["TimeUnit"]) == ("COST", "MONTHLY")
    assert data["BudgetName"] == f"corridor-{cfg.name}-monthly-{cfg.region}"  # budgets are account-global
    assert data["BudgetLimit"] == {"Amount": cfg.monthly_budget_usd, "Unit": "USD"}
    notifications = budget["Properties"]["NotificationsWithSubscribers"]
    assert {n["Notification"]["NotificationType"] for n in notifications} == {"ACTUAL", "FORECASTED"}
    for n in notifications:
        assert n["Subscribers"] == [{"SubscriptionType": "EMAIL", "Address": cfg.alert_email}]


# --- outputs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_operator_outputs(any_compute: Synthesized, stack: str) -> None:
    cfg = any_compute.configs[stack]
    outputs = any_compute.templates[stack]["Outputs"]
    for name in ("Url", "DashboardName", "AlertsTopicArn", "DatabaseSecretName", "AccessCommand", "BackupVaultName"):
        assert name in outputs, name
    assert outputs["DashboardName"]["Value"] == f"CorridorHealthDashboard-{cfg.name}-{cfg.region}"
    assert outputs["AlertsTopicArn"]["Value"] == _topic_ref(any_compute, stack)
    assert outputs["DatabaseSecretName"]["Value"] == f"corridor/{cfg.name}/database/credentials"
    command = _text(outputs["AccessCommand"]["Value"])
    method = _observability(any_compute, stack).method
    assert method == cfg.compute
    assert command.strip('"'), "empty access command"
    if method in ACCESS_COMMANDS:
        assert any(alternative in command for alternative in ACCESS_COMMANDS[method]), command
    assert ("DrBackupVaultArn" in outputs) == (cfg.dr_region is not None)
    assert ("WebAclArn" in outputs) == cfg.waf_enabled


# --- the contract: an invented compute method ---------------------------------------------------
def _fake_observability() -> ComputeObservability:
    """A compute method the code has never seen: its own namespace, period and statistic,
    and unhealthy expressions reusing the same metric ids."""

    def metric(name: str, unit: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="Fake/Compute",
            metric_name=name,
            dimensions_map={"Unit": unit},
            statistic="Maximum",
            period=Duration.minutes(1),
        )

    def missing(unit: str) -> cloudwatch.MathExpression:
        return cloudwatch.MathExpression(
            expression="desired - running",
            using_metrics={"desired": metric("Desired", unit), "running": metric("Running", unit)},
        )

    return ComputeObservability(
        method="fake",
        utilisation=(
            ComponentMetrics("alpha", metric("Cpu", "alpha"), metric("Memory", "alpha")),
            ComponentMetrics("Beta nodes", metric("Cpu", "beta"), metric("Memory", "beta")),
        ),
        unhealthy=(("alpha", missing("alpha")), ("Beta nodes", missing("beta"))),
        access_command="fake-shell",
    )


def _probe(
    observability: ComputeObservability, *, efs_provisioned_mibps: int | None, with_files: bool = True
) -> dict[str, Any]:
    app = cdk.App()
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(account="111111111111", region="us-east-1"))
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        availability_zones=["us-east-1a", "us-east-1b"],
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC)],
    )
    alb = elbv2.ApplicationLoadBalancer(stack, "Alb", vpc=vpc, internet_facing=True)
    targets = elbv2.ApplicationTargetGroup(stack, "Targets", vpc=vpc, port=80, target_type=elbv2.TargetType.IP)
    alb.add_listener("Http", port=80, default_target_groups=[targets])
    Monitoring(
        stack,
        "Monitoring",
        name_prefix="probe",
        dashboard_name="Probe",
        topic=sns.Topic(stack, "Topic"),
        load_balancer=alb,
        target_group=targets,
        certificate=acm.Certificate.from_certificate_arn(
            stack, "Certificate", "arn:aws:acm:us-east-1:111111111111:certificate/probe"
        ),
        database=rds.DatabaseInstance.from_database_instance_attributes(
            stack,
            "Database",
            instance_identifier="probe-db",
            instance_endpoint_address="probe-db.example.com",
            port=5432,
            security_groups=[],
        ),
        database_instance_class="t3.medium",
        database_storage_gib=20,
        file_system=(
            efs.FileSystem.from_file_system_attributes(
                stack,
                "Files",
                file_system_id="fs-12345678",
                security_group=ec2.SecurityGroup.from_security_group_id(stack, "FilesGroup", "sg-12345678"),
            )
            if with_files
            else None
        ),
        efs_provisioned_mibps=efs_provisioned_mibps,
        backup_bucket=None,
        nat_gateway_ids={"us-east-1a": "nat-0123456789abcdef0"},
        observability=observability,
        log_groups={},
        web_acl_metric_name="probe-web-acl",
    )
    return Template.from_stack(stack).to_json()


@pytest.fixture(scope="module")
def probe() -> dict[str, Any]:
    return _probe(_fake_observability(), efs_provisioned_mibps=128)


def _probe_alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        r["Properties"]["AlarmName"].removeprefix("probe-"): r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }


def test_contract_alone_drives_the_compute_alarms(probe: dict[str, Any]) -> None:
    alarms = _probe_alarms(probe)
    for label, slug in (("alpha", "alpha"), ("Beta nodes", "beta-nodes")):
        cpu = alarms[f"high-cpu-{slug}"]
        # The guide's statistic and period win over whatever the method chose.
        _single_metric(cpu, "Fake/Compute", "Cpu", "Average", 300)
        assert (cpu["Threshold"], cpu["EvaluationPeriods"]) == (80, 2)
        memory = alarms[f"high-memory-{slug}"]
        _single_metric(memory, "Fake/Compute", "Memory", "Average", 300)
        assert (memory["Threshold"], memory["EvaluationPeriods"]) == (85, 2)
        unhealthy = alarms[f"unhealthy-{slug}"]
        assert {m["name"] for m in _metrics(unhealthy)} == {"Desired", "Running"}
        assert all(m["period"] == 60 for m in _metrics(unhealthy))
    # Both methods' expressions used "desired"/"running": renamed apart so one graph holds both.
    assert _expression(alarms["unhealthy-alpha"]) == "desired_h1 - running_h1"
    assert _expression(alarms["unhealthy-beta-nodes"]) == "desired_h2 - running_h2"
    body = _text(next(r for r in probe["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"))
    assert "Beta nodes" in body and "Compute Resources (fake)" in body


def test_provisioned_efs_is_watched_for_throughput_not_burst_credits(probe: dict[str, Any]) -> None:
    alarms = _probe_alarms(probe)
    assert "efs-burst-credits" not in alarms
    throughput = alarms["efs-throughput"]
    assert {(m["name"], m["stat"]) for m in _metrics(throughput)} == {
        ("MeteredIOBytes", "Sum"),
        ("PermittedThroughput", "Average"),
    }
    assert "PERIOD(metered)" in _expression(throughput)


def test_without_efs_and_unhealthy_metrics_the_rest_still_stands() -> None:
    """EC2's shape: no EFS, host groups from the CloudWatch agent, no unhealthy metric given."""
    group = {"AutoScalingGroupName": "corridor-hosts"}
    agent = ComputeObservability(
        method="ec2-like",
        utilisation=(
            ComponentMetrics(
                "corridor-hosts",
                cloudwatch.Metric(namespace="CWAgent", metric_name="cpu_usage_active", dimensions_map=group),
                cloudwatch.Metric(namespace="CWAgent", metric_name="mem_used_percent", dimensions_map=group),
            ),
        ),
    )
    alarms = _probe_alarms(_probe(agent, efs_provisioned_mibps=None, with_files=False))
    assert not [n for n in alarms if n.startswith(("efs-", "unhealthy-corridor"))]
    _single_metric(alarms["high-memory-corridor-hosts"], "CWAgent", "mem_used_percent", "Average", 300)
    assert {"health-check-failures", "db-connection-errors", "unhealthy-targets", "certificate-expiry"} <= set(alarms)


def test_backup_selection_takes_the_compute_methods_resources() -> None:
    """EC2 hands over its EBS volumes as backup resources (by tag): they join the selection."""
    from aws_cdk import aws_backup as backup
    from aws_cdk import aws_kms as kms

    from constructs_lib.backup import DataBackup

    app = cdk.App()
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(account="111111111111", region="us-east-1"))
    DataBackup(
        stack,
        "Backup",
        name_prefix="probe",
        key=kms.Key(stack, "Key"),
        resources=[
            backup.BackupResource.from_arn("arn:aws:rds:us-east-1:111111111111:db:probe-db"),
            backup.BackupResource.from_tag("corridor:backup", "daily"),
        ],
        daily_retention_days=7,
        protect=False,
        copy_to_vault_arn=None,
        topic=sns.Topic(stack, "Topic"),
    )
    (selection,) = [
        r["Properties"]["BackupSelection"]
        for r in Template.from_stack(stack).to_json()["Resources"].values()
        if r["Type"] == "AWS::Backup::BackupSelection"
    ]
    assert selection["Resources"] == ["arn:aws:rds:us-east-1:111111111111:db:probe-db"]
    assert selection["ListOfTags"] == [
        {"ConditionKey": "corridor:backup", "ConditionType": "STRINGEQUALS", "ConditionValue": "daily"}
    ]


def test_a_compute_method_without_metrics_is_refused() -> None:
    empty = ComputeObservability(method="none", utilisation=())
    with pytest.raises(Exception, match="exposes no CPU/memory metrics"):
        _probe(empty, efs_provisioned_mibps=None)


# --- the log policy on code we do not write ------------------------------------------------------
def test_log_policy_covers_generated_functions_and_nested_stacks() -> None:
    from aws_cdk import aws_kms as kms
    from aws_cdk import aws_lambda as lambda_
    from aws_cdk import aws_logs as logs

    from constructs_lib.log_policy import enforce_log_group_policy
    from corridor_cdk.app_factory import cdk_json_context

    app = cdk.App(context=cdk_json_context())  # the flags of cdk.json: CDK-managed Lambda log groups
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(account="111111111111", region="us-east-1"))
    key = kms.Key(stack, "LogsKey")
    code = lambda_.Code.from_inline("def handler(event, context): pass")
    lambda_.Function(stack, "Managed", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler", code=code)
    nested = cdk.NestedStack(stack, "Nested")
    lambda_.CfnFunction(nested, "Raw", role="arn:aws:iam::111111111111:role/x", code={"zipFile": "x"},
                        runtime="python3.12", handler="index.handler")
    created = enforce_log_group_policy(
        stack,
        key=key,
        retention=logs.RetentionDays.THREE_MONTHS,
        retention_days=90,
        removal_policy=cdk.RemovalPolicy.DESTROY,
        function_log_group_name="/aws/lambda/probe-generated",
    )
    assert len(created) == 1  # only the nested stack's raw function needed a group
    parent = Template.from_stack(stack).to_json()["Resources"]
    (managed_group,) = [r for r in parent.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert managed_group["Properties"]["RetentionInDays"] == 90  # CDK's default is 731
    assert "KmsKeyId" in managed_group["Properties"]
    (managed_fn,) = [r for r in parent.values() if r["Type"] == "AWS::Lambda::Function"]
    assert "LoggingConfig" not in managed_fn["Properties"]  # it already logs to its declared group
    child = Template.from_stack(nested).to_json()["Resources"]
    (raw,) = [r for r in child.values() if r["Type"] == "AWS::Lambda::Function"]
    (group_id, group), = [(k, r) for k, r in child.items() if r["Type"] == "AWS::Logs::LogGroup"]
    assert raw["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": group_id}}
    assert group["Properties"]["LogGroupName"] == "/aws/lambda/probe-generated-nested"
    assert group["Properties"]["RetentionInDays"] == 90 and "KmsKeyId" in group["Properties"]
