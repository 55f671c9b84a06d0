"""What runs on an EC2 instance, rendered from the component model.

Pure Python, no CDK, so tests can render it and run ``bash -n``/shellcheck on it.
The construct (constructs_lib/ec2_compute.py) passes CloudFormation tokens as values.

- ``render_user_data``: the cloud-init user data. It stays small (EC2 allows 16 KB):
  it installs cfn-init, lets cfn-init write every rendered file from the group's
  ``AWS::CloudFormation::Init`` metadata, runs the bootstrap and signals the group with
  the exit status from an EXIT trap, so a failed boot fails the deployment.
- ``render_files``: systemd units (one per component, the migration, secret refresh,
  data mirror, drain), the secret-to-environment helper, nginx, logrotate and CloudWatch
  agent configuration, and ``render_bootstrap``, which on Amazon Linux 2023 (guide step 6.4):

  1. installs Python 3.11, Java (Corretto 17), Redis, nginx and the CloudWatch agent, and
     starts the agent (component logs, memory and disk metrics);
  2. formats (first use only) and mounts the EBS data volume at ``SHARED_DATA_PATH``; a
     fresh volume is filled from the S3 mirror earlier instances wrote;
  3. fetches the Corridor bundle from S3 and runs ``corridor-bundle/install <target>
     -i /opt/corridor`` for every component;
  4. writes each component's environment from Secrets Manager into ``/run/corridor``
     (tmpfs, root-only): secrets are fetched at boot, never placed in user data;
  5. runs the database migration, then starts Redis, every component and nginx
     (port 80 -> the load-balanced component);
  6. succeeds only when the health check answers through nginx and every unit runs.

No secret value is ever an input: only secret ARNs and JSON field names.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Mapping, Sequence

from corridor_cdk.components import Component, load_balanced_component
from corridor_cdk.runtime import (
    DATABASE_SECRET_ENV,
    EC2_HTTP_PORT,
    SHARED_DATA_PATH,
    SecretName,
    plain_environment,
    secret_environment,
)

INSTALL_DIR = "/opt/corridor"
CONFIG_DIR = f"{INSTALL_DIR}/instances/default/config"
RUN_DIR = "/run/corridor"  # tmpfs: rendered secrets never reach a disk or a snapshot
ETC_DIR = "/etc/corridor"
LOG_DIR = "/var/log/corridor"
SERVICE_USER = "corridor"
DATA_DEVICE = "/dev/sdf"  # AL2023's udev rules link the NVMe device to the name the launch template gives
BOOT_LOG = "/var/log/cloud-init-output.log"
PYTHON_SHIM_DIR = "/usr/local/lib/corridor-python/bin"  # puts python3.11 first for the bundle installer
CONFIG_REFRESH_MINUTES = 10  # picks up rotated database credentials
DATA_MIRROR_MINUTES = 15
DRAIN_HOOK_NAME = "corridor-drain"  # the group's termination lifecycle hook
DATABASE_URL_VARIABLE = "SQLALCHEMY_DATABASE_URI"  # the guide's api_config.py setting
MANAGED_MARKER = "corridor-cdk: settings from the environment"

# Amazon Linux 2023 packages: the guide's python3.11/Java 8+/redis/nginx plus what the
# boot needs (CloudWatch agent, cfn-signal, unzip, logrotate).
PACKAGES = (
    "python3.11",
    "python3.11-devel",
    "python3.11-pip",
    "java-17-amazon-corretto-headless",
    "redis6",
    "nginx",
    "amazon-cloudwatch-agent",
    "unzip",
    "logrotate",
)


@dataclass(frozen=True)
class OsService:
    """A component the OS packages provide on EC2 (instead of the Corridor bundle)."""

    unit: str
    config: str


# Keyed by Component.image: the container image becomes an OS package on a VM.
OS_SERVICES: dict[str, OsService] = {"redis": OsService(unit="redis6", config="/etc/redis6/redis6.conf")}

# Settings of the bundle's Python config files that are read from the environment, so
# the files hold no secret (the guide backs the config directory up to S3).
CONFIG_FROM_ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "api_config.py": (DATABASE_URL_VARIABLE,),  # guide step 6.4
    "app_config.py": ("LICENSE_KEY",),  # guide: license renewal edits app_config.py
}
REQUIRED_CONFIG_FILES = ("api_config.py",)


@dataclass(frozen=True)
class BootstrapSettings:
    """Values the script needs; in the stack they are CloudFormation tokens.

    Attributes:
        environment: dev, staging or prod.
        version: the Corridor version (image_tag): changing it replaces the instances.
        bundle_s3_uri: s3://bucket/key of the bundle zip.
        region, stack_name: where to send cfn-signal.
        signal_resource: logical ID of the Auto Scaling group that waits for signals.
        group_name: the Auto Scaling group's name (its drain hook is completed by name).
        secret_arns: ARN of each secret the components read.
        log_groups: CloudWatch log group name by label (component names, ``nginx``, ``bootstrap``).
        data_mirror_uri: s3://bucket/prefix/ the data volume is mirrored to.
        components: the component model.
    """

    environment: str
    version: str
    bundle_s3_uri: str
    region: str
    stack_name: str
    signal_resource: str
    group_name: str
    secret_arns: Mapping[SecretName, str]
    log_groups: Mapping[str, str]
    data_mirror_uri: str
    components: Sequence[Component]


# --- pieces -------------------------------------------------------------------------------
def bundle_components(components: Sequence[Component]) -> list[Component]:
    """Components installed from the Corridor bundle (each runs as a systemd unit)."""
    found = [c for c in components if c.vm_process is not None]
    for c in components:
        if c.vm_process is None and c.image not in OS_SERVICES:
            raise ValueError(f"{c.name}: no VM process and no OS package: EC2 cannot run it")
        if c.vm_process is not None and not c.bundle_target:
            raise ValueError(f"{c.name}: a VM process needs a bundle_target to install it")
    return found


def os_services(components: Sequence[Component]) -> list[OsService]:
    return [OS_SERVICES[c.image] for c in components if c.vm_process is None]


def migration_component(components: Sequence[Component]) -> Component | None:
    """The one component whose venv migrates the database (corridor-api)."""
    migrating = [c for c in components if c.vm_process and c.vm_process.migration]
    if len(migrating) > 1:
        raise ValueError("more than one component declares a database migration")
    return migrating[0] if migrating else None


def env_file(c: Component) -> str:
    return f"{RUN_DIR}/{c.name}.env"


def log_file(c: Component) -> str:
    return f"{LOG_DIR}/{c.name}.log"


def _bin(venv: str, args: Sequence[str]) -> str:
    return " ".join([f"{INSTALL_DIR}/venv-{venv}/bin/{args[0]}", *(shlex.quote(a) for a in args[1:])])


def _unit_head(description: str, after: Sequence[str], wants: Sequence[str], requires: Sequence[str]) -> list[str]:
    lines = ["[Unit]", f"Description={description}", f"After={' '.join(after)}"]
    if wants:
        lines.append(f"Wants={' '.join(wants)}")
    if requires:
        lines.append(f"Requires={' '.join(requires)}")
    return lines


def systemd_unit(c: Component, components: Sequence[Component]) -> str:
    """The unit of one bundle component: its own environment file, restart on failure."""
    assert c.vm_process is not None
    deps = [s.unit + ".service" for s in os_services(components)]
    migrating = migration_component(components)
    after = ["network-online.target", "corridor-config.service", *deps]
    if c.uses_database and migrating is not None:
        after.append("corridor-migrate.service")
    lines = _unit_head(
        f"Corridor {c.name}", after, ["network-online.target", *deps], ["corridor-config.service"]
    )
    if c.mounts_shared_storage:
        lines.append(f"RequiresMountsFor={SHARED_DATA_PATH}")
    lines += [
        "",
        "[Service]",
        "Type=simple",
        f"User={SERVICE_USER}",
        f"Group={SERVICE_USER}",
        f"WorkingDirectory={INSTALL_DIR}",
        f"Environment=CORRIDOR_CONFIG_DIR={CONFIG_DIR}",
        "Environment=WSGI_SERVER=gunicorn",
        f"EnvironmentFile={env_file(c)}",
        f"ExecStart={_bin(c.vm_process.venv, c.vm_process.command)}",
        "Restart=on-failure",
        "RestartSec=10",
        f"StandardOutput=append:{log_file(c)}",
        "StandardError=inherit",
        "NoNewPrivileges=yes",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def migration_unit(c: Component) -> str:
    """Runs the migration once per boot, before the components that use the database."""
    assert c.vm_process is not None and c.vm_process.migration is not None
    lines = _unit_head(
        "Corridor database migration", ["network-online.target", "corridor-config.service"],
        ["network-online.target"], ["corridor-config.service"],
    )
    lines += [
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        f"User={SERVICE_USER}",
        f"Group={SERVICE_USER}",
        f"WorkingDirectory={INSTALL_DIR}",
        f"Environment=CORRIDOR_CONFIG_DIR={CONFIG_DIR}",
        f"EnvironmentFile={env_file(c)}",
        f"ExecStart={_bin(c.vm_process.venv, c.vm_process.migration)}",
        f"StandardOutput=append:{log_file(c)}",
        "StandardError=inherit",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def support_units(components: Sequence[Component]) -> dict[str, str]:
    """Config rendering (boot + timer) and the data-volume mirror (timer + shutdown)."""
    units = [c.name + ".service" for c in bundle_components(components)]
    return {
        "corridor-config.service": "\n".join([
            *_unit_head("Corridor environment from Secrets Manager", ["network-online.target"],
                        ["network-online.target"], []),
            f"Before={' '.join(units)} corridor-migrate.service",
            "", "[Service]", "Type=oneshot", "RemainAfterExit=yes",
            "ExecStart=/usr/local/sbin/corridor-config",
            "", "[Install]", "WantedBy=multi-user.target", "",
        ]),
        "corridor-config-refresh.service": "\n".join([
            "[Unit]", "Description=Corridor: re-read secrets, restart components if they changed",
            "", "[Service]", "Type=oneshot", "ExecStart=/usr/local/sbin/corridor-config --restart-on-change", "",
        ]),
        "corridor-config-refresh.timer": "\n".join([
            "[Unit]", "Description=Corridor: pick up rotated credentials",
            "", "[Timer]", f"OnBootSec={CONFIG_REFRESH_MINUTES}min",
            f"OnUnitActiveSec={CONFIG_REFRESH_MINUTES}min", "RandomizedDelaySec=60",
            "", "[Install]", "WantedBy=timers.target", "",
        ]),
        "corridor-data-mirror.service": "\n".join([
            "[Unit]", "Description=Corridor: copy the data volume to S3",
            f"RequiresMountsFor={SHARED_DATA_PATH}",
            "", "[Service]", "Type=oneshot", "ExecStart=/usr/local/sbin/corridor-data-mirror push", "",
        ]),
        "corridor-data-mirror.timer": "\n".join([
            "[Unit]", "Description=Corridor: mirror the data volume to S3",
            "", "[Timer]", f"OnBootSec={DATA_MIRROR_MINUTES}min", f"OnUnitActiveSec={DATA_MIRROR_MINUTES}min",
            "", "[Install]", "WantedBy=timers.target", "",
        ]),
        # Stopped after the components (reverse of Before=) and before the network goes:
        # the last copy is taken when the instance shuts down or is replaced.
        # The group's termination hook holds a leaving instance until this has run.
        "corridor-drain.service": "\n".join([
            "[Unit]", "Description=Corridor: drain when the Auto Scaling group terminates this instance",
            "", "[Service]", "Type=oneshot", "ExecStart=/usr/local/sbin/corridor-drain", "",
        ]),
        "corridor-drain.timer": "\n".join([
            "[Unit]", "Description=Corridor: watch the instance's target lifecycle state",
            "", "[Timer]", "OnBootSec=2min", "OnUnitActiveSec=20s", "AccuracySec=5s",
            "", "[Install]", "WantedBy=timers.target", "",
        ]),
        "corridor-data-final.service": "\n".join([
            "[Unit]", "Description=Corridor: last copy of the data volume at shutdown",
            "After=network-online.target", "Wants=network-online.target",
            f"Before={' '.join(units)}", f"RequiresMountsFor={SHARED_DATA_PATH}",
            "", "[Service]", "Type=oneshot", "RemainAfterExit=yes", "ExecStart=/bin/true",
            "ExecStop=/usr/local/sbin/corridor-data-mirror push", "TimeoutStopSec=900",
            "", "[Install]", "WantedBy=multi-user.target", "",
        ]),
    }


def nginx_config() -> str:
    """Port 80 (the target group's port) -> the load-balanced component, health included."""
    web = load_balanced_component()
    return "\n".join([
        "server {",
        f"    listen {EC2_HTTP_PORT} default_server;",
        "    server_name _;",
        "    client_max_body_size 1g;",
        "    location / {",
        f"        proxy_pass http://127.0.0.1:{web.port};",
        "        proxy_http_version 1.1;",
        "        proxy_set_header Host $host;",
        "        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "        proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;",
        "        proxy_set_header Upgrade $http_upgrade;",
        '        proxy_set_header Connection "upgrade";',
        "        proxy_read_timeout 300s;",
        "    }",
        "}",
        "",
    ])


def environment_spec(settings: BootstrapSettings) -> dict:
    """What corridor-config writes per component: plain values and secret references.

    Holds secret ARNs and JSON field names, never a secret value.
    """
    field_to_var = {ref.field: var for var, ref in DATABASE_SECRET_ENV.items()}
    components = {}
    for c in bundle_components(settings.components):
        secrets = secret_environment(c)
        spec: dict = {
            "plain": plain_environment(c, environment=settings.environment, service_domain=""),
            "secrets": {var: [ref.secret, ref.field] for var, ref in secrets.items()},
        }
        if c.uses_database:
            spec["database_url"] = {
                "name": DATABASE_URL_VARIABLE,
                "user": field_to_var["username"],
                "password": field_to_var["password"],
                "host": field_to_var["host"],
                "port": field_to_var["port"],
                "dbname": field_to_var["dbname"],
                "sslmode": "DB_SSLMODE",
            }
        components[c.name] = spec
    used = sorted({ref.secret for c in bundle_components(settings.components) for ref in secret_environment(c).values()})
    return {
        "region": settings.region,
        "run_dir": RUN_DIR,
        "secrets": {name: settings.secret_arns[name] for name in used},
        "components": components,
        "restart_on_change": [c.name + ".service" for c in bundle_components(settings.components)],
    }


def cloudwatch_agent_config(settings: BootstrapSettings) -> dict:
    """Memory and disk metrics per Auto Scaling group; component, nginx and boot logs."""
    files = [
        {"file_path": log_file(c), "log_group_name": settings.log_groups[c.name], "log_stream_name": "{instance_id}"}
        for c in bundle_components(settings.components)
    ]
    files += [
        {"file_path": f"/var/log/nginx/{kind}.log", "log_group_name": settings.log_groups["nginx"],
         "log_stream_name": "{instance_id}/" + kind}
        for kind in ("access", "error")
    ]
    files.append(
        {"file_path": BOOT_LOG, "log_group_name": settings.log_groups["bootstrap"], "log_stream_name": "{instance_id}"}
    )
    return {
        "agent": {"metrics_collection_interval": 60, "run_as_user": "root"},
        "metrics": {
            "namespace": "CWAgent",
            "append_dimensions": {"AutoScalingGroupName": "${aws:AutoScalingGroupName}", "InstanceId": "${aws:InstanceId}"},
            "aggregation_dimensions": [["AutoScalingGroupName"]],
            "metrics_collected": {
                "mem": {"measurement": ["mem_used_percent"]},
                "disk": {"measurement": ["used_percent"], "resources": ["/", SHARED_DATA_PATH]},
            },
        },
        "logs": {"logs_collected": {"files": {"collect_list": files}}},
    }


# Reads /etc/corridor/environment.json, fetches each secret once and writes one
# root-only environment file per component into the tmpfs RUN_DIR. Values are
# double-quoted with systemd's escapes so any password character survives.
CONFIG_HELPER = r'''#!/usr/bin/python3
"""Corridor: write /run/corridor/<component>.env from Secrets Manager (boot and timer)."""
import json, os, subprocess, sys
from urllib.parse import quote

spec = json.load(open(os.environ.get("CORRIDOR_ENVIRONMENT_SPEC", "/etc/corridor/environment.json")))
cache = {}


def secret(name):
    if name not in cache:
        out = subprocess.run(
            ["aws", "secretsmanager", "get-secret-value", "--region", spec["region"],
             "--secret-id", spec["secrets"][name], "--query", "SecretString", "--output", "text"],
            check=True, capture_output=True, text=True).stdout
        cache[name] = json.loads(out)
    return cache[name]


def quoted(value):
    if "\n" in value or "\r" in value:
        sys.exit("corridor-config: a secret value contains a line break")
    for ch in '\\"`$':
        value = value.replace(ch, "\\" + ch)
    return '"' + value + '"'


os.makedirs(spec["run_dir"], mode=0o700, exist_ok=True)
changed = False
for name, comp in spec["components"].items():
    env = dict(comp["plain"])
    for var, (sname, field) in comp["secrets"].items():
        env[var] = str(secret(sname)[field])
    url = comp.get("database_url")
    if url:
        env[url["name"]] = "postgresql://%s:%s@%s:%s/%s?sslmode=%s" % (
            quote(env[url["user"]], safe=""), quote(env[url["password"]], safe=""),
            env[url["host"]], env[url["port"]], env[url["dbname"]], env[url["sslmode"]])
    text = "".join("%s=%s\n" % (k, quoted(v)) for k, v in sorted(env.items()))
    path = os.path.join(spec["run_dir"], name + ".env")
    try:
        old = open(path).read()
    except FileNotFoundError:
        old = None
    if old != text:
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
        changed = True
if changed and "--restart-on-change" in sys.argv:
    subprocess.run(["systemctl", "try-restart", *spec["restart_on_change"]], check=True)
print("corridor-config:", "changed" if changed else "unchanged")
'''


@dataclass(frozen=True)
class BootFile:
    """A file cfn-init writes before the bootstrap runs (``mode`` as cfn-init wants it)."""

    path: str
    content: str
    mode: str = "000644"


BOOTSTRAP_PATH = "/usr/local/sbin/corridor-bootstrap"
CONFIG_APPEND_DIR = f"{ETC_DIR}/config-append"


def _q(value: str) -> str:
    """A single-quoted shell word (CloudFormation tokens resolve to plain ARNs and names)."""
    return shlex.quote(value) if value else "''"


def config_append(names: Sequence[str]) -> str:
    """Python appended to a bundle config file: the setting comes from the environment."""
    return "\n".join(
        [f"# >>> {MANAGED_MARKER} (written at boot from Secrets Manager) >>>", "import os as _corridor_os"]
        + [f'if "{n}" in _corridor_os.environ:\n    {n} = _corridor_os.environ["{n}"]' for n in names]
        + [f"# <<< {MANAGED_MARKER} <<<", ""]
    )


def render_files(settings: BootstrapSettings) -> list[BootFile]:
    """Every file the instance needs, rendered from the component model; none holds a secret."""
    bundle = bundle_components(settings.components)
    migrating = migration_component(settings.components)
    files = [BootFile(f"/etc/systemd/system/{c.name}.service", systemd_unit(c, settings.components)) for c in bundle]
    if migrating is not None:
        files.append(BootFile("/etc/systemd/system/corridor-migrate.service", migration_unit(migrating)))
    files += [BootFile(f"/etc/systemd/system/{name}", text) for name, text in support_units(settings.components).items()]
    files += [BootFile(f"{CONFIG_APPEND_DIR}/{name}", config_append(names)) for name, names in CONFIG_FROM_ENVIRONMENT.items()]
    files += [
        BootFile(f"{ETC_DIR}/environment.json", json.dumps(environment_spec(settings), indent=2, sort_keys=True) + "\n"),
        BootFile("/usr/local/sbin/corridor-config", CONFIG_HELPER, "000700"),
        BootFile("/usr/local/sbin/corridor-data-mirror", render_data_mirror(settings), "000700"),
        BootFile("/usr/local/sbin/corridor-drain", render_drain(settings), "000700"),
        BootFile("/etc/nginx/conf.d/corridor.conf", nginx_config()),
        BootFile(
            "/etc/logrotate.d/corridor",
            f"{LOG_DIR}/*.log {{\n    daily\n    rotate 7\n    compress\n    missingok\n    notifempty\n    copytruncate\n}}\n",
        ),
        BootFile(
            "/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json",
            json.dumps(cloudwatch_agent_config(settings), indent=2) + "\n",
        ),
        BootFile(BOOTSTRAP_PATH, render_bootstrap(settings), "000700"),
    ]
    return files


def render_user_data(settings: BootstrapSettings, fingerprint: str) -> str:
    """The cloud-init user data: fetch the rendered files with cfn-init, run the bootstrap,
    and signal the Auto Scaling group with its exit status (success and failure alike).

    ``fingerprint`` changes whenever a rendered file does, so a new launch template
    version (and a rolling replacement) follows every change of the files.
    """
    return f"""#!/bin/bash
# Corridor GenGuardX {settings.environment} ({settings.version}): EC2 user data, rendered by corridor_cdk/vm_bootstrap.py.
# Files (units, configs, {BOOTSTRAP_PATH}) come from this group's AWS::CloudFormation::Init
# metadata; no secret is in either. Files fingerprint: {fingerprint}
set -euo pipefail
readonly STACK={_q(settings.stack_name)} RESOURCE={_q(settings.signal_resource)} REGION={_q(settings.region)}

on_exit() {{
    local rc=$?
    if [ "$rc" -eq 0 ]; then reason="Corridor {settings.version} is healthy"; else reason="bootstrap failed (exit $rc): see {BOOT_LOG}"; fi
    /opt/aws/bin/cfn-signal --stack "$STACK" --resource "$RESOURCE" --region "$REGION" \\
        --exit-code "$rc" --reason "$reason" || echo "cfn-signal could not be sent" >&2
}}

trap on_exit EXIT
for attempt in 1 2 3 4 5; do
    dnf -y install aws-cfn-bootstrap && break
    echo "dnf attempt $attempt failed" >&2
    sleep $((attempt * 15))
done
/opt/aws/bin/cfn-init -v --stack "$STACK" --resource "$RESOURCE" --region "$REGION" --configsets corridor
{BOOTSTRAP_PATH}
"""


# --- the bootstrap ------------------------------------------------------------------------
def render_bootstrap(settings: BootstrapSettings) -> str:
    """The boot steps (bash). A non-zero exit fails the boot and, through the user
    data's trap, the deployment."""
    bundle = bundle_components(settings.components)
    services = os_services(settings.components)
    migrating = migration_component(settings.components)
    web = load_balanced_component()
    assert web.health is not None
    targets = " ".join(c.bundle_target or "" for c in bundle)
    units = " ".join(c.name for c in bundle)
    service_units = " ".join(s.unit for s in services)

    config_blocks = ""
    for filename in CONFIG_FROM_ENVIRONMENT:
        missing = (
            f'echo "{CONFIG_DIR}/{filename} missing after install" >&2; exit 1'
            if filename in REQUIRED_CONFIG_FILES
            else f'echo "note: {CONFIG_DIR}/{filename} not installed; skipped" >&2'
        )
        config_blocks += (
            f"cfg={CONFIG_DIR}/{filename}\n"
            f'if [ ! -f "$cfg" ]; then\n    {missing}\n'
            f"elif ! grep -q '{MANAGED_MARKER}' \"$cfg\"; then\n"
            f'    cat {CONFIG_APPEND_DIR}/{filename} >> "$cfg"\nfi\n'
        )

    redis_config = ""
    for c in settings.components:
        if c.vm_process is None and c.port is not None:
            redis_config += (
                f"sed -i -e 's/^port .*/port {c.port}/' -e 's/^bind .*/bind 127.0.0.1 -::1/' "
                f"-e 's/^protected-mode .*/protected-mode yes/' {OS_SERVICES[c.image].config}\n"
            )

    migrate = ""
    if migrating is not None:
        migrate = (
            "# The database migration runs before any component starts (guide: corridor-api db upgrade).\n"
            "# Instances booting together may race on it: the loser retries and finds it done.\n"
            "retry systemctl restart corridor-migrate.service\n"
            "systemctl enable corridor-migrate.service\n"
        )

    return f"""#!/bin/bash
# Corridor GenGuardX {settings.environment}: EC2 bootstrap (guide step 6.4), rendered from the
# component model by corridor_cdk/vm_bootstrap.py. Secrets are read from Secrets Manager into
# {RUN_DIR} (tmpfs, root-only) by corridor-config; none is in this script.
set -euo pipefail
umask 022
readonly CORRIDOR_VERSION={_q(settings.version)}
readonly BUNDLE_URI={_q(settings.bundle_s3_uri)}
readonly REGION={_q(settings.region)}
readonly DATA_DIR={SHARED_DATA_PATH}
readonly DATA_DEVICE={DATA_DEVICE}

retry() {{
    local attempt
    for attempt in 1 2 3 4 5; do
        if "$@"; then return 0; fi
        echo "attempt $attempt failed: $*" >&2
        sleep $((attempt * 15))
    done
    return 1
}}

echo "Corridor $CORRIDOR_VERSION bootstrap starting"
# --- 1. packages (guide: Python 3.11, Java 8+, Redis, nginx), logs and metrics -------
retry dnf -y install {" ".join(PACKAGES)}
id {SERVICE_USER} >/dev/null 2>&1 || useradd --system --home-dir {INSTALL_DIR} --shell /sbin/nologin {SERVICE_USER}
install -d -m 0755 {INSTALL_DIR}
install -d -m 0750 -o {SERVICE_USER} -g {SERVICE_USER} {LOG_DIR}
systemctl daemon-reload
/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s \\
    -c file:/opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json

# --- 2. data volume: formatted on first use only, mounted by UUID ---------------------
for _ in $(seq 1 60); do [ -e "$DATA_DEVICE" ] && break; sleep 2; done
[ -e "$DATA_DEVICE" ] || {{ echo "data volume $DATA_DEVICE is not attached" >&2; exit 1; }}
fresh_volume=false
if ! blkid "$DATA_DEVICE" >/dev/null 2>&1; then
    mkfs.xfs -L corridor-data "$DATA_DEVICE"
    fresh_volume=true
fi
uuid=$(blkid -s UUID -o value "$DATA_DEVICE")
install -d -m 0750 "$DATA_DIR"
grep -q "UUID=$uuid" /etc/fstab || echo "UUID=$uuid $DATA_DIR xfs defaults,noatime,nofail 0 2" >> /etc/fstab
systemctl daemon-reload
mountpoint -q "$DATA_DIR" || mount "$DATA_DIR"
if [ "$fresh_volume" = true ]; then
    # A replacement instance starts from what earlier instances mirrored to S3.
    retry /usr/local/sbin/corridor-data-mirror restore
fi
chown {SERVICE_USER}:{SERVICE_USER} "$DATA_DIR"

# --- 3. the Corridor bundle, one install per component, with Python 3.11 first --------
workdir=$(mktemp -d /var/tmp/corridor-bundle.XXXXXX)
retry aws s3 cp --only-show-errors --region "$REGION" "$BUNDLE_URI" "$workdir/corridor-bundle.zip"
unzip -q "$workdir/corridor-bundle.zip" -d "$workdir"
install -d {PYTHON_SHIM_DIR}
ln -sf /usr/bin/python3.11 {PYTHON_SHIM_DIR}/python3
ln -sf /usr/bin/python3.11 {PYTHON_SHIM_DIR}/python
for target in {targets}; do
    PATH="{PYTHON_SHIM_DIR}:$PATH" "$workdir/corridor-bundle/install" "$target" -i {INSTALL_DIR}
done
rm -rf "$workdir"
# Settings read from the environment, so the config files hold no secret.
{config_blocks}chown -R {SERVICE_USER}:{SERVICE_USER} {INSTALL_DIR}/instances

# --- 4. environment from Secrets Manager, then the migration --------------------------
retry systemctl restart corridor-config.service
systemctl enable corridor-config.service
{redis_config}systemctl enable --now {service_units}
{migrate}
# --- 5. every component, nginx, credential refresh and the data mirror ----------------
systemctl enable --now {units}
nginx -t
systemctl enable --now nginx
systemctl enable --now corridor-config-refresh.timer corridor-data-mirror.timer corridor-data-final.service \\
    corridor-drain.timer

# --- 6. healthy through nginx and every unit running, or the boot fails ---------------
curl --fail --silent --show-error --max-time 5 --retry 60 --retry-delay 10 --retry-all-errors \\
    -o /dev/null "http://127.0.0.1:{EC2_HTTP_PORT}{web.health.path}"
for unit in {service_units} {units} nginx; do
    systemctl is-active --quiet "$unit" || {{ echo "$unit is not running" >&2; exit 1; }}
done
echo "Corridor $CORRIDOR_VERSION bootstrap finished"
"""


def render_drain(settings: BootstrapSettings) -> str:
    """Run by a timer: once the group marks this instance for termination (IMDS target
    lifecycle state), stop the components, copy the data volume, complete the hook."""
    units = " ".join(c.name for c in bundle_components(settings.components))
    return f"""#!/bin/bash
# Corridor: drain this instance when its Auto Scaling group terminates it (hook {DRAIN_HOOK_NAME}).
set -euo pipefail
readonly MARKER={RUN_DIR}/drained
imds() {{
    local token
    token=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" http://169.254.169.254/latest/api/token)
    curl -sf -H "X-aws-ec2-metadata-token: $token" "http://169.254.169.254/latest/meta-data/$1"
}}
state=$(imds autoscaling/target-lifecycle-state || true)
if [ "$state" != "Terminated" ] || [ -e "$MARKER" ]; then exit 0; fi
echo "corridor-drain: termination requested, stopping components and copying the data volume"
systemctl stop {units} || true
/usr/local/sbin/corridor-data-mirror push
aws autoscaling complete-lifecycle-action --region {_q(settings.region)} \\
    --auto-scaling-group-name {_q(settings.group_name)} --lifecycle-hook-name {DRAIN_HOOK_NAME} \\
    --instance-id "$(imds instance-id)" --lifecycle-action-result CONTINUE
touch "$MARKER"
"""


def render_data_mirror(settings: BootstrapSettings) -> str:
    """push: data volume -> S3 (timer, shutdown); restore: S3 -> a freshly formatted volume.

    No --delete either way: a replacement or a second instance never erases files, and
    the versioned backup bucket keeps earlier copies.
    """
    return f"""#!/bin/bash
# Corridor: mirror {SHARED_DATA_PATH} to the backup bucket so a replaced instance keeps its files.
set -euo pipefail
readonly MIRROR={_q(settings.data_mirror_uri)}
readonly REGION={_q(settings.region)}
case "${{1:-}}" in
    push)
        aws s3 sync --only-show-errors --no-follow-symlinks --region "$REGION" {SHARED_DATA_PATH}/ "$MIRROR"
        ;;
    restore)
        aws s3 sync --only-show-errors --region "$REGION" "$MIRROR" {SHARED_DATA_PATH}/
        chown -R {SERVICE_USER}:{SERVICE_USER} {SHARED_DATA_PATH}
        ;;
    *)
        echo "usage: corridor-data-mirror push|restore" >&2
        exit 2
        ;;
esac
"""


__all__ = [
    "BOOTSTRAP_PATH",
    "BootFile",
    "BootstrapSettings",
    "CONFIG_FROM_ENVIRONMENT",
    "DATA_DEVICE",
    "DRAIN_HOOK_NAME",
    "OS_SERVICES",
    "PACKAGES",
    "bundle_components",
    "cloudwatch_agent_config",
    "environment_spec",
    "migration_component",
    "nginx_config",
    "render_bootstrap",
    "render_data_mirror",
    "render_drain",
    "render_files",
    "render_user_data",
    "systemd_unit",
]
