"""The alerts topic, CloudWatch alarms and the health dashboard, for every compute method.

Written once for Fargate, EKS and EC2: everything compute-specific arrives through the
``ComputeObservability`` contract (constructs_lib/compute_common.py). The guide's four
alarms ("Health Monitoring and Assessment", step 2.2) keep the guide's metric, statistic,
threshold, period and evaluation periods; the rest are what an operator adds. Every
threshold is in ``AlarmThresholds`` and documented in docs/operations.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from aws_cdk import Duration, Stack
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_efs as efs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from constructs_lib.compute_common import ComputeObservability
from corridor_cdk.naming import pascal_case

GIB = 1024**3
ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)

# Memory of the RDS instance classes the sizing tiers use: the FreeableMemory alarm
# fires below a fraction of it. A tier that picks another class must add it here
# (tests/test_operations.py checks every tier's class is listed).
DB_INSTANCE_MEMORY_GIB: dict[str, int] = {
    "t3.medium": 4,
    "t3.large": 8,
    "t3.xlarge": 16,
    "t3.2xlarge": 32,
    "m5.large": 8,
    "m5.xlarge": 16,
    "m5.2xlarge": 32,
    "m5.4xlarge": 64,
    "r5.large": 16,
    "r5.xlarge": 32,
    "r5.2xlarge": 64,
}


@dataclass(frozen=True)
class AlarmThresholds:
    """Every alarm threshold in one place (docs/operations.md explains each).

    The first four are the guide's and should not change; the rest are operator defaults.
    """

    # --- the guide's alarms ------------------------------------------------------------
    healthy_hosts_below: float = 1  # HealthyHostCount, Minimum, 60 s x 2
    cpu_percent_above: float = 80  # compute CPU, Average, 300 s x 2
    memory_percent_above: float = 85  # compute memory, Average, 300 s x 2
    db_connections_above: float = 80  # DatabaseConnections, Average, 300 s x 1
    # --- operator additions ------------------------------------------------------------
    unhealthy_targets_above: float = 0  # UnHealthyHostCount, Maximum, 60 s x 5
    http_5xx_percent_above: float = 5  # (target + ELB 5xx) / requests, 300 s x 2
    http_5xx_min_requests: int = 20  # ignore 5-minute windows with fewer requests
    target_response_p95_seconds_above: float = 5  # TargetResponseTime p95, 300 s x 3
    db_cpu_percent_above: float = 80  # RDS CPUUtilization, Average, 300 s x 3
    db_free_storage_fraction_below: float = 0.05  # of allocated storage, Minimum, 300 s x 2
    db_freeable_memory_fraction_below: float = 0.10  # of instance memory, Minimum, 300 s x 3
    efs_burst_credit_bytes_below: float = 192 * 10**9  # ~30 min of 100 MiB/s bursting left
    efs_throughput_percent_above: float = 90  # provisioned throughput used, 300 s x 3
    certificate_days_below: float = 30  # ACM renews 60 days ahead: this means renewal failed
    nat_port_allocation_errors_above: float = 0  # ErrorPortAllocation, Sum, 300 s x 3
    nat_packet_drop_percent_above: float = 0.01  # AWS's recommended NAT drop-rate alarm
    missing_units_above: float = 0  # compute contract's "unhealthy" metrics, 60 s x 5


class Alerts(Construct):
    """The alerts SNS topic (the guide's ``corridor-alerts``) with the e-mail subscribed.

    Encrypted with ``key``, refuses non-TLS publishers, and its policy lets this account's
    CloudWatch alarms publish (EventBridge rules add their own statement when targeted).

    Attributes:
        topic.
    """

    def __init__(self, scope: Construct, construct_id: str, *, topic_name: str, key: kms.IKey, email: str) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=topic_name,
            display_name="Corridor alerts",
            master_key=key,
            enforce_ssl=True,
        )
        self.topic.add_subscription(subscriptions.EmailSubscription(email))
        stack = Stack.of(self)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:{stack.account}:alarm:*"},
                },
            )
        )


class Monitoring(Construct):
    """Alarms notifying ``topic`` and the ``CorridorHealthDashboard`` of one environment.

    Args:
        name_prefix: alarm names start with it (``corridor-prod``); names never depend on tokens.
        dashboard_name: the dashboard's name.
        topic: every alarm notifies it on ALARM and on OK.
        load_balancer, target_group, certificate: the public entry point.
        database, database_instance_class, database_storage_gib: RDS and its size.
        file_system, efs_provisioned_mibps: EFS (None on EC2) and its throughput mode.
        backup_bucket: the S3 backup bucket (dashboard only).
        nat_gateway_ids: NAT gateway id by zone.
        observability: the compute method's metrics (CPU, memory, unhealthy units).
        log_groups: the compute method's log groups (an error query on the dashboard).
        web_acl_metric_name: the WAF web ACL's name when WAF is on (dashboard only).
        thresholds: defaults to ``AlarmThresholds()``.

    Attributes:
        alarms: every alarm by its name without the prefix (``health-check-failures``...).
        dashboard.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        dashboard_name: str,
        topic: sns.ITopic,
        load_balancer: elbv2.IApplicationLoadBalancer,
        target_group: elbv2.IApplicationTargetGroup,
        certificate: acm.ICertificate,
        database: rds.IDatabaseInstance,
        database_instance_class: str,
        database_storage_gib: int,
        file_system: efs.IFileSystem | None,
        efs_provisioned_mibps: int | None,
        backup_bucket: s3.IBucket | None,
        nat_gateway_ids: Mapping[str, str],
        observability: ComputeObservability,
        log_groups: Mapping[str, logs.ILogGroup],
        web_acl_metric_name: str | None = None,
        thresholds: AlarmThresholds = AlarmThresholds(),
    ) -> None:
        super().__init__(scope, construct_id)
        if database_instance_class not in DB_INSTANCE_MEMORY_GIB:
            raise ValueError(
                f"no memory size known for db.{database_instance_class}: add it to DB_INSTANCE_MEMORY_GIB"
            )
        if not observability.utilisation:
            raise ValueError(f"compute method {observability.method!r} exposes no CPU/memory metrics")
        self._prefix = name_prefix
        self._action = cloudwatch_actions.SnsAction(topic)
        self._t = thresholds
        self._region = Stack.of(self).region
        self.alarms: dict[str, cloudwatch.Alarm] = {}

        lb = load_balancer.metrics
        tg = target_group.metrics
        t = thresholds

        # --- load balancer -------------------------------------------------------------
        healthy = tg.healthy_host_count(period=ONE_MINUTE, statistic="Minimum", label="Healthy targets")
        unhealthy_targets = tg.unhealthy_host_count(period=ONE_MINUTE, statistic="Maximum", label="Unhealthy targets")
        self._alarm(
            "HealthCheckFailures",
            name="health-check-failures",
            description="Guide alarm 1: no healthy corridor-app target behind the load balancer for 2 minutes.",
            metric=healthy,
            threshold=t.healthy_hosts_below,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=2,
            # No data means no target reports at all: treat as unhealthy.
            missing=cloudwatch.TreatMissingData.BREACHING,
        )
        self._alarm(
            "UnhealthyTargets",
            name="unhealthy-targets",
            description="At least one load balancer target failed its /health check for 5 minutes.",
            metric=unhealthy_targets,
            threshold=t.unhealthy_targets_above,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=5,
        )
        requests = lb.request_count(period=FIVE_MINUTES, statistic="Sum", label="Requests")
        target_5xx = lb.http_code_target(
            elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=FIVE_MINUTES, statistic="Sum", label="Target 5xx"
        )
        elb_5xx = lb.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=FIVE_MINUTES, statistic="Sum", label="ELB 5xx")
        total = "(FILL(requests, 0) + FILL(elb5xx, 0))"
        errors = "(FILL(target5xx, 0) + FILL(elb5xx, 0))"
        error_rate = cloudwatch.MathExpression(
            expression=f"IF({total} >= {t.http_5xx_min_requests}, 100 * {errors} / {total}, 0)",
            using_metrics={"requests": requests, "target5xx": target_5xx, "elb5xx": elb_5xx},
            label="5xx responses (%)",
            period=FIVE_MINUTES,
        )
        self._alarm(
            "Http5xxRate",
            name="http-5xx-rate",
            description=f"More than {t.http_5xx_percent_above:g}% of requests answered 5xx (target or load balancer) "
            f"in two consecutive 5-minute windows of at least {t.http_5xx_min_requests} requests.",
            metric=error_rate,
            threshold=t.http_5xx_percent_above,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=2,
        )
        response_p95 = tg.target_response_time(period=FIVE_MINUTES, statistic="p95", label="p95")
        self._alarm(
            "TargetResponseTime",
            name="target-response-time",
            description=f"corridor-app p95 response time above {t.target_response_p95_seconds_above:g} s for 15 minutes.",
            metric=response_p95,
            threshold=t.target_response_p95_seconds_above,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
        )
        self._alarm(
            "CertificateExpiry",
            name="certificate-expiry",
            description=f"The load balancer's certificate expires in under {t.certificate_days_below:g} days: "
            "ACM's managed renewal has failed (check the DNS validation record).",
            metric=certificate.metric_days_to_expiry(period=Duration.days(1), statistic="Minimum"),
            threshold=t.certificate_days_below,
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=1,
        )

        # --- compute: only through the contract ------------------------------------------
        cpu_lines: list[cloudwatch.IMetric] = []
        memory_lines: list[cloudwatch.IMetric] = []
        for index, unit in enumerate(observability.utilisation, start=1):
            suffix = f"u{index}"
            cpu = _shaped(unit.cpu_percent, period=FIVE_MINUTES, statistic="Average", label=unit.label, id_suffix=suffix)
            memory = _shaped(
                unit.memory_percent, period=FIVE_MINUTES, statistic="Average", label=unit.label, id_suffix=suffix
            )
            cpu_lines.append(cpu)
            memory_lines.append(memory)
            self._alarm(
                f"HighCpu{pascal_case(unit.label)}",
                name=f"high-cpu-{_slug(unit.label)}",
                description=f"Guide alarm 2: {unit.label} CPU above {t.cpu_percent_above:g}% for 10 minutes "
                f"({observability.method}).",
                metric=cpu,
                threshold=t.cpu_percent_above,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=2,
            )
            self._alarm(
                f"HighMemory{pascal_case(unit.label)}",
                name=f"high-memory-{_slug(unit.label)}",
                description=f"Guide alarm 3: {unit.label} memory above {t.memory_percent_above:g}% for 10 minutes "
                f"({observability.method}).",
                metric=memory,
                threshold=t.memory_percent_above,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=2,
            )
        missing_lines: list[cloudwatch.IMetric] = []
        for index, (label, metric) in enumerate(observability.unhealthy, start=1):
            missing = _shaped(metric, period=ONE_MINUTE, label=label, id_suffix=f"h{index}")
            missing_lines.append(missing)
            self._alarm(
                f"Unhealthy{pascal_case(label)}",
                name=f"unhealthy-{_slug(label)}",
                description=f"{label}: tasks, pods or instances missing or unhealthy for 5 minutes "
                f"({observability.method}).",
                metric=missing,
                threshold=t.missing_units_above,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=5,
            )

        # --- database --------------------------------------------------------------------
        connections = database.metric_database_connections(period=FIVE_MINUTES, statistic="Average", label="Connections")
        db_cpu = database.metric_cpu_utilization(period=FIVE_MINUTES, statistic="Average", label="CPU")
        free_storage = database.metric_free_storage_space(period=FIVE_MINUTES, statistic="Minimum", label="Free storage")
        freeable_memory = database.metric_freeable_memory(
            period=FIVE_MINUTES, statistic="Minimum", label="Freeable memory"
        )
        self._alarm(
            "DbConnectionErrors",
            name="db-connection-errors",
            description=f"Guide alarm 4: more than {t.db_connections_above:g} database connections on average over "
            "5 minutes (connection leak or exhausted pool).",
            metric=connections,
            threshold=t.db_connections_above,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
        )
        self._alarm(
            "DbHighCpu",
            name="db-high-cpu",
            description=f"RDS CPU above {t.db_cpu_percent_above:g}% for 15 minutes.",
            metric=db_cpu,
            threshold=t.db_cpu_percent_above,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=3,
        )
        self._alarm(
            "DbLowStorage",
            name="db-low-storage",
            description=f"RDS free storage below {t.db_free_storage_fraction_below:.0%} of the allocated "
            f"{database_storage_gib} GiB: storage autoscaling is at its ceiling or in its cool-down.",
            metric=free_storage,
            threshold=round(database_storage_gib * GIB * t.db_free_storage_fraction_below),
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=2,
        )
        memory_gib = DB_INSTANCE_MEMORY_GIB[database_instance_class]
        self._alarm(
            "DbLowMemory",
            name="db-low-memory",
            description=f"RDS freeable memory below {t.db_freeable_memory_fraction_below:.0%} of the "
            f"{memory_gib} GiB of db.{database_instance_class} for 15 minutes.",
            metric=freeable_memory,
            threshold=round(memory_gib * GIB * t.db_freeable_memory_fraction_below),
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            evaluation_periods=3,
        )

        # --- shared file storage (EFS; EC2 keeps its files on EBS) -------------------------
        storage_widgets: list[cloudwatch.IWidget] = []
        if file_system is not None:
            storage_widgets = self._efs(file_system, efs_provisioned_mibps)
        if backup_bucket is not None:
            bucket_size = cloudwatch.Metric(
                namespace="AWS/S3",
                metric_name="BucketSizeBytes",
                dimensions_map={"BucketName": backup_bucket.bucket_name, "StorageType": "StandardStorage"},
                statistic="Average",
                period=Duration.days(1),
            )
            storage_widgets.append(
                _graph("Backup bucket size (GiB, daily)", [_in_gib(bucket_size, "size", "Standard storage", Duration.days(1))])
            )

        # --- NAT gateways --------------------------------------------------------------------
        nat_widgets = self._nat_gateways(nat_gateway_ids)

        # --- dashboard -------------------------------------------------------------------------
        percent_axis = cloudwatch.YAxisProps(min=0, max=100)
        rows: list[list[cloudwatch.IWidget]] = [
            [
                cloudwatch.TextWidget(
                    markdown=f"# Corridor health: {name_prefix} ({observability.method})\n"
                    "Alarms notify the alerts topic; thresholds and runbooks: docs/operations.md in the "
                    "infrastructure repository.",
                    width=24,
                    height=2,
                )
            ],
            [_header("Load Balancer Health")],
            [
                _graph(
                    "Load Balancer Health",
                    [
                        healthy.with_(period=FIVE_MINUTES, statistic="Average"),
                        unhealthy_targets.with_(period=FIVE_MINUTES, statistic="Average"),
                    ],
                ),
                _graph("Requests and 5xx", [requests], [target_5xx, elb_5xx]),
                _graph(
                    "Target response time (s)",
                    [
                        tg.target_response_time(period=FIVE_MINUTES, statistic="p50", label="p50"),
                        response_p95,
                        tg.target_response_time(period=FIVE_MINUTES, statistic="p99", label="p99"),
                    ],
                ),
            ],
            [_header(f"Compute Resources ({observability.method})")],
            [
                _graph("CPU utilisation (%)", cpu_lines, axis=percent_axis),
                _graph("Memory utilisation (%)", memory_lines, axis=percent_axis),
                _graph("Missing or unhealthy units", missing_lines or [unhealthy_targets]),
            ],
            [_header("Database Health")],
            [
                _graph("Database Health", [db_cpu], [connections]),
                _graph("Free storage (GiB)", [_in_gib(free_storage, "free", "Free storage", FIVE_MINUTES)]),
                _graph("Freeable memory (GiB)", [_in_gib(freeable_memory, "mem", "Freeable memory", FIVE_MINUTES)]),
            ],
        ]
        if storage_widgets:
            rows += [[_header("Storage")], storage_widgets]
        network_widgets = list(nat_widgets)
        if web_acl_metric_name is not None:
            network_widgets.append(_graph("WAF requests", self._waf_metrics(web_acl_metric_name)))
        if network_widgets:
            rows += [[_header("Network")], network_widgets]
        rows.append(
            [
                cloudwatch.AlarmStatusWidget(
                    title="Alarms", alarms=list(self.alarms.values()), width=24,
                    height=max(3, 1 + len(self.alarms) // 4),
                )
            ]
        )
        if log_groups:
            rows.append(
                [
                    cloudwatch.LogQueryWidget(
                        title="Recent errors in Corridor's logs",
                        log_group_names=[group.log_group_name for group in log_groups.values()],
                        query_lines=[
                            "fields @timestamp, @log, @message",
                            "filter @message like /(?i)(error|exception|traceback|fatal)/",
                            "sort @timestamp desc",
                            "limit 50",
                        ],
                        width=24,
                        height=8,
                    )
                ]
            )
        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=dashboard_name, default_interval=Duration.hours(3), widgets=rows
        )

    # ------------------------------------------------------------------------------------
    def _alarm(
        self,
        construct_id: str,
        *,
        name: str,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
        evaluation_periods: int,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.MISSING,
    ) -> cloudwatch.Alarm:
        if name in self.alarms:
            raise ValueError(f"two alarms named {name!r}: compute labels must be unique")
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{self._prefix}-{name}",
            alarm_description=f"{description} Runbook: docs/operations.md#alarms",
            metric=_unlabelled(metric),
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            treat_missing_data=missing,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        self.alarms[name] = alarm
        return alarm

    def _efs(self, file_system: efs.IFileSystem, provisioned_mibps: int | None) -> list[cloudwatch.IWidget]:
        t = self._t

        def metric(name: str, statistic: str, label: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/EFS",
                metric_name=name,
                dimensions_map={"FileSystemId": file_system.file_system_id},
                statistic=statistic,
                period=FIVE_MINUTES,
                label=label,
            )

        metered = metric("MeteredIOBytes", "Sum", "Metered I/O")
        permitted = metric("PermittedThroughput", "Average", "Permitted throughput")
        throughput_percent = cloudwatch.MathExpression(
            expression="100 * (metered / PERIOD(metered)) / permitted",
            using_metrics={"metered": metered, "permitted": permitted},
            label="Throughput used (% of permitted)",
            period=FIVE_MINUTES,
        )
        burst = metric("BurstCreditBalance", "Minimum", "Burst credit balance")
        if provisioned_mibps is None:
            self._alarm(
                "EfsBurstCredits",
                name="efs-burst-credits",
                description="EFS burst credits nearly spent: throughput will drop to the baseline. Consider "
                "provisioned throughput (sizing tier).",
                metric=burst,
                threshold=t.efs_burst_credit_bytes_below,
                comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                evaluation_periods=2,
            )
            capacity: cloudwatch.IMetric = _in_gib(burst, "burst", "Burst credits (GiB)", FIVE_MINUTES)
        else:
            self._alarm(
                "EfsThroughput",
                name="efs-throughput",
                description=f"EFS uses more than {t.efs_throughput_percent_above:g}% of its provisioned "
                f"{provisioned_mibps} MiB/s for 15 minutes.",
                metric=throughput_percent,
                threshold=t.efs_throughput_percent_above,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=3,
            )
            capacity = throughput_percent
        # EFS reports ClientConnections as a per-minute sum: divide by the minutes in the period.
        connections = cloudwatch.MathExpression(
            expression="conns / (PERIOD(conns) / 60)",
            using_metrics={"conns": metric("ClientConnections", "Sum", "Client connections")},
            label="Client connections",
            period=FIVE_MINUTES,
        )
        size = cloudwatch.Metric(
            namespace="AWS/EFS",
            metric_name="StorageBytes",
            dimensions_map={"FileSystemId": file_system.file_system_id, "StorageClass": "Total"},
            statistic="Average",
            period=FIVE_MINUTES,
        )
        return [
            _graph("EFS storage (GiB)", [_in_gib(size, "size", "Total", FIVE_MINUTES)]),
            _graph("EFS throughput", [capacity], [connections]),
        ]

    def _nat_gateways(self, nat_gateway_ids: Mapping[str, str]) -> list[cloudwatch.IWidget]:
        t = self._t
        bytes_out: list[cloudwatch.IMetric] = []
        errors: list[cloudwatch.IMetric] = []
        for index, (zone, gateway_id) in enumerate(sorted(nat_gateway_ids.items()), start=1):

            def metric(name: str, label: str, gateway_id: str = gateway_id) -> cloudwatch.Metric:
                return cloudwatch.Metric(
                    namespace="AWS/NATGateway",
                    metric_name=name,
                    dimensions_map={"NatGatewayId": gateway_id},
                    statistic="Sum",
                    period=FIVE_MINUTES,
                    label=label,
                )

            port_errors = metric("ErrorPortAllocation", f"Port allocation errors {zone}")
            self._alarm(
                f"NatPortAllocation{index}",
                name=f"nat-port-allocation-{zone}",
                description=f"NAT gateway in {zone} cannot allocate source ports for 15 minutes: outbound "
                "connections (LLM providers, registries) are failing.",
                metric=port_errors,
                threshold=t.nat_port_allocation_errors_above,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=3,
            )
            # Ids carry the index: both gateways' expressions share the errors graph.
            drops, src, dst = f"drops{index}", f"insrc{index}", f"indst{index}"
            packets = f"(FILL({src}, 0) + FILL({dst}, 0))"
            drop_rate = cloudwatch.MathExpression(
                expression=f"IF({packets} > 0, 100 * FILL({drops}, 0) / {packets}, 0)",
                using_metrics={
                    drops: metric("PacketsDropCount", "Dropped packets"),
                    src: metric("PacketsInFromSource", "Packets from VPC"),
                    dst: metric("PacketsInFromDestination", "Packets from internet"),
                },
                label=f"Dropped packets (%) {zone}",
                period=FIVE_MINUTES,
            )
            self._alarm(
                f"NatPacketDrops{index}",
                name=f"nat-packet-drops-{zone}",
                description=f"NAT gateway in {zone} drops more than {t.nat_packet_drop_percent_above:g}% of packets "
                "for 15 minutes.",
                metric=drop_rate,
                threshold=t.nat_packet_drop_percent_above,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=3,
            )
            bytes_out.append(metric("BytesOutToDestination", f"Bytes out {zone}"))
            errors += [port_errors, drop_rate]
        if not bytes_out:
            return []
        return [
            cloudwatch.GraphWidget(title="NAT gateway traffic (bytes out)", left=bytes_out, width=8),
            cloudwatch.GraphWidget(title="NAT gateway errors", left=errors, width=8),
        ]

    def _waf_metrics(self, web_acl_name: str) -> list[cloudwatch.IMetric]:
        def metric(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/WAFV2",
                metric_name=name,
                dimensions_map={"WebACL": web_acl_name, "Region": self._region, "Rule": "ALL"},
                statistic="Sum",
                period=FIVE_MINUTES,
                label=name.removesuffix("Requests"),
            )

        return [metric("AllowedRequests"), metric("BlockedRequests"), metric("CountedRequests")]


