"""Typed, validated per-environment configuration.

`config/environments.yaml` holds a `defaults` block and one block per environment.
Any scalar setting can be overridden for one run with `cdk synth -c key=value`; the
override applies to every environment in that run. Validation errors become a
single-line `ConfigError` naming the setting and what is allowed.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import typing
from pathlib import Path
from typing import Any, Literal, Mapping

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from corridor_cdk.sizing import TIERS, TierSizing, sizing_for

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config" / "environments.yaml"

ENVIRONMENT_NAMES = ("dev", "staging", "prod")
COMPUTE_METHODS = ("fargate", "eks", "ec2")
TOPOLOGIES = ("single-az", "multi-az")

# Commercial-partition regions (the ARNs this app writes use the `aws` partition).
_REGION_RE = re.compile(r"^(us|eu|ap|ca|sa|me|af|il|mx)-(north|south|east|west|central|northeast|southeast|southwest|northwest)-\d$")
_REGISTRY_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(/[a-z0-9._-]+)*$")
_IMAGE_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?(/[a-z0-9._-]+)+(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$")
_PRIVATE_RANGES = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_DNS_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class ConfigError(Exception):
    """A configuration problem, with a one-line message meant for the user."""


class EnvironmentConfig(BaseModel):
    """Everything that differs between dev, staging and prod.

    Each field's description says what is allowed; it is also what the README lists.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["dev", "staging", "prod"] = Field(description="environment name")
    account: str = Field(description="12-digit AWS account id")
    region: str = Field(description="AWS region, e.g. us-east-1")
    availability_zones: tuple[str, ...] = Field(description="at least 2 zones of the region")
    tier: Literal["dev", "small", "medium", "large"] = Field(description="sizing tier")
    compute: Literal["fargate", "eks", "ec2"] = Field(description="deployment method")
    topology: Literal["single-az", "multi-az"] = Field(description="availability topology")
    vpc_cidr: str = Field(description="IPv4 CIDR from /16 to /20")
    domain_name: str = Field(description="DNS name users reach Corridor at")
    hosted_zone_id: str = Field(description="Route 53 public hosted zone id (Z...)")
    hosted_zone_name: str = Field(description="the hosted zone's domain; domain_name must be inside it")
    certificate_arn: str | None = Field(default=None, description="existing ACM certificate; None = create one")
    alert_email: str = Field(description="e-mail subscribed to alerts and the budget")
    container_registry: str = Field(description="registry host holding corridor/ggx")
    image_tag: str = Field(description="Corridor image tag / bundle version")
    redis_image: str = Field(default="public.ecr.aws/docker/library/redis:7.2-alpine", description="Redis image")
    admin_role_arn: str = Field(description="IAM role granted cluster/operator admin")
    protect_data: bool = Field(description="retain data stores on delete and enable deletion protection")
    termination_protection: bool = Field(default=False, description="CloudFormation termination protection")
    fargate_spot_workers: bool = Field(default=False, description="run Fargate workers on FARGATE_SPOT")
    eks_endpoint_access: Literal["private", "public-and-private"] = Field(
        default="private", description="EKS API endpoint access"
    )
    eks_public_access_cidrs: tuple[str, ...] = Field(
        default=(), description="CIDRs allowed to a public EKS endpoint (required when it is public)"
    )
    bundle_s3_uri: str = Field(
        default="s3://corridor-artifacts/corridor-bundle.zip", description="EC2: s3://bucket/key of the bundle zip"
    )
    waf_enabled: bool = Field(default=True, description="attach a WAF web ACL to the load balancer")
    waf_rate_limit: int = Field(default=2000, description="requests per 5 minutes per IP before blocking")
    dr_region: str | None = Field(default=None, description="region receiving backup copies; None = no copies")
    monthly_budget_usd: int = Field(default=1000, description="monthly AWS budget alert amount in USD")

    # --- field checks: each message says what is allowed --------------------------------
    @field_validator("account")
    @classmethod
    def _account(cls, v: str) -> str:
        if not re.fullmatch(r"\d{12}", v):
            raise ValueError("must be a 12-digit AWS account id")
        return v

    @field_validator("region", "dr_region")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        if v is not None and not _REGION_RE.fullmatch(v):
            raise ValueError("must be a commercial AWS region such as us-east-1 (GovCloud and China are not supported)")
        return v

    @field_validator("vpc_cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        try:
            net = ipaddress.ip_network(v, strict=True)
        except ValueError:
            raise ValueError("must be an IPv4 network such as 10.0.0.0/16") from None
        if net.version != 4 or not 16 <= net.prefixlen <= 20:
            raise ValueError("must be an IPv4 network from /16 to /20 (it holds the guide's /24 subnets)")
        if not any(net.subnet_of(p) for p in _PRIVATE_RANGES):  # type: ignore[arg-type]
            raise ValueError("must be inside a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)")
        return v

    @field_validator("alert_email")
    @classmethod
    def _email(cls, v: str) -> str:
        if not _EMAIL_RE.fullmatch(v):
            raise ValueError("must be an e-mail address such as ops@example.com")
        return v

    @field_validator("domain_name", "hosted_zone_name")
    @classmethod
    def _dns(cls, v: str) -> str:
        v = v.rstrip(".").lower()
        if not _DNS_RE.fullmatch(v):
            raise ValueError("must be a DNS name such as corridor.example.com")
        if len(v) > 64:
            raise ValueError("must be at most 64 characters (the ACM certificate limit)")
        return v

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, v: str) -> str:
        if not re.fullmatch(r"Z[A-Z0-9]{1,31}", v):
            raise ValueError("must be a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ")
        return v

    @field_validator("admin_role_arn")
    @classmethod
    def _role(cls, v: str) -> str:
        if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+", v):
            raise ValueError("must be an IAM role ARN such as arn:aws:iam::123456789012:role/CorridorAdmin")
        return v

    @field_validator("certificate_arn")
    @classmethod
    def _cert(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[\w-]+", v):
            raise ValueError("must be an ACM certificate ARN, or omitted to create one")
        return v

    @field_validator("bundle_s3_uri")
    @classmethod
    def _bundle(cls, v: str) -> str:
        if not re.fullmatch(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S+", v):
            raise ValueError("must be an S3 URI such as s3://my-bucket/corridor-bundle.zip")
        return v

    @field_validator("container_registry")
    @classmethod
    def _registry(cls, v: str) -> str:
        if not _REGISTRY_RE.fullmatch(v):
            raise ValueError("must be a registry host (optionally :port and /path) such as registry.example.com")
        return v

    @field_validator("redis_image")
    @classmethod
    def _redis_image(cls, v: str) -> str:
        if not _IMAGE_RE.fullmatch(v):
            raise ValueError("must be an image reference host/path:tag or host/path@sha256:digest")
        return v

    @field_validator("image_tag")
    @classmethod
    def _tag(cls, v: str) -> str:
        if not re.fullmatch(r"[\w][\w.-]{0,127}", v):
            raise ValueError("must be a container image tag (letters, digits, '_', '.', '-')")
        return v

    @field_validator("waf_rate_limit")
    @classmethod
    def _rate(cls, v: int) -> int:
        if not 100 <= v <= 2_000_000_000:
            raise ValueError("must be from 100 to 2000000000 requests per 5 minutes")
        return v

    @field_validator("monthly_budget_usd")
    @classmethod
    def _budget(cls, v: int) -> int:
        if not 0 < v <= 10_000_000:
            raise ValueError("must be a whole number of US dollars from 1 to 10000000")
        return v

    @field_validator(
        "protect_data", "termination_protection", "fargate_spot_workers", "waf_enabled", mode="before"
    )
    @classmethod
    def _strict_bool(cls, v: Any) -> Any:
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "false"):
            return v.lower() == "true"
        raise ValueError("must be true or false")

    @field_validator("monthly_budget_usd", "waf_rate_limit", mode="before")
    @classmethod
    def _no_bool_numbers(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("must be a whole number, not true/false")
        return v

    @field_validator("eks_public_access_cidrs")
    @classmethod
    def _public_cidrs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in v:
            try:
                net = ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR such as 203.0.113.0/24") from None
            if net.prefixlen < 8:
                raise ValueError(f"{cidr!r} is too wide: name your own networks (/8 or narrower), not the internet")
        return v

    # --- checks across fields ------------------------------------------------------------
    @model_validator(mode="after")
    def _cross(self) -> "EnvironmentConfig":
        zones = self.availability_zones
        if len(zones) < 2:
            raise ValueError(
                f"availability_zones: needs at least 2 zones of {self.region} (a load balancer and a database "
                f"subnet group span two zones, even with topology single-az); got {len(zones)}"
            )
        if len(set(zones)) != len(zones):
            raise ValueError("availability_zones: zones must be distinct")
        for z in zones:
            if not re.fullmatch(re.escape(self.region) + r"[a-f]", z):
                raise ValueError(
                    f"availability_zones: {z!r} is not a zone of region {self.region} "
                    f"(allowed: {self.region}a, {self.region}b, ...)"
                )
        if len(zones) > 6:
            raise ValueError("availability_zones: at most 6 zones are supported")
        if not (self.domain_name == self.hosted_zone_name or self.domain_name.endswith("." + self.hosted_zone_name)):
            raise ValueError(
                f"domain_name: {self.domain_name!r} is not inside hosted_zone_name {self.hosted_zone_name!r}"
            )
        if self.certificate_arn is not None:
            _, _, _, cert_region, cert_account, _ = self.certificate_arn.split(":", 5)
            if (cert_region, cert_account) != (self.region, self.account):
                raise ValueError(
                    f"certificate_arn: must be a certificate of account {self.account} in {self.region} "
                    f"(a load balancer uses certificates of its own account and region); got {cert_account} in {cert_region}"
                )
        if self.dr_region is not None and self.dr_region == self.region:
            raise ValueError(f"dr_region: must differ from region {self.region} (backup copies go to another region)")
        if self.eks_endpoint_access == "public-and-private" and not self.eks_public_access_cidrs:
            raise ValueError(
                "eks_public_access_cidrs: required when eks_endpoint_access is public-and-private "
                "(list the networks allowed to reach the Kubernetes API)"
            )
        return self

    # --- derived values ------------------------------------------------------------------
    @property
    def multi_az(self) -> bool:
        return self.topology == "multi-az"

    @property
    def sizing(self) -> TierSizing:
        return sizing_for(self.tier)

    @property
    def stack_name(self) -> str:
        """CorridorDev, CorridorStaging, CorridorProd: stable, never derived from user input."""
        return "Corridor" + self.name.capitalize()

    @property
    def resource_prefix(self) -> str:
        """Prefix for physical names that must be unique per environment (secrets, log groups)."""
        return f"corridor-{self.name}"

    @property
    def corridor_image(self) -> str:
        return f"{self.container_registry}/corridor/ggx:{self.image_tag}"

    @property
    def uses_ecr(self) -> bool:
        return ".dkr.ecr." in self.container_registry


# --------------------------------------------------------------------------------------
# Loading


def _format_error(env_name: str, err: ValidationError) -> str:
    """One line: the setting, the value given, and what is allowed."""
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"] if not isinstance(p, int))
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(sorted(f for f in EnvironmentConfig.model_fields if f != "name"))
        return f"config error: {env_name}.{loc}: unknown setting (allowed settings: {allowed})"
    if first["type"] == "missing":
        return f"config error: {env_name}.{loc}: required setting is missing"
    friendly = {
        "string_type": "must be text (quote it in YAML, e.g. \"012345678901\")",
        "tuple_type": "must be a list",
        "int_parsing": "must be a whole number",
        "int_type": "must be a whole number",
        "int_from_float": "must be a whole number",
        "bool_parsing": "must be true or false",
        "bool_type": "must be true or false",
    }
    if first["type"] in friendly:
        return f"config error: {env_name}.{loc} = {first.get('input')!r}: {friendly[first['type']]}"
    if first["type"] == "literal_error" and loc:
        return f"config error: {env_name}.{loc} = {first.get('input')!r}: {msg.replace('Input should be', 'allowed:')}"
    if not loc:  # model-level check: the message starts with the setting's name
        return f"config error: {env_name}.{msg}"
    return f"config error: {env_name}.{loc} = {first.get('input')!r}: {msg}"


def _coerce_override(field: str, value: Any) -> Any:
    """-c values arrive as strings; lists are comma-separated, 'none' clears an optional."""
    if isinstance(value, str):
        if field in ("availability_zones", "eks_public_access_cidrs"):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        optional = type(None) in typing.get_args(EnvironmentConfig.model_fields[field].annotation)
        if value.lower() in ("none", "null", "") and optional:
            return None
    return value


SETTINGS = tuple(f for f in EnvironmentConfig.model_fields if f != "name")


def overrides_from_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of CDK context that names configuration settings.

    CDK's own context keys contain ':', '@', '/' or '-' (feature flags, aws:cdk:*,
    acknowledged-issue-numbers); a plain identifier must be a setting, so a typo such
    as `-c tierr=large` stops synth instead of being silently ignored.
    """
    for key in context:
        if key not in SETTINGS and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            hint = difflib.get_close_matches(key.lower(), SETTINGS, n=1)
            suggestion = f"did you mean {hint[0]!r}? " if hint else ""
            raise ConfigError(f"config error: -c {key}: unknown setting ({suggestion}allowed: {', '.join(SETTINGS)})")
    return {k: _coerce_override(k, v) for k, v in context.items() if k in SETTINGS}


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping (the last would win silently)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def load_environments(
    overrides: Mapping[str, Any] | None = None, path: Path | str = DEFAULT_CONFIG_PATH
) -> list[EnvironmentConfig]:
    """Read, merge (defaults < environment < overrides) and validate every environment."""
    try:
        raw = yaml.load(Path(path).read_text(), Loader=_UniqueKeyLoader) or {}
    except FileNotFoundError:
        raise ConfigError(f"config error: configuration file {path} not found") from None
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"config error: {path} is not valid YAML ({detail})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("environments"), dict):
        raise ConfigError(f"config error: {path} must have an 'environments' mapping")
    unknown = set(raw["environments"]) - set(ENVIRONMENT_NAMES)
    if unknown:
        raise ConfigError(
            f"config error: environments: unknown environment {sorted(unknown)[0]!r} "
            f"(allowed: {', '.join(ENVIRONMENT_NAMES)})"
        )
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise ConfigError("config error: defaults: must be a mapping of setting: value")
    envs = []
    for name in ENVIRONMENT_NAMES:
        if name not in raw["environments"]:
            continue
        block = raw["environments"][name] or {}
        if not isinstance(block, dict):
            raise ConfigError(f"config error: environments.{name}: must be a mapping of setting: value")
        merged = {**defaults, **block, **(overrides or {}), "name": name}
        try:
            envs.append(EnvironmentConfig(**merged))
        except ValidationError as err:
            raise ConfigError(_format_error(name, err)) from None
    if not envs:
        raise ConfigError(f"config error: {path} defines no environment (allowed: {', '.join(ENVIRONMENT_NAMES)})")
    return envs


__all__ = [
    "COMPUTE_METHODS",
    "ConfigError",
    "ENVIRONMENT_NAMES",
    "EnvironmentConfig",
    "TIERS",
    "TOPOLOGIES",
    "load_environments",
    "overrides_from_context",
]
