"""Synthesize the real app (same cdk.json feature flags, same cdk-nag wiring) for tests."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import aws_cdk as cdk
from aws_cdk.assertions import Template

from corridor_cdk.app_factory import build_app, cdk_json_context
from corridor_cdk.config import DEFAULT_CONFIG_PATH, EnvironmentConfig

STACKS = ("CorridorDev", "CorridorStaging", "CorridorProd")
# Environments with dr_region (prod in config/environments.yaml) get a vault stack there.
DR_STACKS = ("CorridorProdDr",)
ALL_STACKS = STACKS + DR_STACKS


@dataclass
class Synthesized:
    """One synthesized app: its cloud assembly directory, configs, templates (every stack of
    the assembly, DR stacks included) and the stack objects (to read what a compute method
    exposes through its contract)."""

    outdir: Path
    configs: dict[str, EnvironmentConfig]
    templates: dict[str, dict[str, Any]]
    stacks: dict[str, Any] = field(default_factory=dict)
    _assertions: dict[str, Template] = field(default_factory=dict)

    def template(self, stack: str) -> Template:
        """An aws_cdk.assertions Template, built once per stack."""
        if stack not in self._assertions:
            self._assertions[stack] = Template.from_json(self.templates[stack])
        return self._assertions[stack]

    def resources(self, stack: str, type_: str) -> dict[str, dict[str, Any]]:
        """Logical id -> resource, for one resource type."""
        return {k: v for k, v in self.templates[stack]["Resources"].items() if v["Type"] == type_}

    def validation_report(self) -> dict[str, Any]:
        path = self.outdir / "validation-report.json"
        return json.loads(path.read_text()) if path.exists() else {"pluginReports": []}


def synthesize(context: Mapping[str, Any], outdir: Path, config_path: Path = DEFAULT_CONFIG_PATH) -> Synthesized:
    """Build and synthesize the app; raises if cdk-nag or any validation fails."""
    app, envs = build_app({**cdk_json_context(), **context}, outdir=str(outdir), config_path=config_path)
    app.synth()
    stacks = {child.stack_name: child for child in app.node.children if isinstance(child, cdk.Stack)}
    templates = {name: json.loads((outdir / f"{name}.template.json").read_text()) for name in stacks}
    return Synthesized(
        outdir=outdir, configs={c.stack_name: c for c in envs}, templates=templates, stacks=stacks
    )


_HASH = re.compile(r"\b[0-9a-f]{64}\b")


def masked(template: dict[str, Any]) -> dict[str, Any]:
    """The template with asset hashes masked, so a snapshot diff shows only real changes."""
    return json.loads(_HASH.sub("<asset-hash>", json.dumps(template)))


def one_resource(s: Synthesized, stack: str, type_: str) -> tuple[str, dict[str, Any]]:
    """The single resource of a type in a stack, as (logical id, resource)."""
    found = s.resources(stack, type_)
    assert len(found) == 1, (stack, type_, list(found))
    return next(iter(found.items()))


def flatten(value: Any) -> str:
    """A Fn::Join of strings and references, as one string with <Ref:Id> / <GetAtt:Id.Attr> markers."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(flatten(p) for p in parts)
    if "Ref" in value:
        return f"<Ref:{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return "<GetAtt:{}.{}>".format(*value["Fn::GetAtt"])
    raise AssertionError(f"unexpected intrinsic {value}")


def build_single_environment(compute: str, env: str, workdir: Path, **settings: Any) -> Any:
    """An app holding only environment ``env`` (its settings updated), built but not
    synthesized; call ``app.synth()`` to run cdk-nag and write ``workdir/out``."""
    import yaml

    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text())
    raw["environments"] = {env: {**raw["environments"][env], **settings}}
    config = workdir / "environments.yaml"
    config.write_text(yaml.safe_dump(raw))
    app, _ = build_app({**cdk_json_context(), "compute": compute}, outdir=str(workdir / "out"), config_path=config)
    return app


def synthesize_single_environment(compute: str, env: str, workdir: Path, **settings: Any) -> dict[str, Any]:
    """Synthesize one environment (cdk-nag included) and return its template."""
    build_single_environment(compute, env, workdir, **settings).synth()
    return json.loads((workdir / "out" / f"Corridor{env.capitalize()}.template.json").read_text())


def build_prod_stack(compute: str, workdir: Path) -> Any:
    """CorridorProd alone, built (not synthesized): for tests that read the constructs'
    Python attributes (the Compute contract) rather than the template."""
    return build_single_environment(compute, "prod", workdir).node.find_child("CorridorProd")
