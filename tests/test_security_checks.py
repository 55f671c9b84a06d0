"""cdk-nag and cfn-lint leave nothing unaddressed, on every stack of every compute method."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

from tests.synth import Synthesized


def test_cdk_nag_and_validations_report_no_finding(any_compute: Synthesized) -> None:
    # Synth itself fails on a cdk-nag error; warnings would still land in the report.
    report = any_compute.validation_report()
    findings = [
        (plugin["pluginName"], v["ruleName"], c["constructPath"])
        for plugin in report["pluginReports"]
        for v in plugin.get("violations", [])
        for c in v["violatingConstructs"]
    ]
    assert findings == []


def test_cdk_nag_is_really_enforced(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The same plugin wiring refuses an unencrypted, unlogged bucket: the check can fail."""
    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(account="111111111111", region="us-east-1"))
    s3.Bucket(stack, "Open")
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= rules


def test_every_acknowledgement_names_one_rule_and_a_reason(any_compute: Synthesized) -> None:
    acks: list[tuple[str, str, str]] = []
    for stack in any_compute.templates:  # every stack of the assembly, DR stacks included
        meta = json.loads((any_compute.outdir / f"{stack}.metadata.json").read_text())
        for path, entries in meta.items():
            for entry in entries:
                if entry.get("type") == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                    acks.extend((path, rule, reason) for rule, reason in entry["data"].items())
    assert acks, "expected the documented acknowledgements to be recorded"
    for path, rule, reason in acks:
        assert " " not in rule and "," not in rule, (path, rule)
        assert len(reason) >= 60, (path, rule, reason)


def test_cfn_lint_reports_no_error_or_warning(any_compute: Synthesized) -> None:
    templates = [str(any_compute.outdir / f"{stack}.template.json") for stack in any_compute.templates]
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", *templates],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.stdout.strip() == "" and proc.returncode == 0, proc.stdout + proc.stderr
