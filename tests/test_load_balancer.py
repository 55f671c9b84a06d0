"""The internet-facing entry point: TLS, redirect, health check, DNS, logs."""

from __future__ import annotations

from aws_cdk.assertions import Match

from tests.synth import Synthesized


def test_alb_is_internet_facing_in_public_subnets_and_drops_invalid_headers(fargate: Synthesized) -> None:
    (alb,) = fargate.resources("CorridorProd", "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    p = alb["Properties"]
    assert p["Scheme"] == "internet-facing"
    assert sorted(s["Ref"] for s in p["Subnets"]) == sorted(
        k for k in fargate.resources("CorridorProd", "AWS::EC2::Subnet") if "Public" in k
    )
    attributes = {a["Key"]: a["Value"] for a in p["LoadBalancerAttributes"]}
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == {"Ref": "BucketsAccessLogsA5F88218"}


def test_https_uses_tls12_plus_and_http_redirects_with_301(fargate: Synthesized) -> None:
    t = fargate.template("CorridorProd")
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Port": 443, "Protocol": "HTTPS", "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06"},
    )
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {
            "Port": 80,
            "Protocol": "HTTP",
            "DefaultActions": [
                {"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}
            ],
        },
    )
    t.resource_count_is("AWS::ElasticLoadBalancingV2::Listener", 2)


def test_target_group_health_check_is_the_guides(fargate: Synthesized) -> None:
    fargate.template("CorridorProd").has_resource_properties(
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        {
            "HealthCheckPath": "/health",
            "HealthCheckIntervalSeconds": 30,
            "HealthCheckTimeoutSeconds": 5,
            "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": 3,
            "TargetType": "ip",
            "Port": 5002,
        },
    )


def test_certificate_is_dns_validated_in_the_configured_zone(fargate: Synthesized) -> None:
    fargate.template("CorridorProd").has_resource_properties(
        "AWS::CertificateManager::Certificate",
        {
            "DomainName": "corridor.example.com",
            "ValidationMethod": "DNS",
            "DomainValidationOptions": [{"DomainName": "corridor.example.com", "HostedZoneId": "Z0123456789ABCDEFGHIJ"}],
        },
    )


def test_alias_record_points_at_the_load_balancer(fargate: Synthesized) -> None:
    fargate.template("CorridorProd").has_resource_properties(
        "AWS::Route53::RecordSet",
        {
            "Name": "corridor.example.com.",
            "Type": "A",
            "HostedZoneId": "Z0123456789ABCDEFGHIJ",
            "AliasTarget": Match.object_like({"DNSName": Match.any_value()}),
        },
    )


def test_prod_load_balancer_has_deletion_protection(fargate: Synthesized) -> None:
    def protected(stack: str) -> str:
        (alb,) = fargate.resources(stack, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
        return {a["Key"]: a["Value"] for a in alb["Properties"]["LoadBalancerAttributes"]}["deletion_protection.enabled"]

    assert protected("CorridorProd") == "true"
    assert protected("CorridorDev") == "false"
