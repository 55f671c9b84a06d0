"""Configuration: defaults, -c overrides, and one clear line for every bad value."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from corridor_cdk.config import ConfigError, load_environments, overrides_from_context

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_follow_the_issue() -> None:
    envs = {e.name: e for e in load_environments()}
    assert (envs["dev"].tier, envs["dev"].topology) == ("dev", "single-az")
    assert (envs["staging"].tier, envs["staging"].topology) == ("small", "multi-az")
    assert (envs["prod"].tier, envs["prod"].topology) == ("small", "multi-az")
    assert {e.compute for e in envs.values()} == {"fargate"}
    assert envs["prod"].protect_data and envs["prod"].termination_protection
    assert envs["dev"].stack_name == "CorridorDev"


def test_overrides_apply_to_every_environment() -> None:
    envs = load_environments(overrides_from_context({"compute": "eks", "tier": "large", "topology": "multi-az"}))
    assert {(e.compute, e.tier, e.topology) for e in envs} == {("eks", "large", "multi-az")}


def test_unrelated_context_is_ignored() -> None:
    assert overrides_from_context({"@aws-cdk/core:newStyleStackSynthesis": True, "tier": "medium"}) == {
        "tier": "medium"
    }


def test_list_overrides_are_comma_separated() -> None:
    envs = load_environments(overrides_from_context({"availability_zones": "us-east-1a, us-east-1c, us-east-1d"}))
    assert envs[0].availability_zones == ("us-east-1a", "us-east-1c", "us-east-1d")


BAD = [
    ({"tier": "huge"}, "dev.tier = 'huge': allowed: 'dev', 'small', 'medium' or 'large'"),
    ({"compute": "lambda"}, "dev.compute = 'lambda': allowed: 'fargate', 'eks' or 'ec2'"),
    ({"topology": "multi-region"}, "dev.topology = 'multi-region': allowed: 'single-az' or 'multi-az'"),
    ({"vpc_cidr": "10.0.0.0/24"}, "dev.vpc_cidr = '10.0.0.0/24': must be an IPv4 network from /16 to /20"),
    ({"vpc_cidr": "10.0.0.1/16"}, "dev.vpc_cidr = '10.0.0.1/16': must be an IPv4 network such as 10.0.0.0/16"),
    ({"vpc_cidr": "not-a-cidr"}, "dev.vpc_cidr = 'not-a-cidr': must be an IPv4 network"),
    ({"availability_zones": "us-east-1a"}, "dev.availability_zones: needs at least 2 zones of us-east-1"),
    (
        {"availability_zones": "us-east-1a,eu-west-1b"},
        "dev.availability_zones: 'eu-west-1b' is not a zone of region us-east-1",
    ),
    ({"availability_zones": "us-east-1a,us-east-1a"}, "dev.availability_zones: zones must be distinct"),
    ({"alert_email": "ops-at-example"}, "dev.alert_email = 'ops-at-example': must be an e-mail address"),
    ({"account": "12345"}, "dev.account = '12345': must be a 12-digit AWS account id"),
    ({"region": "mars-1"}, "dev.region = 'mars-1': must be a commercial AWS region"),
    ({"domain_name": "corridor.other.org"}, "dev.domain_name: 'corridor.other.org' is not inside hosted_zone_name"),
    ({"hosted_zone_id": "abc"}, "dev.hosted_zone_id = 'abc': must be a Route 53 hosted zone id"),
    ({"admin_role_arn": "CorridorAdmin"}, "dev.admin_role_arn = 'CorridorAdmin': must be an IAM role ARN"),
    ({"certificate_arn": "arn:aws:iam::1:x"}, "dev.certificate_arn = 'arn:aws:iam::1:x': must be an ACM certificate ARN"),
    ({"image_tag": "bad tag"}, "dev.image_tag = 'bad tag': must be a container image tag"),
    ({"dr_region": "us-east-1"}, "dev.dr_region: must differ from region us-east-1"),
    ({"waf_rate_limit": "5"}, "dev.waf_rate_limit = '5': must be from 100 to 2000000000"),
    ({"monthly_budget_usd": "0"}, "dev.monthly_budget_usd = '0': must be a whole number of US dollars from 1 to 10000000"),
    ({"bundle_s3_uri": "https://x/y.zip"}, "dev.bundle_s3_uri = 'https://x/y.zip': must be an S3 URI"),
    ({"eks_endpoint_access": "public-and-private"}, "dev.eks_public_access_cidrs: required when eks_endpoint_access"),
    ({"eks_public_access_cidrs": "0.0.0.0/0"}, "is too wide: name your own networks"),
    ({"eks_public_access_cidrs": "0.0.0.0/1,128.0.0.0/1"}, "'0.0.0.0/1' is too wide"),
    ({"region": "us-gov-west-1"}, "must be a commercial AWS region"),
    ({"region": "xx-fake-1"}, "must be a commercial AWS region"),
    ({"availability_zones": "us-east-1a,us-east-1z"}, "'us-east-1z' is not a zone of region us-east-1"),
    ({"vpc_cidr": "8.8.0.0/16"}, "must be inside a private range"),
    ({"container_registry": "http://my registry/ x"}, "must be a registry host"),
    ({"container_registry": ""}, "must be a registry host"),
    ({"redis_image": ""}, "must be an image reference"),
    ({"domain_name": "a" * 50 + ".corridor.example.com"}, "must be at most 64 characters"),
    ({"monthly_budget_usd": "true"}, "must be a whole number"),
    ({"monthly_budget_usd": "1" + "0" * 30}, "from 1 to 10000000"),
    ({"protect_data": "maybe"}, "dev.protect_data = 'maybe': must be true or false"),
    ({"termination_protection": "1"}, "must be true or false"),
    (
        {"certificate_arn": "arn:aws:acm:eu-west-1:111111111111:certificate/abc"},
        "dev.certificate_arn: must be a certificate of account 111111111111 in us-east-1",
    ),
    ({"tierr": "large"}, "config error: -c tierr: unknown setting (did you mean 'tier'?"),
    ({"Tier": "large"}, "-c Tier: unknown setting (did you mean 'tier'?"),
]


@pytest.mark.parametrize(("override", "message"), BAD, ids=[next(iter(o)) + "=" + str(next(iter(o.values()))) for o, _ in BAD])
def test_bad_value_gives_one_clear_line(override: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_environments(overrides_from_context(override))
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith("config error: ")
    assert message in text


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "environments.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_cdk_context_keys_are_not_mistaken_for_settings() -> None:
    context = {"@aws-cdk/core:target": True, "aws:cdk:enable-path-metadata": True, "acknowledged-issue-numbers": [1]}
    assert overrides_from_context(context) == {}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw["environments"].__setitem__("prod", ["tier", "small"]), "environments.prod: must be a mapping"),
        (lambda raw: raw.__setitem__("defaults", ["x"]), "defaults: must be a mapping"),
        (lambda raw: raw["environments"]["prod"].__setitem__("account", 333333333333), "must be text (quote it in YAML"),
        (lambda raw: raw["environments"]["prod"].__setitem__("availability_zones", "us-east-1a"), "must be a list"),
    ],
)
def test_malformed_file_gives_one_clear_line(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load((ROOT / "config" / "environments.yaml").read_text())
    mutate(raw)
    with pytest.raises(ConfigError) as err:
        load_environments(path=_write(tmp_path, raw))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "environments.yaml"
    text = (ROOT / "config" / "environments.yaml").read_text()
    path.write_text(text.replace("    tier: dev\n", "    tier: dev\n    tier: large\n"))
    with pytest.raises(ConfigError, match="duplicate key 'tier'"):
        load_environments(path=path)


def test_unknown_setting_lists_the_allowed_ones(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "config" / "environments.yaml").read_text())
    raw["environments"]["prod"]["teir"] = "small"
    with pytest.raises(ConfigError, match=r"prod\.teir: unknown setting \(allowed settings: .*tier"):
        load_environments(path=_write(tmp_path, raw))


def test_unknown_environment_is_refused(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "config" / "environments.yaml").read_text())
    raw["environments"]["qa"] = raw["environments"]["dev"]
    with pytest.raises(ConfigError, match="unknown environment 'qa' \\(allowed: dev, staging, prod\\)"):
        load_environments(path=_write(tmp_path, raw))


def test_missing_setting_is_named(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "config" / "environments.yaml").read_text())
    del raw["environments"]["prod"]["account"]
    with pytest.raises(ConfigError, match=r"prod\.account: required setting is missing"):
        load_environments(path=_write(tmp_path, raw))


def test_cdk_entry_point_prints_one_line_and_no_traceback() -> None:
    """What a user sees from `cdk synth -c tier=huge`: app.py exits 2 with one line on stderr."""
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"tier": "huge"}), "CDK_OUTDIR": "/nonexistent"}
    proc = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "config error: dev.tier = 'huge': allowed: 'dev', 'small', 'medium' or 'large'"
    ]
    assert "Traceback" not in proc.stdout + proc.stderr
