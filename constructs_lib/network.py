"""VPC, subnets, NAT, flow logs, endpoints and the guide's security groups."""

from __future__ import annotations

import ipaddress
from typing import Sequence

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_lib.zones import mark_configured_zone

PUBLIC_SUBNET_OFFSET = 1  # guide: 10.0.1.0/24, 10.0.2.0/24, ...
PRIVATE_SUBNET_OFFSET = 10  # guide: 10.0.10.0/24, 10.0.11.0/24, ...


@jsii.implements(ec2.IIpAddresses)
class GuideSubnetLayout:
    """Allocates /24 subnets at the guide's addresses instead of CDK's packed layout.

    Public subnet of zone i: the (1 + i)-th /24 of the VPC; private: the (10 + i)-th.
    """

    def __init__(self, cidr: str) -> None:
        self._network = ipaddress.ip_network(cidr)

    def allocate_vpc_cidr(self) -> ec2.VpcIpamOptions:
        return ec2.VpcIpamOptions(cidr_block=str(self._network))

    def allocate_subnets_cidr(self, input: ec2.AllocateCidrRequest) -> ec2.SubnetIpamOptions:  # noqa: A002
        slash24s = list(self._network.subnets(new_prefix=24))
        seen: dict[str, int] = {}
        allocated = []
        for request in input.requested_subnets:
            kind = request.configuration.subnet_type
            index = seen.get(request.configuration.name, 0)
            seen[request.configuration.name] = index + 1
            offset = PUBLIC_SUBNET_OFFSET if kind == ec2.SubnetType.PUBLIC else PRIVATE_SUBNET_OFFSET
            allocated.append(ec2.AllocatedSubnet(cidr=str(slash24s[offset + index])))
        return ec2.SubnetIpamOptions(allocated_subnets=allocated)


class Network(Construct):
    """The guide's network: a VPC over the configured zones with public and private /24
    subnets per zone, an internet gateway, NAT gateways, flow logs and VPC endpoints,
    plus the four security groups of "Network Configuration Details".

    Args:
        cidr: VPC CIDR (/16 to /20).
        availability_zones: zones to span (at least two).
        nat_gateways: one per zone for multi-AZ, one for single-AZ.
        logs_key: KMS key for the flow-log group.
        log_retention: flow-log retention.

    Attributes:
        vpc, alb_security_group, app_security_group, database_security_group,
        efs_security_group, endpoint_security_group, nat_gateway_ids.

    Security groups are created with no egress; the stack wires the rules between them.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cidr: str,
        availability_zones: Sequence[str],
        nat_gateways: int,
        logs_key: kms.IKey,
        log_retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=GuideSubnetLayout(cidr),
            availability_zones=list(availability_zones),
            nat_gateways=nat_gateways,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            restrict_default_security_group=True,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24),
            ],
            gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
        )

        flow_log_group = logs.LogGroup(
            self,
            "FlowLogGroup",
            encryption_key=logs_key,
            retention=log_retention,
            removal_policy=removal_policy,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

        # Interface endpoints keep secret, log, image and token traffic off the NAT
        # gateways, and let the rotation Lambda reach Secrets Manager from private subnets.
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="Corridor VPC interface endpoints: HTTPS from inside the VPC",
            allow_all_outbound=False,
        )
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(cidr), ec2.Port.tcp(443), "HTTPS from the VPC"
        )
        for name, service in (
            ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
            ("CloudWatchLogs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
            ("EcrApi", ec2.InterfaceVpcEndpointAwsService.ECR),
            ("EcrDocker", ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER),
            ("Sts", ec2.InterfaceVpcEndpointAwsService.STS),
        ):
            self.vpc.add_interface_endpoint(
                name,
                service=service,
                private_dns_enabled=True,
                security_groups=[self.endpoint_security_group],
                open=False,
            )

        # Zones come from configuration on purpose: a subnet's zone must never change
        # under a running deployment, and synth must not ask AWS for them.
        for subnet in [*self.vpc.public_subnets, *self.vpc.private_subnets]:
            mark_configured_zone(subnet)

        self.alb_security_group = self._group("AlbSecurityGroup", "Corridor load balancer: HTTPS/HTTP from the internet")
        self.app_security_group = self._group("AppSecurityGroup", "Corridor application components")
        self.database_security_group = self._group("DatabaseSecurityGroup", "Corridor RDS PostgreSQL")
        self.efs_security_group = self._group("EfsSecurityGroup", "Corridor EFS mount targets")

    @property
    def nat_gateway_ids(self) -> dict[str, str]:
        """NAT gateway id by availability zone (for alarms and the dashboard)."""
        gateways: dict[str, str] = {}
        for subnet in self.vpc.public_subnets:
            nat = subnet.node.try_find_child("NATGateway")
            if isinstance(nat, ec2.CfnNatGateway):
                gateways[subnet.availability_zone] = nat.ref
        return gateways

    @property
    def private_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)

    @property
    def public_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC)

    def _group(self, construct_id: str, description: str) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(
            self, construct_id, vpc=self.vpc, description=description, allow_all_outbound=False
        )
