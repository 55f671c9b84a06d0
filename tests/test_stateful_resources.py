"""Data survives: stateful logical IDs are pinned, and prod retains or snapshots every store.

A changed logical ID makes CloudFormation create a new resource and delete the old one:
for a database, file system, bucket, key or vault that is data loss. If one of these
tests fails after a refactor, restore the construct path; do not update the ID.
"""

from __future__ import annotations

import json

import pytest

from tests.synth import DR_STACKS, STACKS, Synthesized

# Kept on delete and on replacement; only a create that rolls back removes it, so a failed
# first deploy leaves no fixed-name resource behind to block the retry.
KEPT = "RetainExceptOnCreate"

# Logical id -> resource type, identical in every environment.
PINNED = {
    "KeysDataKey8F3FE3A4": "AWS::KMS::Key",
    "KeysLogsKeyD24E82DB": "AWS::KMS::Key",
    "KeysSecretsKey3899A925": "AWS::KMS::Key",
    "KeysAlertsKeyA195AD70": "AWS::KMS::Key",
    "KeysBackupKey75AC2438": "AWS::KMS::Key",
    "BackupVaultADF21B19": "AWS::Backup::BackupVault",
    "DatabaseInstanceAA8A5FDE": "AWS::RDS::DBInstance",
    "DatabaseCredentials24F58BE6": "AWS::SecretsManager::Secret",
    "BucketsBackups18324FCD": "AWS::S3::Bucket",
    "BucketsAccessLogsA5F88218": "AWS::S3::Bucket",
    "AppSecretsAppSecretKeyCB75FF60": "AWS::SecretsManager::Secret",
    "AppSecretsLlmApiKeysC754B200": "AWS::SecretsManager::Secret",
    "AppSecretsLicenseKey0BA84F20": "AWS::SecretsManager::Secret",
}
# Shared file storage of the container methods (EC2 keeps files on EBS).
PINNED_EFS = {
    "SharedStorageFileSystemFF4F5FE9": "AWS::EFS::FileSystem",
    "SharedStorageFileSystemCorridorAccessPointA998CCD2": "AWS::EFS::AccessPoint",
}


# The disaster-recovery stack: the vault receiving copies and its key.
PINNED_DR = {
    "BackupKey570ED138": "AWS::KMS::Key",
    "BackupVaultADF21B19": "AWS::Backup::BackupVault",
}
# Physical names the backup plan and the restore runbook rely on: renaming replaces the vault.
VAULT_NAMES = {
    "CorridorDev": "corridor-dev-vault",
    "CorridorStaging": "corridor-staging-vault",
    "CorridorProd": "corridor-prod-vault",
    "CorridorProdDr": "corridor-prod-dr-vault",
}


def _pinned(s: Synthesized, stack: str) -> dict[str, str]:
    return {**PINNED, **(PINNED_EFS if s.configs[stack].compute != "ec2" else {})}


@pytest.mark.parametrize("stack", STACKS)
def test_stateful_logical_ids_are_pinned(any_compute: Synthesized, stack: str) -> None:
    resources = any_compute.templates[stack]["Resources"]
    for logical_id, type_ in _pinned(any_compute, stack).items():
        assert logical_id in resources, f"{stack}: {logical_id} ({type_}) was renamed: that replaces it"
        assert resources[logical_id]["Type"] == type_


def test_prod_keeps_every_data_store(any_compute: Synthesized) -> None:
    resources = any_compute.templates["CorridorProd"]["Resources"]
    for logical_id, type_ in _pinned(any_compute, "CorridorProd").items():
        if type_ == "AWS::EFS::AccessPoint":
            continue  # an access point holds no data
        is_db = type_ == "AWS::RDS::DBInstance"
        assert resources[logical_id].get("DeletionPolicy") == ("Snapshot" if is_db else KEPT), logical_id
        assert resources[logical_id].get("UpdateReplacePolicy") == ("Snapshot" if is_db else "Retain"), logical_id
    db = resources["DatabaseInstanceAA8A5FDE"]["Properties"]
    assert db["DeletionProtection"] is True


@pytest.mark.parametrize("stack", STACKS)
def test_keys_buckets_and_database_snapshots_outlive_every_environment(any_compute: Synthesized, stack: str) -> None:
    """Even dev keeps keys (snapshots need them), buckets and a final database snapshot."""
    resources = any_compute.templates[stack]["Resources"]
    for logical_id, type_ in PINNED.items():
        if type_ in ("AWS::KMS::Key", "AWS::S3::Bucket", "AWS::Backup::BackupVault"):
            assert resources[logical_id]["DeletionPolicy"] == KEPT, (stack, logical_id)
            assert resources[logical_id]["UpdateReplacePolicy"] == "Retain", (stack, logical_id)
    assert resources["DatabaseInstanceAA8A5FDE"]["DeletionPolicy"] == "Snapshot"


def test_prod_stack_has_termination_protection(any_compute: Synthesized) -> None:
    artifacts = json.loads((any_compute.outdir / "manifest.json").read_text())["artifacts"]
    assert artifacts["CorridorProd"]["properties"].get("terminationProtection") is True
    assert not artifacts["CorridorDev"]["properties"].get("terminationProtection")


@pytest.mark.parametrize("stack", DR_STACKS)
def test_dr_vault_and_key_are_pinned_and_retained(any_compute: Synthesized, stack: str) -> None:
    resources = any_compute.templates[stack]["Resources"]
    for logical_id, type_ in PINNED_DR.items():
        assert logical_id in resources, f"{stack}: {logical_id} ({type_}) was renamed: that replaces it"
        assert resources[logical_id]["Type"] == type_
        assert resources[logical_id]["DeletionPolicy"] == KEPT
        assert resources[logical_id]["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("stack", STACKS + DR_STACKS)
def test_vault_names_are_stable(any_compute: Synthesized, stack: str) -> None:
    vault = any_compute.templates[stack]["Resources"]["BackupVaultADF21B19"]
    assert vault["Properties"]["BackupVaultName"] == VAULT_NAMES[stack]
