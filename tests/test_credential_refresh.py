"""After the database password rotates, Fargate services and EKS deployments restart (EC2 refreshes itself)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from constructs_lib.eks_compute import RESTART_DELAY_SECONDS, SECRET_ROTATION_POLL_SECONDS
from corridor_cdk.components import COMPONENTS
from tests.synth import STACKS, Synthesized

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
@pytest.mark.parametrize("compute", ["fargate", "eks"])
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


# --- EKS ---------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_eks_waits_for_the_secret_sync_then_restarts_exactly_the_database_users(eks: Synthesized, stack: str) -> None:
    definition = _definition(eks, stack)
    first = definition["States"][definition["StartAt"]]
    assert first["Type"] == "Wait" and first["Seconds"] == RESTART_DELAY_SECONDS
    assert RESTART_DELAY_SECONDS > SECRET_ROTATION_POLL_SECONDS
    cluster_id = _one(eks, stack, "AWS::EKS::Cluster", prefix="Eks")[0]
    restarted = set()
    for task in _tasks(definition):
        assert task["Resource"] == "arn:<Ref:AWS::Partition>:states:::eks:call"
        params = task["Parameters"]
        assert params["ClusterName"] == f"<Ref:{cluster_id}>"
        assert params["Endpoint"] == f"<GetAtt:{cluster_id}.Endpoint>"
        assert params["Method"] == "PATCH"
        name = re.fullmatch(r"/apis/apps/v1/namespaces/corridor/deployments/([\w-]+)", params["Path"]).group(1)  # type: ignore[union-attr]
        assert params["RequestBody"] == {
            "spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt.$": "$$.Execution.StartTime"}}}}
        }
        restarted.add(name)
    assert restarted == DB_USERS and len(_tasks(definition)) == len(DB_USERS)


@pytest.mark.parametrize("stack", STACKS)
def test_eks_restart_role_may_edit_the_corridor_namespace_only(eks: Synthesized, stack: str) -> None:
    role_id = _one(eks, stack, "AWS::StepFunctions::StateMachine")[1]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    cluster_id = _one(eks, stack, "AWS::EKS::Cluster", prefix="Eks")[0]
    (entry,) = [
        e["Properties"]
        for e in eks.resources(stack, "AWS::EKS::AccessEntry").values()
        if e["Properties"]["PrincipalArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    ]
    (policy,) = entry["AccessPolicies"]
    assert policy["AccessScope"] == {"Type": "namespace", "Namespaces": ["corridor"]}
    assert policy["PolicyArn"]["Fn::Join"][1][-1].endswith(":eks::aws:cluster-access-policy/AmazonEKSEditPolicy")
    statements = _role_statements(eks, stack, role_id)
    (describe,) = [st for st in statements if "eks:DescribeCluster" in st["Action"]]
    assert describe["Resource"] == {"Fn::GetAtt": [cluster_id, "Arn"]}
    assert not [st for st in statements if st["Resource"] == "*" and any(a.startswith("eks:") for a in st["Action"])]


# --- EC2 and the common settings ------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_ec2_has_no_restart_state_machine_or_rule(ec2: Synthesized, stack: str) -> None:
    """EC2 instances re-read their secrets every 10 minutes and restart on change."""
    assert ec2.resources(stack, "AWS::StepFunctions::StateMachine") == {}
    assert not [k for k in ec2.templates[stack]["Resources"] if k.startswith("CredentialRefresh")]


@pytest.mark.parametrize("compute", ["fargate", "eks"])
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
