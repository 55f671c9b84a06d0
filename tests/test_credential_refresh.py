"""After the database password rotates, Fargate services restart through Step Functions; EKS deployments
through Reloader in-cluster; EC2 refreshes itself."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from corridor_cdk.components import COMPONENTS
from corridor_cdk.eks_versions import HELM_CHARTS
from tests.synth import STACKS, Synthesized, flatten
from tests.test_eks import _manifests

DB_SECRET = "DatabaseCredentials24F58BE6"  # pinned logical id (tests/test_stateful_resources.py)
DB_USERS = {c.name for c in COMPONENTS if c.uses_database}


def _one(s: Synthesized, stack: str, type_: str, prefix: str = "CredentialRefresh") -> tuple[str, dict[str, Any]]:
    found = {k: v for k, v in s.resources(stack, type_).items() if k.startswith(prefix)}
    assert len(found) == 1, (stack, type_, list(found))
    return next(iter(found.items()))


def _definition(s: Synthesized, stack: str) -> dict[str, Any]:
    """The state machine's ASL with every intrinsic replaced by a <Ref:Id> / <GetAtt:Id.Attr> marker."""
    parts = _one(s, stack, "AWS::StepFunctions::StateMachine")[1]["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(
        p
        if isinstance(p, str)
        else f"<Ref:{p['Ref']}>"
        if "Ref" in p
        else "<GetAtt:{}.{}>".format(*p["Fn::GetAtt"])
        for p in parts
    )
    return json.loads(text)  # type: ignore[no-any-return]


def _tasks(definition: dict[str, Any]) -> list[dict[str, Any]]:
    """Task states in execution order."""
    out, name = [], definition["StartAt"]
    while name:
        state = definition["States"][name]
        if state["Type"] == "Task":
            out.append(state)
        name = state.get("Next")
    return out


