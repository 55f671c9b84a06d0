"""Corridor's application secrets in Secrets Manager: generated, never literals."""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, RemovalPolicy, Validations
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

# Keys of the JSON secret holding LLM-provider and integration API keys. They are
# created with random placeholder values; operators put the real keys in after deploy.
LLM_KEY_NAMES = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AZURE_OPENAI_API_KEY")


class AppSecrets(Construct):
    """Secrets the Corridor components read at start-up.

    Attributes:
        app_secret_key: generated session-signing key (JSON key ``SECRET_KEY``).
        llm_api_keys: JSON of LLM/integration API keys (placeholders until set).
        license_key: Corridor licence (JSON key ``LICENSE_KEY``, placeholder until set).
        registry_credentials: ``{"username","password"}`` for a non-ECR registry, else None.
        all: every secret above, for granting read access in one call.

    Secrets are encrypted with ``key`` and retained on delete when ``protect_data``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        key: kms.IKey,
        needs_registry_credentials: bool,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)

        def generated(construct_id: str, name: str, description: str, keys: tuple[str, ...]) -> secretsmanager.Secret:
            first, *rest = keys
            secret = secretsmanager.Secret(
                self,
                construct_id,
                secret_name=f"{name_prefix}/{name}",
                description=description,
                encryption_key=key,
                removal_policy=removal_policy,
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template=json.dumps({k: "" for k in rest}),
                    generate_string_key=first,
                    exclude_punctuation=True,
                    password_length=48,
                ),
            )
            return secret

        self.app_secret_key = generated(
            "AppSecretKey", "app/secret-key", "Corridor session-signing key (generated)", ("SECRET_KEY",)
        )
        self.llm_api_keys = generated(
            "LlmApiKeys",
            "app/llm-api-keys",
            "LLM provider API keys: replace the placeholders with put-secret-value",
            LLM_KEY_NAMES,
        )
        self.license_key = generated(
            "LicenseKey", "app/license-key", "Corridor licence key: replace the placeholder", ("LICENSE_KEY",)
        )
        self.registry_credentials = (
            secretsmanager.Secret(
                self,
                "RegistryCredentials",
                secret_name=f"{name_prefix}/registry-credentials",
                description="Pull credentials for the Corridor container registry (username/password)",
                encryption_key=key,
                removal_policy=removal_policy,
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template=json.dumps({"username": "corridor"}),
                    generate_string_key="password",
                    exclude_punctuation=True,
                ),
            )
            if needs_registry_credentials
            else None
        )
        self.all = [s for s in (self.app_secret_key, self.llm_api_keys, self.license_key, self.registry_credentials) if s]

        for secret in self.all:
            Validations.of(secret).acknowledge(
                Acknowledgment(
                    id="AwsSolutions-SMG4",
                    reason="Issued by a third party (LLM provider, Corridor licensing, registry) or read by every "
                    "running task; Secrets Manager cannot rotate it automatically. Operators rotate it on the "
                    "README's schedule (API keys 180 days, registry credentials 90 days).",
                )
            )
