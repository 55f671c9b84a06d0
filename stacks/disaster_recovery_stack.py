"""The disaster-recovery stack of an environment with ``dr_region``: the vault receiving backup copies."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack, Tags
from constructs import Construct

from constructs_lib.backup import DisasterRecoveryVault
from corridor_cdk.config import EnvironmentConfig


class DisasterRecoveryStack(Stack):
    """``<environment stack>Dr`` (CorridorProdDr) in ``cfg.dr_region``: a KMS key and a vault.

    The environment's stack depends on it, so ``cdk deploy CorridorProd`` deploys it first.
    Nothing crosses the regions as a CloudFormation reference: the copy rule builds the
    vault's ARN from its fixed name (see ``constructs_lib.backup.dr_vault_arn``).
    """

    def __init__(self, scope: Construct, cfg: EnvironmentConfig) -> None:
        if cfg.dr_region is None:
            raise ValueError(f"{cfg.name} has no dr_region")
        super().__init__(
            scope,
            dr_stack_name(cfg),
            env=Environment(account=cfg.account, region=cfg.dr_region),
            termination_protection=cfg.termination_protection,
            description=f"Corridor GenGuardX ({cfg.name}) disaster-recovery backup vault in {cfg.dr_region}",
        )
        Tags.of(self).add("Project", "Corridor")
        Tags.of(self).add("Environment", cfg.name)
        self.backup = DisasterRecoveryVault(
            self, "Backup", resource_prefix=cfg.resource_prefix, protect=cfg.protect_data
        )
        CfnOutput(self, "DrBackupVaultName", value=self.backup.vault.backup_vault_name)


def dr_stack_name(cfg: EnvironmentConfig) -> str:
    """CorridorProd -> CorridorProdDr: stable, derived only from the environment's name."""
    return f"{cfg.stack_name}Dr"
