"""Shared fixtures: each compute method's app is synthesized once per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
# The supported Node.js from node_modules must be first in PATH before jsii starts.
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"
sys.path.insert(0, str(ROOT))

from tests.synth import Synthesized, synthesize  # noqa: E402

_CACHE: dict[str, Synthesized] = {}


def _synth(compute: str, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    if compute not in _CACHE:
        _CACHE[compute] = synthesize({"compute": compute}, tmp_path_factory.mktemp(f"cdk-{compute}"))
    return _CACHE[compute]


@pytest.fixture(scope="session")
def fargate(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Every environment with compute=fargate (the configured default)."""
    return _synth("fargate", tmp_path_factory)


@pytest.fixture(scope="session")
def eks(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Every environment with compute=eks."""
    return _synth("eks", tmp_path_factory)


@pytest.fixture(scope="session")
def ec2(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Every environment with compute=ec2."""
    return _synth("ec2", tmp_path_factory)


# Every cross-cutting test (cdk-nag, cfn-lint, snapshots, stateful IDs) covers every method.
from corridor_cdk.config import COMPUTE_METHODS  # noqa: E402


@pytest.fixture(scope="session", params=COMPUTE_METHODS)
def any_compute(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """Every environment, once per compute method."""
    return _synth(request.param, tmp_path_factory)


# A second configuration exercising the optional paths: prod with an existing certificate,
# and a registry outside ECR (pull credentials from Secrets Manager).
EXISTING_CERTIFICATE = "arn:aws:acm:us-east-1:333333333333:certificate/0a1b2c3d-aaaa-bbbb-cccc-000000000000"
OTHER_REGISTRY = "registry.corridorplatforms.com"


@pytest.fixture(scope="session")
def alternate(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    raw = yaml.safe_load((ROOT / "config" / "environments.yaml").read_text())
    raw["environments"]["prod"]["certificate_arn"] = EXISTING_CERTIFICATE
    raw["defaults"]["container_registry"] = OTHER_REGISTRY
    workdir = tmp_path_factory.mktemp("cdk-alternate")
    config = workdir / "environments.yaml"
    config.write_text(yaml.safe_dump(raw))
    return synthesize({}, workdir / "out", config_path=config)
