"""Renders every service's configuration into the state folder from the Jinja2 templates.

Configs are re-rendered on every `up` (cheap, and a changed template takes effect on the
next start); secrets are generated once per state folder and kept until `reset`.
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from kuntapilvi.devcloud import services as svc
from kuntapilvi.devcloud.errors import DevcloudError
from kuntapilvi.devcloud.paths import Paths

# Hex only: valid in URLs, INI files and as a base64 TSIG secret (rndc) alike.
SECRET_NAMES = ("admin", "service", "db", "rabbit", "rndc")

# Rendered file (relative to state/etc) -> template.
TEMPLATES: dict[str, str] = {
    "keystone/keystone.conf": "keystone.conf.j2",
    "placement/placement.conf": "placement.conf.j2",
    "nova/nova.conf": "nova.conf.j2",
    "nova/nova-compute.conf": "nova.conf.j2",
    "neutron/neutron.conf": "neutron.conf.j2",
    "neutron/ml2_conf.ini": "ml2_conf.ini.j2",
    "cinder/cinder.conf": "cinder.conf.j2",
    "glance/glance-api.conf": "glance-api.conf.j2",
    "mariadb/my.cnf": "my.cnf.j2",
    "rabbitmq/rabbitmq.conf": "rabbitmq.conf.j2",
    "rabbitmq/rabbitmq-env.conf": "rabbitmq-env.conf.j2",
    "designate/designate.conf": "designate.conf.j2",
    "designate/pools.yaml": "pools.yaml.j2",
    "bind/named.conf": "named.conf.j2",
    "bind/rndc.key": "rndc.key.j2",
}

# Files the service packages ship in the venv's etc/ and that the configs point at.
SHIPPED_FILES: dict[str, str] = {
    "nova/api-paste.ini": "nova/api-paste.ini",
    "neutron/api-paste.ini": "neutron/api-paste.ini",
    "cinder/api-paste.ini": "cinder/api-paste.ini",
    "cinder/resource_filters.json": "cinder/resource_filters.json",
    "glance/glance-api-paste.ini": "glance/glance-api-paste.ini",
    "designate/api-paste.ini": "designate/api-paste.ini",
}

# Designate's migrations create the default pool with this id; pools.yaml updates it.
DEFAULT_POOL_ID = "794ccc2c-d751-44fe-b57f-8894c9f5c842"

BASE_IMAGE_SIZE = 1024 * 1024


def load_secrets(paths: Paths) -> dict[str, str]:
    """Per-state random passwords; hex only, so they need no escaping in URLs or INI files.

    Names added by a newer devcloud are generated alongside the kept ones: changing an
    existing password would lock the services out of a database made with the old one.
    """
    try:
        data = json.loads(paths.secrets.read_text())
        if not isinstance(data, dict):
            data = {}
    except (FileNotFoundError, ValueError):
        data = {}
    kept = {k: data[k] for k in SECRET_NAMES if isinstance(data.get(k), str)}
    if len(kept) == len(SECRET_NAMES):
        return kept
    fresh = {k: kept.get(k) or secrets.token_hex(16 if k == "rndc" else 12) for k in SECRET_NAMES}
    paths.state.mkdir(parents=True, exist_ok=True)
    paths.secrets.write_text(json.dumps(fresh, indent=2) + "\n")
    paths.secrets.chmod(0o600)
    return fresh


@dataclass(frozen=True)
class Context:
    paths: Paths
    secrets: dict[str, str]
    region: str = svc.REGIONS[0]

    def db_url(self, database: str) -> str:
        socket = quote(str(self.paths.mysql_socket), safe="/")
        return (
            f"mysql+pymysql://{svc.DB_USER}:{self.secrets['db']}@localhost/{database}"
            f"?unix_socket={socket}&charset=utf8"
        )

    @property
    def transport_url(self) -> str:
        return (
            f"rabbit://{svc.RABBIT_USER}:{self.secrets['rabbit']}"
            f"@127.0.0.1:{svc.PORTS['rabbitmq']}/"
        )

    def variables(self) -> dict[str, Any]:
        return {
            "paths": self.paths,
            "secrets": self.secrets,
            "region": self.region,
            "ports": svc.PORTS,
            "keystone_url": svc.KEYSTONE_URL,
            "transport_url": self.transport_url,
            "db_url": self.db_url,
            "compute_host": svc.COMPUTE_HOST,
            "flat_physnets": svc.FLAT_PHYSNETS,
            "default_pool_id": DEFAULT_POOL_ID,
            "with_db": True,
        }


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("kuntapilvi.devcloud", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render_all(ctx: Context) -> dict[str, str]:
    """Every templated config, as {path relative to state/etc: text}. Pure: writes nothing."""
    env = environment()
    out: dict[str, str] = {}
    for target, template in TEMPLATES.items():
        variables = ctx.variables()
        if target == "nova/nova-compute.conf":
            variables["with_db"] = False
        out[target] = env.get_template(template).render(**variables)
    out["rabbitmq/enabled_plugins"] = "[].\n"
    for service in svc.SERVICES:
        if service.kind == "api":
            out[f"wsgi/{svc.wsgi_module_name(service)}.py"] = render_wsgi(env, service, ctx.paths)
    return out


def render_wsgi(env: jinja2.Environment, service: svc.Service, paths: Paths) -> str:
    argv = [service.name]
    for cfg in service.config_files:
        argv += ["--config-file", str(paths.etc / cfg)]
    environ = {}
    if service.name in svc.CONFIG_DIR_ENV:
        var, folder = svc.CONFIG_DIR_ENV[service.name]
        environ[var] = str(paths.etc / folder)
    return env.get_template("wsgi.py.j2").render(
        service=service.name, module=service.wsgi_module, argv=argv, environ=environ
    )


def write_all(ctx: Context) -> list[Path]:
    paths = ctx.paths
    paths.ensure()
    written = []
    for rel, text in render_all(ctx).items():
        target = paths.etc / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
        written.append(target)
    for folder in ("keystone", "placement", "nova/instances", "neutron", "cinder",
                   "glance/images", "glance/staging", "glance/tasks", "rabbitmq", "mysql",
                   "designate", "bind"):
        (paths.data / folder).mkdir(parents=True, exist_ok=True)
    for lock_owner in ("keystone", "placement", "nova", "neutron", "cinder", "glance",
                       "designate"):
        (paths.data / lock_owner / "lock").mkdir(parents=True, exist_ok=True)
    (paths.logs / "rabbitmq").mkdir(parents=True, exist_ok=True)
    return written


def copy_shipped_files(paths: Paths) -> None:
    """Paste pipelines and filter lists come from the pinned packages, so they always match."""
    venv_etc = paths.venv / "etc"
    for target, source in SHIPPED_FILES.items():
        src = venv_etc / source
        if not src.is_file():
            raise DevcloudError(
                f"The service venv lacks {source}; delete {paths.venv} and run `up` again."
            )
        dst = paths.etc / target
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)


def write_base_image(paths: Paths) -> Path:
    """A 1 MiB raw image of zeros: enough for Glance's format checks and the fake driver."""
    image = paths.base_image
    if not image.is_file() or image.stat().st_size != BASE_IMAGE_SIZE:
        image.parent.mkdir(parents=True, exist_ok=True)
        with image.open("wb") as fh:
            fh.truncate(BASE_IMAGE_SIZE)
    return image
