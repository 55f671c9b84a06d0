"""Builds the CDK app: configuration -> one stack per environment, cdk-nag on every synth."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Mapping

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from corridor_cdk.config import DEFAULT_CONFIG_PATH, ConfigError, EnvironmentConfig, load_environments, overrides_from_context

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cdk_json_context() -> dict[str, Any]:
    """The context (feature flags) of cdk.json, so test apps synthesize like `cdk synth`."""
    return json.loads((PROJECT_ROOT / "cdk.json").read_text()).get("context", {})


def build_app(
    context: Mapping[str, Any] | None = None,
    *,
    outdir: str | None = None,
    config_path: Path | str = DEFAULT_CONFIG_PATH,
) -> tuple[cdk.App, list[EnvironmentConfig]]:
    """An app with every configured environment's stack (plus ``<stack>Dr`` in the DR region
    for environments with ``dr_region``) and cdk-nag enabled.

    ``context`` is passed by tests; under the CDK CLI it is None and the App reads
    cdk.json and ``-c`` values itself. Raises ConfigError for bad configuration.
    """
    # Imported here so that `corridor_cdk.config` stays importable without loading stacks.
    from stacks.corridor_stack import CorridorStack
    from stacks.disaster_recovery_stack import DisasterRecoveryStack

    app = cdk.App(context=dict(context) if context is not None else None, outdir=outdir)
    overrides = overrides_from_context(app.node.get_all_context())
    environments = load_environments(overrides, path=config_path)
    for cfg in environments:
        stack = CorridorStack(app, cfg)
        if cfg.dr_region:
            # Deployed before the environment (its backup plan copies into this vault).
            stack.add_stack_dependency(DisasterRecoveryStack(app, cfg))
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, environments


def main() -> int:
    """Entry point of app.py: one clear line on stderr for configuration errors."""
    try:
        app, _ = build_app()
    except ConfigError as err:
        print(str(err), file=sys.stderr)
        return 2
    app.synth()
    return 0