def _shaped(
    metric: cloudwatch.IMetric,
    *,
    period: Duration,
    statistic: str | None = None,
    label: str | None = None,
    id_suffix: str = "",
) -> cloudwatch.IMetric:
    """``metric`` at the alarm's period (and statistic), whatever the compute method chose.

    A math expression's metric ids get ``id_suffix`` appended: each compute method names
    them freely (``desired``, ``running``), and ids must be unique within one graph.
    """
    if isinstance(metric, cloudwatch.Metric):
        return metric.with_(period=period, statistic=statistic, label=label)
    if isinstance(metric, cloudwatch.MathExpression):
        return _renamed(metric, id_suffix).with_(period=period, label=label)
    raise TypeError(f"unsupported metric {type(metric).__name__}: compute methods expose Metric or MathExpression")


def _unlabelled(metric: cloudwatch.IMetric) -> cloudwatch.IMetric:
    """A plain metric without its dashboard label: the alarm then names namespace, metric,
    statistic and period directly (as the guide's put-metric-alarm calls do) instead of
    through a one-line metric-math query."""
    if not isinstance(metric, cloudwatch.Metric) or not metric.label:
        return metric
    return cloudwatch.Metric(
        namespace=metric.namespace,
        metric_name=metric.metric_name,
        dimensions_map=metric.dimensions,
        statistic=metric.statistic,
        period=metric.period,
        unit=metric.unit,
        account=metric.account,
        region=metric.region,
    )


