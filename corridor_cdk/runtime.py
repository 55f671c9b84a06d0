"""What each component is given at run time: plain settings and secret references.

Shared by every compute renderer so a variable has the same name on Fargate, EKS
and EC2. Secret values never appear here, only which secret and JSON field to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from corridor_cdk.components import Component, component

SHARED_DATA_PATH = "/opt/corridor/data"  # where the shared volume (EFS or EBS) is mounted
EC2_HTTP_PORT = 80  # on EC2, nginx (guide step 6.4) listens here and proxies to corridor-app

SecretName = Literal["database", "app_secret_key", "llm_api_keys", "license_key"]


@dataclass(frozen=True)
class SecretRef:
    """Field ``field`` of the JSON secret ``secret``."""

    secret: SecretName
    field: str


DATABASE_SECRET_ENV: dict[str, SecretRef] = {
    "DB_HOST": SecretRef("database", "host"),
    "DB_PORT": SecretRef("database", "port"),
    "DB_NAME": SecretRef("database", "dbname"),
    "DB_USER": SecretRef("database", "username"),
    "DB_PASSWORD": SecretRef("database", "password"),
}

APP_SECRET_ENV: dict[str, SecretRef] = {
    "SECRET_KEY": SecretRef("app_secret_key", "SECRET_KEY"),
    "LICENSE_KEY": SecretRef("license_key", "LICENSE_KEY"),
    "OPENAI_API_KEY": SecretRef("llm_api_keys", "OPENAI_API_KEY"),
    "ANTHROPIC_API_KEY": SecretRef("llm_api_keys", "ANTHROPIC_API_KEY"),
    "AZURE_OPENAI_API_KEY": SecretRef("llm_api_keys", "AZURE_OPENAI_API_KEY"),
}


def secret_environment(c: Component) -> dict[str, SecretRef]:
    """Environment variables filled from Secrets Manager for component ``c``."""
    env: dict[str, SecretRef] = {}
    if c.uses_database:
        env.update(DATABASE_SECRET_ENV)
    if c.uses_app_secrets:
        env.update(APP_SECRET_ENV)
    return env


def reads_database_secret(c: Component) -> bool:
    """Component ``c`` is given the database credentials (and so must restart after rotation)."""
    return any(ref.secret == "database" for ref in secret_environment(c).values())


def plain_environment(c: Component, *, environment: str, service_domain: str) -> dict[str, str]:
    """Non-secret settings for component ``c``.

    ``service_domain`` is the private DNS suffix under which discoverable components
    are reachable (Cloud Map namespace on Fargate, ``<ns>.svc.cluster.local`` on EKS,
    ``localhost`` rendering on EC2 passes ``""`` and gets 127.0.0.1).
    """
    if c.image == "redis":
        return {}

    def host(name: str) -> str:
        short = component(name).short_name
        return f"{short}.{service_domain}" if service_domain else "127.0.0.1"

    env = {
        "CORRIDOR_COMPONENT": c.short_name,
        "CORRIDOR_ENVIRONMENT": environment,
        "REDIS_URL": f"redis://{host('redis')}:{component('redis').port}/0",
        "CORRIDOR_API_URL": f"http://{host('corridor-api')}:{component('corridor-api').port}",
        "DB_SSLMODE": "require",
    }
    if c.port is not None:
        env["PORT"] = str(c.port)
    if c.mounts_shared_storage:
        env["CORRIDOR_DATA_DIR"] = SHARED_DATA_PATH
    return env
