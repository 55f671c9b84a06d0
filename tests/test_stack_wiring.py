"""Stack-level behaviour: tags, outputs, optional configuration paths."""

from __future__ import annotations

import pytest

from tests.conftest import EXISTING_CERTIFICATE, OTHER_REGISTRY
from tests.synth import STACKS, Synthesized

TAGGED_TYPES = ("AWS::EC2::VPC", "AWS::RDS::DBInstance", "AWS::S3::Bucket", "AWS::KMS::Key", "AWS::EFS::FileSystem")


@pytest.mark.parametrize("stack", STACKS)
def test_project_and_environment_tags_on_resources(fargate: Synthesized, stack: str) -> None:
    env = fargate.configs[stack].name
    for type_ in TAGGED_TYPES:
        for logical_id, r in fargate.resources(stack, type_).items():
            tags = r["Properties"].get("Tags") or r["Properties"].get("FileSystemTags")
            pairs = {(t["Key"], t["Value"]) for t in tags}
            assert {("Project", "Corridor"), ("Environment", env)} <= pairs, logical_id


def test_outputs_for_operators(fargate: Synthesized) -> None:
    outputs = fargate.templates["CorridorProd"]["Outputs"]
    assert outputs["Url"]["Value"] == "https://corridor.example.com"
    assert outputs["DatabaseSecretName"]["Value"] == "corridor/prod/database/credentials"


def test_existing_certificate_is_used_instead_of_a_new_one(alternate: Synthesized) -> None:
    t = alternate.template("CorridorProd")
    t.resource_count_is("AWS::CertificateManager::Certificate", 0)
    t.has_resource_properties(
        "AWS::ElasticLoadBalancingV2::Listener",
        {"Port": 443, "Certificates": [{"CertificateArn": EXISTING_CERTIFICATE}]},
    )


def test_registry_outside_ecr_gets_pull_credentials_from_secrets_manager(alternate: Synthesized) -> None:
    secrets = {
        r["Properties"]["Name"]: k for k, r in alternate.resources("CorridorProd", "AWS::SecretsManager::Secret").items()
    }
    credentials = secrets["corridor/prod/registry-credentials"]
    for r in alternate.resources("CorridorProd", "AWS::ECS::TaskDefinition").values():
        (container,) = r["Properties"]["ContainerDefinitions"]
        if container["Name"] == "redis":
            continue
        assert container["Image"] == f"{OTHER_REGISTRY}/corridor/ggx:1.0.0"
        assert container["RepositoryCredentials"] == {"CredentialsParameter": {"Ref": credentials}}