def _renamed(expression: cloudwatch.MathExpression, suffix: str) -> cloudwatch.MathExpression:
    """The same expression with every metric id (nested ones too) suffixed by ``suffix``."""
    if not suffix:
        return expression
    using = dict(expression.using_metrics)
    names = {name: f"{name}_{suffix}" for name in using}
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")\b")
    return cloudwatch.MathExpression(
        expression=pattern.sub(lambda m: names[m.group(1)], expression.expression) if names else expression.expression,
        using_metrics={
            names[name]: _renamed(inner, suffix) if isinstance(inner, cloudwatch.MathExpression) else inner
            for name, inner in using.items()
        },
        label=expression.label,
        period=expression.period,
        search_account=expression.search_account,
        search_region=expression.search_region,
    )


def _graph(
    title: str,
    left: list[cloudwatch.IMetric],
    right: list[cloudwatch.IMetric] | None = None,
    *,
    axis: cloudwatch.YAxisProps | None = None,
) -> cloudwatch.GraphWidget:
    """A third of a dashboard row."""
    return cloudwatch.GraphWidget(title=title, left=left, right=right or [], left_y_axis=axis, width=8, height=6)


def _in_gib(metric: cloudwatch.IMetric, metric_id: str, label: str, period: Duration) -> cloudwatch.MathExpression:
    """A byte-valued metric shown in GiB."""
    return cloudwatch.MathExpression(
        expression=f"{metric_id} / {GIB}", using_metrics={metric_id: metric}, label=label, period=period
    )


def _header(text: str) -> cloudwatch.TextWidget:
    return cloudwatch.TextWidget(markdown=f"## {text}", width=24, height=1)


def _slug(label: str) -> str:
    """``corridor-app`` stays; anything else becomes lower-case words joined by dashes."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")



__all__ = ["AlarmThresholds", "Alerts", "DB_INSTANCE_MEMORY_GIB", "Monitoring"]
