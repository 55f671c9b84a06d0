"""Internet-facing ALB with TLS, the ACM certificate, the target group and the DNS record."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from constructs import Construct

from corridor_cdk.components import HealthCheck


class LoadBalancer(Construct):
    """The single public entry point, shared by every compute method.

    - ALB in the public subnets, invalid headers dropped, access logs to S3;
    - HTTPS 443 with a DNS-validated ACM certificate (or the configured one) and a
      TLS 1.2+ policy; HTTP 80 answers only with a 301 to HTTPS;
    - one target group with the guide's ``/health`` check (30 s, 5 s, 2 healthy,
      3 unhealthy); ``target_type`` is IP for Fargate/EKS pods, INSTANCE for EC2;
    - a Route 53 alias A record for the domain;
    - deletion protection (on by default) so a stray delete cannot take the entry point down.

    Attributes:
        alb, target_group, https_listener, certificate, record.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        domain_name: str,
        hosted_zone_id: str,
        hosted_zone_name: str,
        certificate_arn: str | None,
        target_port: int,
        target_type: elbv2.TargetType,
        health: HealthCheck,
        access_logs_bucket: s3.IBucket,
        deletion_protection: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.domain_name = domain_name
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=hosted_zone_id, zone_name=hosted_zone_name
        )
        self.certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn)
            if certificate_arn
            else acm.Certificate(
                self,
                "Certificate",
                domain_name=domain_name,
                validation=acm.CertificateValidation.from_dns(zone),
            )
        )

        self.alb = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            vpc_subnets=subnets,
            internet_facing=True,
            security_group=security_group,
            ip_address_type=elbv2.IpAddressType.IPV4,
            drop_invalid_header_fields=True,
            deletion_protection=deletion_protection,
            idle_timeout=Duration.seconds(120),
        )
        self.alb.log_access_logs(access_logs_bucket, prefix="alb")

        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "AppTargets",
            vpc=vpc,
            port=target_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=target_type,
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                path=health.path,
                interval=Duration.seconds(health.interval_seconds),
                timeout=Duration.seconds(health.timeout_seconds),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
                healthy_http_codes="200",
            ),
        )

        self.https_listener = self.alb.add_listener(
            "Https",
            port=443,
            protocol=elbv2.ApplicationProtocol.HTTPS,
            certificates=[elbv2.ListenerCertificate.from_certificate_manager(self.certificate)],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,  # TLS 1.3 and 1.2 only
            default_target_groups=[self.target_group],
            open=True,
        )
        self.alb.add_redirect(source_port=80, source_protocol=elbv2.ApplicationProtocol.HTTP, target_port=443)

        self.record = route53.ARecord(
            self,
            "AliasRecord",
            zone=zone,
            record_name=domain_name,
            target=route53.RecordTarget.from_alias(route53_targets.LoadBalancerTarget(self.alb)),
        )

        Validations.of(security_group).acknowledge(
            Acknowledgment(
                id="AwsSolutions-EC23",
                reason="Internet-facing load balancer: the guide requires HTTPS 443 (and HTTP 80 solely for the "
                "301 redirect) from anywhere. The TLS policy and, where waf_enabled (staging and prod by default), the "
                "WAF web ACL protect it; nothing else in the stack is reachable from the internet.",
            )
        )

    @property
    def url(self) -> str:
        return f"https://{self.domain_name}"