def _role_statements(s: Synthesized, stack: str, role_id: str) -> list[dict[str, Any]]:
    return [
        st
        for p in s.resources(stack, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for st in p["Properties"]["PolicyDocument"]["Statement"]
    ]


# --- the trigger -------------------------------------------------------------------------
@pytest.mark.parametrize("compute", ["fargate"])
def test_rule_matches_a_successful_rotation_of_the_database_secret_only(
    compute: str, request: pytest.FixtureRequest
) -> None:
    s: Synthesized = request.getfixturevalue(compute)
    for stack in STACKS:
        rule = _one(s, stack, "AWS::Events::Rule")[1]["Properties"]
        assert rule["EventPattern"] == {
            "source": ["aws.secretsmanager"],
            "detail-type": ["AWS Service Event via CloudTrail"],
            "detail": {
                "eventSource": ["secretsmanager.amazonaws.com"],
                "eventName": ["RotationSucceeded"],
                # Ref of an AWS::SecretsManager::Secret is its full ARN, which the event carries.
                "additionalEventData": {"SecretId": [{"Ref": DB_SECRET}]},
            },
        }
        sm_id = _one(s, stack, "AWS::StepFunctions::StateMachine")[0]
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Ref": sm_id}


# --- Fargate -----------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_fargate_forces_a_new_deployment_of_exactly_the_database_users(fargate: Synthesized, stack: str) -> None:
    services = {
        r["Properties"]["ServiceName"]: logical_id for logical_id, r in fargate.resources(stack, "AWS::ECS::Service").items()
    }
    tasks = _tasks(_definition(fargate, stack))
    restarted = set()
    for task in tasks:
        assert task["Resource"] == "arn:<Ref:AWS::Partition>:states:::aws-sdk:ecs:updateService"
        params = task["Parameters"]
        assert params["ForceNewDeployment"] is True
        assert re.fullmatch(r"<GetAtt:FargateCluster\w+\.Arn>", params["Cluster"])
        service_id = re.fullmatch(r"<GetAtt:(\w+)\.Name>", params["Service"]).group(1)  # type: ignore[union-attr]
        restarted.add(next(name for name, lid in services.items() if lid == service_id))
    assert len(tasks) == len(restarted)
    assert restarted == DB_USERS and "redis" not in restarted
    # The role may update exactly those services.
    role_id = _one(fargate, stack, "AWS::StepFunctions::StateMachine")[1]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    (update,) = [st for st in _role_statements(fargate, stack, role_id) if st["Action"] == "ecs:UpdateService"]
    assert sorted(r["Ref"] for r in update["Resource"]) == sorted(services[n] for n in DB_USERS)


# --- EKS: in-cluster, through the CSI driver's re-sync and Reloader ----------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_eks_has_no_restart_state_machine_rule_or_access_entry(eks: Synthesized, stack: str) -> None:
    """Step Functions' eks:call needs a public API endpoint; the cluster refreshes in-cluster instead."""
    assert eks.resources(stack, "AWS::StepFunctions::StateMachine") == {}
    assert not [k for k in eks.templates[stack]["Resources"] if k.startswith("CredentialRefresh")]
    # Only the configured cluster administrator(s) get access entries (no restart role).
    for entry in eks.resources(stack, "AWS::EKS::AccessEntry").values():
        assert "CredentialRefresh" not in json.dumps(entry)
    assert "eks:call" not in json.dumps(eks.templates[stack])


@pytest.mark.parametrize("stack", STACKS)
def test_eks_installs_the_pinned_reloader_scoped_to_the_corridor_namespace(eks: Synthesized, stack: str) -> None:
    pinned = HELM_CHARTS["reloader"]
    assert (pinned.repository, pinned.chart, pinned.version) == (
        "https://stakater.github.io/stakater-charts",
        "reloader",
        "2.2.12",
    )
    (chart_id,) = [
        k for k, r in eks.resources(stack, "Custom::AWSCDK-EKS-HelmChart").items() if r["Properties"]["Chart"] == "reloader"
    ]
    chart = eks.templates[stack]["Resources"][chart_id]
    props = chart["Properties"]
    assert (props["Repository"], props["Version"], props["Namespace"]) == (pinned.repository, pinned.version, "corridor")
    assert props["Timeout"] == "600s"
    values = json.loads(flatten(props["Values"]))["reloader"]
    # watchGlobally=false: a namespaced Role in corridor, not a ClusterRole over all Secrets.
    assert values["watchGlobally"] is False
    assert values["autoReloadAll"] is False
    assert values["reloadStrategy"] == "annotations"
    # Installed after the namespace (our manifest, not Helm's) and the node group exist.
    # create_namespace=False: CDK then omits the property and Helm runs without --create-namespace.
    assert "CreateNamespace" not in props
    namespace_id = next(lid for lid, obj in _manifests(eks, stack) if obj["kind"] == "Namespace")
    nodegroup_id = _one(eks, stack, "AWS::EKS::Nodegroup", prefix="Eks")[0]
    assert {namespace_id, nodegroup_id} <= set(chart["DependsOn"])


@pytest.mark.parametrize("stack", STACKS)
def test_eks_reloads_exactly_the_database_users_when_their_synced_secret_changes(eks: Synthesized, stack: str) -> None:
    synced = {
        spc["metadata"]["name"]: spc["spec"]["secretObjects"][0]["secretName"]
        for _, spc in _manifests(eks, stack)
        if spc["kind"] == "SecretProviderClass"
    }
    reloaded = {}
    for _, d in _manifests(eks, stack):
        if d["kind"] != "Deployment":
            continue
        annotations = d["metadata"].get("annotations", {})
        if "secret.reloader.stakater.com/reload" in annotations:
            reloaded[d["metadata"]["name"]] = annotations["secret.reloader.stakater.com/reload"]
            # The annotated Secret is the one the component's SecretProviderClass syncs to.
            volumes = d["spec"]["template"]["spec"]["volumes"]
            (spc,) = [v["csi"]["volumeAttributes"]["secretProviderClass"] for v in volumes if "csi" in v]
            assert reloaded[d["metadata"]["name"]] == synced[spc]
    assert set(reloaded) == DB_USERS and "redis" not in reloaded
    assert reloaded == {name: f"{name}-secrets" for name in DB_USERS}


# --- EC2 and the common settings ------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_ec2_has_no_restart_state_machine_or_rule(ec2: Synthesized, stack: str) -> None:
    """EC2 instances re-read their secrets every 10 minutes and restart on change."""
    assert ec2.resources(stack, "AWS::StepFunctions::StateMachine") == {}
    assert not [k for k in ec2.templates[stack]["Resources"] if k.startswith("CredentialRefresh")]


@pytest.mark.parametrize("compute", ["fargate"])
def test_state_machine_logs_everything_encrypted_is_traced_and_alarms_on_failure(
    compute: str, request: pytest.FixtureRequest
) -> None:
    s: Synthesized = request.getfixturevalue(compute)
    for stack in STACKS:
        props = _one(s, stack, "AWS::StepFunctions::StateMachine")[1]["Properties"]
        assert props["TracingConfiguration"] == {"Enabled": True}
        logging = props["LoggingConfiguration"]
        assert logging["Level"] == "ALL"
        (destination,) = logging["Destinations"]
        group_id = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
        group = s.templates[stack]["Resources"][group_id]["Properties"]
        assert group["KmsKeyId"] == {"Fn::GetAtt": ["KeysLogsKeyD24E82DB", "Arn"]}
        assert group["RetentionInDays"] == s.configs[stack].sizing.log_retention_days
        alarm = _one(s, stack, "AWS::CloudWatch::Alarm")[1]["Properties"]
        assert alarm["AlarmName"] == f"{s.configs[stack].resource_prefix}-credential-refresh-failed"
        (topic,) = s.resources(stack, "AWS::SNS::Topic")
        assert alarm["AlarmActions"] == alarm["OKActions"] == [{"Ref": topic}]
