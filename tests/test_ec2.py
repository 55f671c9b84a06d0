"""The EC2 deployment method, checked on the synthesized templates (compute=ec2)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from constructs_lib.ec2_compute import AMI_PARAMETER, BACKUP_TAG_KEY
from corridor_cdk import vm_bootstrap as vm
from corridor_cdk.components import COMPONENTS
from corridor_cdk.runtime import EC2_HTTP_PORT
from tests.synth import STACKS, Synthesized, build_prod_stack, flatten, one_resource, synthesize_single_environment

# The guide's "Resource Sizing" EC2 table (type, min, max) and EBS table (GiB, IOPS, MiB/s), by tier.
GUIDE_INSTANCES = {
    "dev": ("t3.xlarge", 1, 1),
    "small": ("t3.2xlarge", 1, 2),  # "1 instance (can add more for high availability)"
    "medium": ("m5.2xlarge", 1, 2),  # "1-2 instances"
    "large": ("m5.4xlarge", 2, 4),  # "2+ instances (load balanced)"
}
GUIDE_DATA_VOLUMES = {
    "dev": (100, 3000, 125),
    "small": (200, 3000, 125),
    "medium": (500, 6000, 250),
    "large": (1000, 10000, 500),
}
BUNDLE = [c for c in COMPONENTS if c.vm_process is not None]


# --- helpers -----------------------------------------------------------------------------


def _template_data(s: Synthesized, stack: str) -> dict[str, Any]:
    return one_resource(s, stack, "AWS::EC2::LaunchTemplate")[1]["Properties"]["LaunchTemplateData"]


def _group(s: Synthesized, stack: str) -> tuple[str, dict[str, Any]]:
    return one_resource(s, stack, "AWS::AutoScaling::AutoScalingGroup")


def _instance_statements(s: Synthesized, stack: str) -> list[dict[str, Any]]:
    (role_id,) = [
        k
        for k, r in s.resources(stack, "AWS::IAM::Role").items()
        if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service") == "ec2.amazonaws.com"
    ]
    statements = []
    for policy in s.resources(stack, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _listify(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _single_environment(tmp_path: Path, env: str, **settings: Any) -> dict[str, Any]:
    """Synthesizes one environment with compute=ec2 (cdk-nag included) and returns its template."""
    return synthesize_single_environment("ec2", env, tmp_path, **settings)


_TIERS: dict[str, Synthesized] = {}


@pytest.fixture(scope="module", params=list(GUIDE_INSTANCES))
def tier_prod(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Synthesized]:
    """CorridorProd alone, synthesized once per tier."""
    tier = request.param
    if tier not in _TIERS:
        out = tmp_path_factory.mktemp(f"ec2-{tier}")
        template = _single_environment(out, "prod", tier=tier)
        _TIERS[tier] = Synthesized(outdir=out, configs={}, templates={"CorridorProd": template})
    return tier, _TIERS[tier]


# --- size, placement, image ---------------------------------------------------------------
def test_group_size_and_instance_type_follow_the_guides_table(tier_prod: tuple[str, Synthesized]) -> None:
    tier, s = tier_prod
    instance_type, min_size, max_size = GUIDE_INSTANCES[tier]
    _, group = _group(s, "CorridorProd")
    assert (group["Properties"]["MinSize"], group["Properties"]["MaxSize"]) == (str(min_size), str(max_size))
    assert "DesiredCapacity" not in group["Properties"]  # a deploy never resets a scaled group
    # Rolling updates keep min - 1 serving: a group of one drains before its replacement boots.
    assert group["UpdatePolicy"]["AutoScalingRollingUpdate"]["MinInstancesInService"] == min_size - 1
    assert _template_data(s, "CorridorProd")["InstanceType"] == instance_type
    # Several instances scale on CPU; a fixed group has no policy.
    policies = s.resources("CorridorProd", "AWS::AutoScaling::ScalingPolicy")
    assert bool(policies) == (max_size > min_size)


def test_root_and_data_volumes_are_kms_encrypted_gp3_sized_by_the_ebs_table(tier_prod: tuple[str, Synthesized]) -> None:
    tier, s = tier_prod
    mappings = {m["DeviceName"]: m["Ebs"] for m in _template_data(s, "CorridorProd")["BlockDeviceMappings"]}
    assert set(mappings) == {"/dev/xvda", vm.DATA_DEVICE}
    size, iops, throughput = GUIDE_DATA_VOLUMES[tier]
    data, root = mappings[vm.DATA_DEVICE], mappings["/dev/xvda"]
    assert (data["VolumeSize"], data["Iops"], data["Throughput"]) == (size, iops, throughput)
    assert root["VolumeSize"] == 50
    for ebs in (root, data):
        assert ebs["VolumeType"] == "gp3" and ebs["Encrypted"] is True
        assert ebs["KmsKeyId"] == {"Fn::GetAtt": ["KeysDataKey8F3FE3A4", "Arn"]}


@pytest.mark.parametrize("stack", STACKS)
def test_instances_run_in_the_private_subnets(ec2: Synthesized, stack: str) -> None:
    _, group = _group(ec2, stack)
    private = {
        k
        for k, r in ec2.resources(stack, "AWS::EC2::Subnet").items()
        if {"Key": "aws-cdk:subnet-type", "Value": "Private"} in r["Properties"]["Tags"]
    }
    zones = [z["Ref"] for z in group["Properties"]["VPCZoneIdentifier"]]
    assert set(zones) <= private
    # single-az pins compute to the first zone; multi-az spreads over every zone.
    cfg = ec2.configs[stack]
    assert len(zones) == (len(cfg.availability_zones) if cfg.multi_az else 1)
    assert _template_data(ec2, stack)["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is False


@pytest.mark.parametrize("stack", STACKS)
def test_launch_template_requires_imdsv2_and_monitors_in_detail(ec2: Synthesized, stack: str) -> None:
    data = _template_data(ec2, stack)
    assert data["MetadataOptions"] == {"HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1, "HttpTokens": "required"}
    assert data["Monitoring"] == {"Enabled": True}


@pytest.mark.parametrize("stack", STACKS)
def test_image_is_the_current_amazon_linux_from_the_public_ssm_parameter(ec2: Synthesized, stack: str) -> None:
    template = ec2.templates[stack]
    image = _template_data(ec2, stack)["ImageId"]
    parameter = template["Parameters"][image["Ref"]]
    assert parameter == {"Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": AMI_PARAMETER}
    assert AMI_PARAMETER.startswith("/aws/service/ami-amazon-linux-latest/al2023-")
    assert not re.search(r'"ami-[0-9a-f]{8,17}"', json.dumps(template))  # no AMI id baked in


def test_synth_needs_no_lookup(ec2: Synthesized) -> None:
    """No context lookup (an AMI or VPC lookup would need AWS credentials at synth)."""
    manifest = json.loads((ec2.outdir / "manifest.json").read_text())
    assert "missing" not in manifest


# --- no SSH --------------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_no_key_pair_and_no_ssh_port_anywhere(ec2: Synthesized, stack: str) -> None:
    assert "KeyName" not in _template_data(ec2, stack)
    assert not ec2.resources(stack, "AWS::EC2::KeyPair")
    rules = list(ec2.resources(stack, "AWS::EC2::SecurityGroupIngress").values())
    inline = [
        {"Properties": rule}
        for sg in ec2.resources(stack, "AWS::EC2::SecurityGroup").values()
        for rule in sg["Properties"].get("SecurityGroupIngress", [])
    ]
    for rule in rules + inline:
        p = rule["Properties"]
        assert not (p.get("FromPort", 0) <= 22 <= p.get("ToPort", 65535)), p


def test_instances_are_reached_only_by_the_load_balancer_on_nginx_port(ec2: Synthesized) -> None:
    stack = "CorridorProd"
    into_app = [
        r["Properties"]
        for r in ec2.resources(stack, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": ["NetworkAppSecurityGroupE3807721", "GroupId"]}
    ]
    assert [(p["FromPort"], p["ToPort"]) for p in into_app] == [(EC2_HTTP_PORT, EC2_HTTP_PORT)]
    assert into_app[0]["SourceSecurityGroupId"]["Fn::GetAtt"][0].startswith("NetworkAlbSecurityGroup")
    # No component port is opened between instances: each instance talks to itself over loopback.
    ports = {c.port for c in COMPONENTS if c.port is not None}
    for sg in ec2.resources(stack, "AWS::EC2::SecurityGroup").values():
        for rule in sg["Properties"].get("SecurityGroupIngress", []):
            assert rule.get("FromPort") not in ports, rule


# --- instance role ---------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_instance_role_is_scoped_to_what_an_instance_needs(ec2: Synthesized, stack: str) -> None:
    role = [
        r for r in ec2.resources(stack, "AWS::IAM::Role").values()
        if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service") == "ec2.amazonaws.com"
    ][0]
    assert "ManagedPolicyArns" not in role["Properties"]  # no AmazonSSMManagedInstanceCore, nothing managed
    statements = _instance_statements(ec2, stack)
    by_action: dict[str, list[str]] = {}
    for st in statements:
        assert st["Effect"] == "Allow"
        for action in _listify(st["Action"]):
            by_action.setdefault(action, []).extend(flatten(r) for r in _listify(st["Resource"]))
    # Read exactly the four runtime secrets.
    secrets = {"AppSecretsAppSecretKeyCB75FF60", "AppSecretsLicenseKey0BA84F20", "AppSecretsLlmApiKeysC754B200",
               "DatabaseCredentials24F58BE6"}
    assert set(by_action["secretsmanager:GetSecretValue"]) == {f"<Ref:{s}>" for s in secrets}
    # The bundle object, and nothing else of its bucket.
    bundle = ec2.configs[stack].bundle_s3_uri.removeprefix("s3://")
    assert f"arn:<Ref:AWS::Partition>:s3:::{bundle}" in by_action["s3:GetObject"]
    env = ec2.configs[stack].name
    assert set(by_action["s3:PutObject"]) == {f"<GetAtt:BucketsBackups18324FCD.Arn>/ec2/{env}/*"}
    assert not [a for a in by_action if a.startswith("s3:Delete")]
    # '*' only for actions AWS cannot scope to a resource.
    unscoped = {a for a, resources in by_action.items() if "*" in resources}
    assert unscoped == {
        "cloudwatch:PutMetricData", "ec2:DescribeTags", "ssm:UpdateInstanceInformation",
        "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel",
    }
    for st in statements:
        if "cloudwatch:PutMetricData" in _listify(st["Action"]):
            assert st["Condition"] == {"StringEquals": {"cloudwatch:namespace": "CWAgent"}}
    # Logs: only the EC2 method's own log groups.
    logs = set(by_action["logs:PutLogEvents"])
    assert logs == {f"<GetAtt:{k}.Arn>" for k in ec2.resources(stack, "AWS::Logs::LogGroup") if k.startswith("Ec2")}


@pytest.mark.parametrize("stack", STACKS)
def test_log_groups_per_component_are_encrypted_and_expire(ec2: Synthesized, stack: str) -> None:
    groups = {
        r["Properties"]["LogGroupName"]: r["Properties"]
        for k, r in ec2.resources(stack, "AWS::Logs::LogGroup").items()
        if k.startswith("Ec2")
    }
    env = ec2.configs[stack].name
    assert set(groups) == {f"/ec2/corridor/{env}/{label}" for label in [c.name for c in BUNDLE] + ["nginx", "bootstrap"]}
    for props in groups.values():
        assert props["KmsKeyId"] == {"Fn::GetAtt": ["KeysLogsKeyD24E82DB", "Arn"]}
        assert props["RetentionInDays"] == ec2.configs[stack].sizing.log_retention_days


# --- boot, signals, updates -------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_deploy_waits_for_every_instance_to_signal_a_healthy_boot(ec2: Synthesized, stack: str) -> None:
    group_id, group = _group(ec2, stack)
    props = group["Properties"]
    assert group["CreationPolicy"]["ResourceSignal"] == {"Count": int(props["MinSize"]), "Timeout": "PT30M"}
    rolling = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert rolling["WaitOnResourceSignals"] is True and rolling["MaxBatchSize"] == 1
    assert rolling["MinInstancesInService"] == int(props["MinSize"]) - 1 < int(props["MaxSize"])
    user_data = _template_data(ec2, stack)["UserData"]["Fn::Base64"]
    assert isinstance(user_data, str)  # nothing resolved at deploy time in the loader
    assert f"RESOURCE={group_id}" in user_data and "trap on_exit EXIT" in user_data


def test_cfn_init_metadata_carries_the_rendered_files_and_the_role_may_read_it(ec2: Synthesized) -> None:
    stack = "CorridorProd"
    _, group = _group(ec2, stack)
    init = group["Metadata"]["AWS::CloudFormation::Init"]
    assert init["configSets"] == {"corridor": ["files"]}
    files = init["files"]["files"]
    for c in BUNDLE:
        assert f"/etc/systemd/system/{c.name}.service" in files
    assert files[vm.BOOTSTRAP_PATH]["mode"] == "000700"
    assert files["/usr/local/sbin/corridor-config"]["mode"] == "000700"
    spec = json.loads(flatten(files["/etc/corridor/environment.json"]["content"]))
    assert spec["secrets"]["database"] == "<Ref:DatabaseCredentials24F58BE6>"
    statements = _instance_statements(ec2, stack)
    assert any(
        "cloudformation:DescribeStackResource" in _listify(st["Action"]) and st["Resource"] == {"Ref": "AWS::StackId"}
        for st in statements
    )


def test_no_secret_value_reaches_the_template(ec2: Synthesized) -> None:
    for stack in STACKS:
        for type_ in ("AWS::EC2::LaunchTemplate", "AWS::AutoScaling::AutoScalingGroup"):
            text = json.dumps(ec2.resources(stack, type_))
            assert "{{resolve:" not in text  # no dynamic reference: CloudFormation never sees a value
        # Secrets appear only as ARNs (Ref of the secret), which corridor-config reads at boot.
        metadata = json.dumps(_group(ec2, stack)[1]["Metadata"])
        for secret_id in ("DatabaseCredentials24F58BE6", "AppSecretsLicenseKey0BA84F20"):
            assert f'{{"Ref": "{secret_id}"}}' in metadata


def test_a_new_bundle_version_rolls_the_instances(tmp_path: Path) -> None:
    """Changing bundle_s3_uri/image_tag changes the user data: a new launch template
    version, which the rolling update replaces instance by instance with signals."""

    def loader(**settings: Any) -> str:
        out = tmp_path / str(len(list(tmp_path.iterdir())))
        out.mkdir()
        template = _single_environment(out, "dev", **settings)
        (lt,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::EC2::LaunchTemplate"]
        return lt["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]

    current = loader()
    new = loader(bundle_s3_uri="s3://corridor-artifacts-111111111111/corridor-bundle-1.1.0.zip", image_tag="1.1.0")
    assert current != new
    fingerprint = re.compile(r"Files fingerprint: ([0-9a-f]{16})")
    assert fingerprint.search(current).group(1) != fingerprint.search(new).group(1)  # type: ignore[union-attr]


# --- load balancer ---------------------------------------------------------------------------
@pytest.mark.parametrize("stack", STACKS)
def test_group_registers_with_the_stacks_target_group_and_uses_its_health(ec2: Synthesized, stack: str) -> None:
    _, group = _group(ec2, stack)
    props = group["Properties"]
    assert props["TargetGroupARNs"] == [{"Ref": "LoadBalancerAppTargetsBA630F2E"}]
    assert props["HealthCheckType"] == "ELB" and props["HealthCheckGracePeriod"] == 1200
    tg = ec2.templates[stack]["Resources"]["LoadBalancerAppTargetsBA630F2E"]["Properties"]
    assert (tg["Port"], tg["TargetType"], tg["HealthCheckPath"]) == (EC2_HTTP_PORT, "instance", "/health")
    sticky = {a["Key"]: a["Value"] for a in tg.get("TargetGroupAttributes", [])}.get("stickiness.enabled")
    assert (sticky == "true") == (int(props["MaxSize"]) > 1)  # every instance has its own Redis


# --- data: volumes backed up, key usable by Auto Scaling, drain on termination -------------
@pytest.mark.parametrize("stack", STACKS)
def test_volumes_not_instances_carry_the_backup_tag(ec2: Synthesized, stack: str) -> None:
    specs = {s["ResourceType"]: s["Tags"] for s in _template_data(ec2, stack)["TagSpecifications"]}
    env = ec2.configs[stack].name
    assert {"Key": BACKUP_TAG_KEY, "Value": f"{env}-ec2-volumes"} in specs["volume"]
    assert BACKUP_TAG_KEY not in {t["Key"] for t in specs["instance"]}  # no AMI backups of the instance
    assert {"Key": "Environment", "Value": env} in specs["volume"]  # the stack's tags still apply


def test_auto_scaling_may_use_the_data_key_for_its_volumes(ec2: Synthesized) -> None:
    stack = "CorridorProd"
    (slr_id, slr) = one_resource(ec2, stack, "AWS::IAM::ServiceLinkedRole")
    assert slr["Properties"]["AWSServiceName"] == "autoscaling.amazonaws.com"
    # IAM names are account-wide: the region in the suffix lets prod be redeployed in its DR region.
    assert slr["Properties"]["CustomSuffix"] == "corridor-prod-us-east-1"
    _, group = _group(ec2, stack)
    role_arn = flatten(group["Properties"]["ServiceLinkedRoleARN"])
    assert role_arn.endswith(f"autoscaling.amazonaws.com/<Ref:{slr_id}>")
    key = ec2.templates[stack]["Resources"]["KeysDataKey8F3FE3A4"]["Properties"]["KeyPolicy"]["Statement"]
    granted = {
        action
        for st in key
        if flatten(st["Principal"].get("AWS", "")) == role_arn
        for action in _listify(st["Action"])
    }
    assert {"kms:Decrypt", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"} <= granted


@pytest.mark.parametrize("stack", STACKS)
def test_scaling_events_notify_the_alerts_topic_which_auto_scaling_may_encrypt_for(ec2: Synthesized, stack: str) -> None:
    _, group = _group(ec2, stack)
    (notification,) = group["Properties"]["NotificationConfigurations"]
    topic_id = notification["TopicARN"]["Ref"]
    assert ec2.templates[stack]["Resources"][topic_id]["Type"] == "AWS::SNS::Topic"
    assert {"autoscaling:EC2_INSTANCE_LAUNCH_ERROR", "autoscaling:EC2_INSTANCE_TERMINATE_ERROR"} <= set(
        notification["NotificationTypes"]
    )
    key_id = ec2.templates[stack]["Resources"][topic_id]["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    statements = ec2.templates[stack]["Resources"][key_id]["Properties"]["KeyPolicy"]["Statement"]
    role_arn = flatten(group["Properties"]["ServiceLinkedRoleARN"])
    assert any(
        flatten(st["Principal"].get("AWS", "")) == role_arn and "kms:GenerateDataKey*" in _listify(st["Action"])
        for st in statements
    )


@pytest.mark.parametrize("stack", STACKS)
def test_terminating_instances_are_held_for_the_drain(ec2: Synthesized, stack: str) -> None:
    (_, hook) = one_resource(ec2, stack, "AWS::AutoScaling::LifecycleHook")
    p = hook["Properties"]
    assert p["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_TERMINATING"
    assert p["LifecycleHookName"] == vm.DRAIN_HOOK_NAME and p["DefaultResult"] == "CONTINUE"
    assert p["HeartbeatTimeout"] == 600


# --- what the stack reads back (Compute contract) -----------------------------------------
def test_compute_contract_for_alarms_backups_and_operators(ec2: Synthesized, tmp_path: Path) -> None:
    stack = build_prod_stack("ec2", tmp_path)
    compute = stack.compute  # type: ignore[attr-defined]
    obs = compute.observability
    assert obs.method == "ec2"
    ((metrics),) = obs.utilisation
    assert metrics.label == "instances"
    for metric, namespace, name in (
        (metrics.cpu_percent, "AWS/EC2", "CPUUtilization"),
        (metrics.memory_percent, "CWAgent", "mem_used_percent"),
    ):
        stat = metric.to_metric_config().metric_stat
        assert (stat.namespace, stat.metric_name) == (namespace, name)
        assert {d["name"]: d["value"] for d in stack.resolve(stat.dimensions)} == {"AutoScalingGroupName": "corridor-prod"}
    ((label, missing),) = obs.unhealthy
    assert label == "instances" and "desired - inservice" in stack.resolve(missing.to_metric_config().math_expression.expression)
    assert obs.access_command.startswith("aws ssm start-session --region us-east-1 --target ")
    assert "--auto-scaling-group-names corridor-prod" in obs.access_command
    assert set(compute.log_groups) == {c.name for c in BUNDLE} | {"nginx", "bootstrap"}
    (selection,) = compute.backup_resources
    assert (selection.tag_condition.key, selection.tag_condition.value) == (BACKUP_TAG_KEY, "prod-ec2-volumes")
    # Group metrics feed the missing-instances expression (read from the session's synth).
    (group,) = ec2.resources("CorridorProd", "AWS::AutoScaling::AutoScalingGroup").values()
    assert group["Properties"]["MetricsCollection"] == [{"Granularity": "1Minute"}]
