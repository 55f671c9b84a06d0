"""Customer-managed KMS keys, one per kind of data, each with yearly rotation.

Separate keys keep key policies small and let an auditor revoke one kind of access
(say, log reading) without touching the database's key.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class EncryptionKeys(Construct):
    """KMS keys for Corridor's data stores, logs, secrets and alerts.

    Attributes:
        data: RDS, EFS, EBS volumes and the backup bucket.
        logs: CloudWatch Logs (the logs service principal of this region may use it).
        secrets: Secrets Manager secrets (database and application secrets).
        alerts: the SNS alert topic (CloudWatch alarms of this account and EventBridge rules).
        backup: the AWS Backup vault (recovery points of EFS and every copy made into the vault).
            A key of its own, so that the key guarding the last copy of the data can be
            administered (and its deletion restricted) apart from the live data's key.

    Keys are always retained on delete (a key is cheap, and a deleted key makes every
    snapshot and backup encrypted with it unreadable).
    """

    def __init__(self, scope: Construct, construct_id: str, *, alias_prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.data = self._key("DataKey", f"{alias_prefix}/data", "RDS, EFS, EBS and the backup bucket")
        self.logs = self._key("LogsKey", f"{alias_prefix}/logs", "CloudWatch Logs")
        self.secrets = self._key("SecretsKey", f"{alias_prefix}/secrets", "Secrets Manager secrets")
        self.alerts = self._key("AlertsKey", f"{alias_prefix}/alerts", "the SNS alerts topic")
        self.backup = self._key("BackupKey", f"{alias_prefix}/backup", "the AWS Backup vault")

        region = Stack.of(self).region
        account = Stack.of(self).account
        # CloudWatch Logs encrypts with the key on behalf of log groups of this account.
        self.logs.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
                resources=["*"],
                conditions={
                    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account}:log-group:*"}
                },
            )
        )
        # Alarms of this account publish to the encrypted topic: SNS asks KMS for a data key
        # on CloudWatch's behalf. (The EventBridge target adds its own grant for the backup
        # failure rules; the budget e-mails directly and needs no key.)
        self.alerts.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )

    def _key(self, construct_id: str, alias: str, purpose: str) -> kms.Key:
        return kms.Key(
            self,
            construct_id,
            alias=alias,
            description=f"Corridor: encrypts {purpose}",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
