"""Database, credentials, file system, buckets and application secrets."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from tests.synth import Synthesized


def _db(s: Synthesized, stack: str) -> dict:  # type: ignore[type-arg]
    (db,) = s.resources(stack, "AWS::RDS::DBInstance").values()
    return db["Properties"]


@pytest.mark.parametrize(
    ("stack", "klass", "storage", "multi_az", "retention"),
    [
        ("CorridorDev", "db.t3.medium", "20", False, 7),
        ("CorridorStaging", "db.t3.xlarge", "100", True, 14),
        ("CorridorProd", "db.t3.xlarge", "100", True, 14),
    ],
)
def test_database_is_sized_by_tier_and_topology(
    fargate: Synthesized, stack: str, klass: str, storage: str, multi_az: bool, retention: int
) -> None:
    db = _db(fargate, stack)
    assert db["DBInstanceClass"] == klass
    assert db["AllocatedStorage"] == storage
    assert db["MultiAZ"] is multi_az
    assert db["BackupRetentionPeriod"] == retention


def test_database_is_encrypted_private_postgres_with_logs(fargate: Synthesized) -> None:
    db = _db(fargate, "CorridorProd")
    assert db["Engine"] == "postgres"
    assert int(db["EngineVersion"].split(".")[0]) >= 14
    assert db["StorageType"] == "gp3"
    assert db["StorageEncrypted"] is True
    assert db["KmsKeyId"] == {"Fn::GetAtt": ["KeysDataKey8F3FE3A4", "Arn"]}
    assert db["PubliclyAccessible"] is False
    assert db["EnableCloudwatchLogsExports"] == ["postgresql"]
    assert db["EnableIAMDatabaseAuthentication"] is True
    assert db["DeletionProtection"] is True
    assert db["MaxAllocatedStorage"] > int(db["AllocatedStorage"])


def test_dev_database_is_destroyable_but_snapshotted(fargate: Synthesized) -> None:
    assert _db(fargate, "CorridorDev")["DeletionProtection"] is False
    (db,) = fargate.resources("CorridorDev", "AWS::RDS::DBInstance").values()
    assert db["DeletionPolicy"] == "Snapshot"


def test_tls_is_forced(fargate: Synthesized) -> None:
    fargate.template("CorridorProd").has_resource_properties(
        "AWS::RDS::DBParameterGroup", {"Family": "postgres17", "Parameters": Match.object_like({"rds.force_ssl": "1"})}
    )


def test_credentials_secret_has_the_guides_shape_and_rotates(fargate: Synthesized) -> None:
    t = fargate.template("CorridorProd")
    (secret,) = [
        r for k, r in fargate.resources("CorridorProd", "AWS::SecretsManager::Secret").items() if k.startswith("DatabaseCredentials")
    ]
    props = secret["Properties"]
    assert props["Name"] == "corridor/prod/database/credentials"
    assert json.loads(props["GenerateSecretString"]["SecretStringTemplate"]) == {"username": "corridor"}
    assert props["KmsKeyId"] == {"Fn::GetAtt": ["KeysSecretsKey3899A925", "Arn"]}
    # Attaching the secret to the instance adds host, port, dbname and engine.
    t.resource_count_is("AWS::SecretsManager::SecretTargetAttachment", 1)
    t.has_resource_properties(
        "AWS::SecretsManager::RotationSchedule",
        {
            "RotationRules": {"ScheduleExpression": "rate(30 days)"},
            "HostedRotationLambda": Match.object_like(
                {"RotationType": "PostgreSQLSingleUser", "VpcSubnetIds": Match.any_value(), "VpcSecurityGroupIds": Match.any_value()}
            ),
        },
    )


def test_rotation_lambda_can_reach_secrets_manager_and_the_database(fargate: Synthesized) -> None:
    """Pitfall: rotation in private subnets times out without a path to Secrets Manager."""
    t = fargate.templates["CorridorProd"]["Resources"]
    (schedule,) = fargate.resources("CorridorProd", "AWS::SecretsManager::RotationSchedule").values()
    rotation_sg = schedule["Properties"]["HostedRotationLambda"]["VpcSecurityGroupIds"]["Fn::GetAtt"][0]
    egress = [
        r["Properties"]
        for r in fargate.resources("CorridorProd", "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"]["Fn::GetAtt"][0] == rotation_sg
    ]
    targets = {(e["DestinationSecurityGroupId"]["Fn::GetAtt"][0], e["FromPort"]) for e in egress}
    assert ("NetworkDatabaseSecurityGroup2B3F4679", 5432) in targets
    assert ("NetworkEndpointSecurityGroup6DEF6240", 443) in targets
    secrets_endpoint = [
        r
        for r in t.values()
        if r["Type"] == "AWS::EC2::VPCEndpoint" and "secretsmanager" in json.dumps(r["Properties"]["ServiceName"])
    ]
    assert secrets_endpoint and secrets_endpoint[0]["Properties"]["PrivateDnsEnabled"] is True


def test_efs_is_encrypted_with_lifecycle_access_point_and_tls_policy(fargate: Synthesized) -> None:
    t = fargate.template("CorridorProd")
    t.has_resource_properties(
        "AWS::EFS::FileSystem",
        {
            "Encrypted": True,
            "KmsKeyId": {"Fn::GetAtt": ["KeysDataKey8F3FE3A4", "Arn"]},
            "PerformanceMode": "generalPurpose",
            "ThroughputMode": "bursting",
            "LifecyclePolicies": Match.array_with([{"TransitionToIA": "AFTER_30_DAYS"}]),
        },
    )
    t.resource_count_is("AWS::EFS::MountTarget", 2)
    t.has_resource_properties(
        "AWS::EFS::AccessPoint",
        {
            "PosixUser": {"Uid": "1000", "Gid": "1000"},
            "RootDirectory": {"Path": "/corridor", "CreationInfo": {"OwnerUid": "1000", "OwnerGid": "1000", "Permissions": "750"}},
        },
    )
    (fs,) = fargate.resources("CorridorProd", "AWS::EFS::FileSystem").values()
    statements = fs["Properties"]["FileSystemPolicy"]["Statement"]
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in [s.get("Condition") for s in denies]
    # Nobody gets root, and nobody mounts without the access point.
    assert any(s["Action"] == "elasticfilesystem:ClientRootAccess" and "Condition" not in s for s in denies)
    assert any(
        s.get("Condition") == {"Null": {"elasticfilesystem:AccessPointArn": "true"}}
        and {"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"} <= set(s["Action"])
        for s in denies
    )


def test_buckets_are_private_tls_only_versioned(fargate: Synthesized) -> None:
    buckets = fargate.resources("CorridorProd", "AWS::S3::Bucket")
    assert len(buckets) == 2
    for b in buckets.values():
        p = b["Properties"]
        assert p["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert p["VersioningConfiguration"] == {"Status": "Enabled"}
        assert p["LifecycleConfiguration"]["Rules"]
    backups = buckets["BucketsBackups18324FCD"]["Properties"]
    sse = backups["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert sse["SSEAlgorithm"] == "aws:kms"
    assert backups["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "BucketsAccessLogsA5F88218"}
    for policy in fargate.resources("CorridorProd", "AWS::S3::BucketPolicy").values():
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)


def test_application_secrets_are_generated_never_literal(fargate: Synthesized) -> None:
    secrets = {
        r["Properties"]["Name"]: r["Properties"]
        for r in fargate.resources("CorridorProd", "AWS::SecretsManager::Secret").values()
    }
    for name in ("corridor/prod/app/secret-key", "corridor/prod/app/llm-api-keys", "corridor/prod/app/license-key"):
        assert "GenerateSecretString" in secrets[name]
        assert "SecretString" not in secrets[name]
        assert secrets[name]["KmsKeyId"] == {"Fn::GetAtt": ["KeysSecretsKey3899A925", "Arn"]}
    # The configured registry is ECR: no registry credentials are needed.
    assert "corridor/prod/registry-credentials" not in secrets


def test_every_kms_key_rotates(fargate: Synthesized) -> None:
    keys = fargate.resources("CorridorProd", "AWS::KMS::Key").values()
    assert len(keys) >= 4
    assert all(k["Properties"]["EnableKeyRotation"] is True for k in keys)


def test_single_az_database_sits_in_the_compute_zone(fargate: Synthesized) -> None:
    assert _db(fargate, "CorridorDev")["AvailabilityZone"] == "us-east-1a"
    assert "AvailabilityZone" not in _db(fargate, "CorridorProd")
