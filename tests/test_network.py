"""Network: the guide's subnets, NAT per topology, flow logs, endpoints, security groups."""

from __future__ import annotations

from aws_cdk.assertions import Match

from tests.synth import Synthesized


def _cidrs(s: Synthesized, stack: str, public: bool) -> list[str]:
    return sorted(
        r["Properties"]["CidrBlock"]
        for r in s.resources(stack, "AWS::EC2::Subnet").values()
        if r["Properties"]["MapPublicIpOnLaunch"] is public
    )


def test_subnets_sit_at_the_guides_addresses(fargate: Synthesized) -> None:
    assert _cidrs(fargate, "CorridorDev", True) == ["10.0.1.0/24", "10.0.2.0/24"]
    assert _cidrs(fargate, "CorridorDev", False) == ["10.0.10.0/24", "10.0.11.0/24"]
    assert _cidrs(fargate, "CorridorProd", False) == ["10.2.10.0/24", "10.2.11.0/24"]


def test_vpc_cidr_dns_and_zones_from_configuration(fargate: Synthesized) -> None:
    fargate.template("CorridorProd").has_resource_properties(
        "AWS::EC2::VPC", {"CidrBlock": "10.2.0.0/16", "EnableDnsHostnames": True, "EnableDnsSupport": True}
    )
    zones = {r["Properties"]["AvailabilityZone"] for r in fargate.resources("CorridorProd", "AWS::EC2::Subnet").values()}
    assert zones == {"us-east-1a", "us-east-1b"}


def test_one_nat_gateway_per_zone_only_for_multi_az(fargate: Synthesized) -> None:
    fargate.template("CorridorProd").resource_count_is("AWS::EC2::NatGateway", 2)
    fargate.template("CorridorDev").resource_count_is("AWS::EC2::NatGateway", 1)


def test_flow_logs_capture_all_traffic_into_an_encrypted_group(fargate: Synthesized) -> None:
    t = fargate.template("CorridorProd")
    t.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"})
    t.has_resource_properties(
        "AWS::Logs::LogGroup",
        {"KmsKeyId": {"Fn::GetAtt": [Match.string_like_regexp("^KeysLogsKey"), "Arn"]}, "RetentionInDays": 90},
    )


def test_endpoints_for_s3_secrets_logs_ecr_and_sts(fargate: Synthesized) -> None:
    endpoints = fargate.resources("CorridorProd", "AWS::EC2::VPCEndpoint").values()
    services = set()
    for e in endpoints:
        name = e["Properties"]["ServiceName"]
        services.add(name if isinstance(name, str) else "".join(p for p in name["Fn::Join"][1] if isinstance(p, str)))
        if e["Properties"].get("VpcEndpointType") == "Interface":
            assert e["Properties"]["PrivateDnsEnabled"] is True
    suffixes = {s.rsplit(".", 1)[-1] if "ecr" not in s else s.split("us-east-1.")[-1] for s in services}
    assert {"secretsmanager", "logs", "ecr.api", "ecr.dkr", "sts"} <= suffixes
    assert any(s.endswith(".s3") for s in services)


def _group(s: Synthesized, stack: str, prefix: str) -> tuple[str, dict]:  # type: ignore[type-arg]
    (item,) = [(k, v) for k, v in s.resources(stack, "AWS::EC2::SecurityGroup").items() if k.startswith(prefix)]
    return item


def test_only_the_load_balancer_is_open_to_the_internet(any_compute: Synthesized) -> None:
    for stack in any_compute.templates:
        for logical_id, sg in any_compute.resources(stack, "AWS::EC2::SecurityGroup").items():
            for rule in sg["Properties"].get("SecurityGroupIngress", []):
                if rule.get("CidrIp") == "0.0.0.0/0" or rule.get("CidrIpv6") == "::/0":
                    assert logical_id.startswith("NetworkAlbSecurityGroup"), (stack, logical_id)
                    assert rule["FromPort"] in (80, 443)
        for rule in any_compute.resources(stack, "AWS::EC2::SecurityGroupIngress").values():
            assert rule["Properties"].get("CidrIp") != "0.0.0.0/0"
            assert rule["Properties"].get("CidrIpv6") != "::/0"


def test_database_and_efs_admit_only_the_application(fargate: Synthesized) -> None:
    app_id, _ = _group(fargate, "CorridorProd", "NetworkAppSecurityGroup")
    db_id, _ = _group(fargate, "CorridorProd", "NetworkDatabaseSecurityGroup")
    efs_id, _ = _group(fargate, "CorridorProd", "NetworkEfsSecurityGroup")
    rules = fargate.resources("CorridorProd", "AWS::EC2::SecurityGroupIngress").values()
    by_target: dict[str, list[tuple[object, int]]] = {}
    for r in rules:
        p = r["Properties"]
        by_target.setdefault(p["GroupId"]["Fn::GetAtt"][0], []).append(
            (p.get("SourceSecurityGroupId", {}).get("Fn::GetAtt", [None])[0], p["FromPort"])
        )
    assert (app_id, 5432) in by_target[db_id]
    assert all(port == 5432 for _, port in by_target[db_id])
    assert {src for src, _ in by_target[db_id]} <= {app_id, "DatabaseRotationSecurityGroup8E1B7C66"}
    assert by_target[efs_id] == [(app_id, 2049)]
    # The application admits the ALB on the app port, and itself on component ports.
    alb_id, _ = _group(fargate, "CorridorProd", "NetworkAlbSecurityGroup")
    assert (alb_id, 5002) in by_target[app_id]
    assert {src for src, _ in by_target[app_id]} <= {alb_id, app_id}
