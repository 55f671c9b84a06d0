"""AWS Backup for Corridor's data stores, and the vault that receives copies in the DR region.

The guide's "Backup and Recovery": daily backups kept 7-35 days (by tier), weekly
and monthly ones kept longer, and copies in another region for disaster recovery.
The database and the shared files (EFS, or EC2's EBS volumes) are in one selection.
Restoring is step by step in docs/operations.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

# Protected vaults refuse to delete a recovery point younger than this (vault lock,
# governance mode: removable only by a principal allowed backup:DeleteBackupVaultLockConfiguration).
LOCK_MIN_RETENTION_DAYS = 7


@dataclass(frozen=True)
class BackupRuleSpec:
    """One rule of the plan: when it runs (cron in UTC) and how long its recovery points live."""

    name: str
    schedule: events.Schedule
    delete_after_days: int
    cold_storage_after_days: int | None = None


def backup_rules(daily_retention_days: int) -> tuple[BackupRuleSpec, ...]:
    """Daily, weekly and monthly rules.

    Times avoid the database's backup window (03:00-04:00 UTC) and its Sunday maintenance
    window (04:30-05:30 UTC), and are staggered so two jobs never start together on one
    resource. Monthly recovery points move to cold storage after 90 days where the
    resource type supports it (EFS, EBS); AWS Backup ignores that for RDS. Cold storage
    needs 90 days there before deletion, hence 365 days in all.
    """
    return (
        BackupRuleSpec("Daily", events.Schedule.cron(minute="0", hour="6"), daily_retention_days),
        BackupRuleSpec("Weekly", events.Schedule.cron(minute="0", hour="9", week_day="SUN"), 90),
        BackupRuleSpec("Monthly", events.Schedule.cron(minute="0", hour="12", day="1"), 365, cold_storage_after_days=90),
    )


def dr_vault_name(resource_prefix: str) -> str:
    """Fixed name of the DR-region vault, so the copy rule can build its ARN without a
    cross-region reference (docs/pitfalls #3)."""
    return f"{resource_prefix}-dr-vault"


def dr_vault_arn(*, partition: str, region: str, account: str, resource_prefix: str) -> str:
    return f"arn:{partition}:backup:{region}:{account}:backup-vault:{dr_vault_name(resource_prefix)}"


def kept_vault(scope: Construct, *, name: str, key: kms.IKey, locked: bool) -> backup.BackupVault:
    """A KMS-encrypted vault (construct id ``Vault``) that outlives the stack; locked in
    protected environments so recovery points cannot be deleted before the minimum."""
    return backup.BackupVault(
        scope,
        "Vault",
        backup_vault_name=name,
        encryption_key=key,
        lock_configuration=(
            backup.LockConfiguration(min_retention=Duration.days(LOCK_MIN_RETENTION_DAYS)) if locked else None
        ),
        removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    )


class DataBackup(Construct):
    """A KMS-encrypted vault, the daily/weekly/monthly plan and the selection of data stores.

    Args:
        name_prefix: ``corridor-prod``: vault ``<prefix>-vault``, plan ``<prefix>-plan``.
        key: the vault's KMS key (encrypts EFS recovery points and copies into the vault;
            RDS and EBS snapshots stay under their own key).
        resources: what to back up (database, EFS, and the compute method's ``backup_resources``).
        daily_retention_days: by tier (7-35 days, the guide's range).
        protect: vault lock (governance mode, minimum retention 7 days).
        copy_to_vault_arn: the DR-region vault; every rule copies there when set.
        topic: receives failed backup and copy jobs.

    Attributes:
        vault, plan, selection, role (the backup and restore role), rules (the specs used).

    The vault is always retained: CloudFormation cannot delete a vault holding recovery
    points, and those expire on their own schedule.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        key: kms.IKey,
        resources: Sequence[backup.BackupResource],
        daily_retention_days: int,
        protect: bool,
        copy_to_vault_arn: str | None,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 7 <= daily_retention_days <= 35:
            raise ValueError("daily_retention_days must be 7-35 (the guide's range)")
        if not resources:
            raise ValueError("nothing to back up: pass the database and the file storage")
        vault_name = f"{name_prefix}-vault"
        self.vault = kept_vault(self, name=vault_name, key=key, locked=protect)
        self.copy_to_vault_arn = copy_to_vault_arn
        copy_target = (
            backup.BackupVault.from_backup_vault_arn(self, "DrVault", copy_to_vault_arn) if copy_to_vault_arn else None
        )
        self.rules = backup_rules(daily_retention_days)
        plan_rules = []
        for spec in self.rules:
            delete_after = Duration.days(spec.delete_after_days)
            cold_after = Duration.days(spec.cold_storage_after_days) if spec.cold_storage_after_days else None
            plan_rules.append(
                backup.BackupPlanRule(
                    rule_name=spec.name,
                    schedule_expression=spec.schedule,
                    start_window=Duration.hours(1),
                    completion_window=Duration.hours(8),
                    delete_after=delete_after,
                    move_to_cold_storage_after=cold_after,
                    copy_actions=(
                        [
                            backup.BackupPlanCopyActionProps(
                                destination_backup_vault=copy_target,
                                delete_after=delete_after,
                                move_to_cold_storage_after=cold_after,
                            )
                        ]
                        if copy_target is not None
                        else None
                    ),
                )
            )
        self.plan = backup.BackupPlan(
            self, "Plan", backup_plan_name=f"{name_prefix}-plan", backup_vault=self.vault, backup_plan_rules=plan_rules
        )
        # The role may also restore, so the restore steps in docs/operations.md can name it.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
            description=f"AWS Backup: backs up and restores {name_prefix}'s database and files",
        )
        self.selection = self.plan.add_selection(
            "Selection",
            backup_selection_name=f"{name_prefix}-data",
            resources=list(resources),
            role=self.role,
            allow_restores=True,
        )
        for policy in ("AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"):
            Validations.of(self.role).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{policy}]",
                    reason="AWS's service-role policy for AWS Backup, assumable only by backup.amazonaws.com. It covers "
                    "every resource type's snapshot, copy and restore calls, and AWS keeps it current as they change.",
                )
            )

        # Failed, aborted or expired jobs reach the alerts topic (successes stay quiet).
        events.Rule(
            self,
            "BackupJobFailed",
            description=f"{name_prefix}: AWS Backup job did not complete",
            event_pattern=events.EventPattern(
                source=["aws.backup"],
                detail_type=["Backup Job State Change"],
                detail={"state": ["FAILED", "ABORTED", "EXPIRED", "PARTIAL"], "backupVaultName": [vault_name]},
            ),
            targets=[targets.SnsTopic(topic)],
        )
        if copy_target is not None:
            events.Rule(
                self,
                "CopyJobFailed",
                description=f"{name_prefix}: AWS Backup copy to the DR region did not complete",
                event_pattern=events.EventPattern(
                    source=["aws.backup"],
                    detail_type=["Copy Job State Change"],
                    detail={"state": ["FAILED", "ABORTED", "PARTIAL"], "sourceBackupVaultArn": [self.vault.backup_vault_arn]},
                ),
                targets=[targets.SnsTopic(topic)],
            )


class DisasterRecoveryVault(Construct):
    """The vault in the DR region that receives a copy of every backup.

    Its own KMS key (copies are re-encrypted with it; a key cannot be used across
    regions), retained with the vault; vault lock when ``protect``.

    Attributes:
        key, vault.
    """

    def __init__(self, scope: Construct, construct_id: str, *, resource_prefix: str, protect: bool) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            alias=f"alias/{resource_prefix}/dr-backup",
            description="Corridor: encrypts the disaster-recovery backup vault",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        self.vault = kept_vault(self, name=dr_vault_name(resource_prefix), key=self.key, locked=protect)


__all__ = ["BackupRuleSpec", "DataBackup", "DisasterRecoveryVault", "backup_rules", "dr_vault_arn", "dr_vault_name"]
