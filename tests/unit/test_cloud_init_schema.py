"""Rendered user data of every server card passes cloud-init's own schema validator.

The validator is Debian's cloud-init package: used from the system when importable, otherwise
downloaded once with apt-get and unpacked into the cache (no daemons installed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kuntapilvi.project import ProjectPaths
from kuntapilvi.render import render
from kuntapilvi.servicecontext import userdata_context
from kuntapilvi.validate import validate

CACHE = Path(os.environ.get("KUNTAPILVI_CACHE", Path.home() / ".cache" / "kuntapilvi"))


def _cloud_init_path() -> Path:
    system = Path("/usr/lib/python3/dist-packages")
    if (system / "cloudinit" / "config" / "schema.py").is_file():
        return system
    target = CACHE / "cloud-init"
    unpacked = target / "root" / "usr" / "lib" / "python3" / "dist-packages"
    if (unpacked / "cloudinit").is_dir():
        return unpacked
    target.mkdir(parents=True, exist_ok=True)
    download = ["apt-get", "download", "cloud-init"]
    if subprocess.run(download, cwd=target, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(download, cwd=target, check=True, capture_output=True)
    deb = next(target.glob("cloud-init_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(target / "root")], check=True)
    return unpacked


@pytest.fixture(scope="module")
def cloud_init_validate():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(_cloud_init_path()))
    try:
        from cloudinit.config.schema import get_schema, validate_cloudconfig_schema
    finally:
        sys.path.pop(0)
    schema = get_schema()
    return lambda cfg: validate_cloudconfig_schema(cfg, schema, strict=True)


def _server_services(repo: ProjectPaths):  # type: ignore[no-untyped-def]
    model = validate(repo).model
    seen = set()
    for tenant in model.tenants.values():
        for service in tenant.services:
            if service.card.server is not None and service.card.id not in seen:
                seen.add(service.card.id)
                yield model, tenant, service


def test_every_server_card_renders_schema_valid_cloud_config(
    repo: ProjectPaths, cloud_init_validate
) -> None:  # type: ignore[no-untyped-def]
    checked = []
    for model, tenant, service in _server_services(repo):
        text = render(
            repo.templates, service.card.server.template, userdata_context(model, tenant, service)
        )
        assert text.startswith("#cloud-config\n")
        cloud_init_validate(yaml.safe_load(text))
        checked.append(service.card.id)
    assert {c for c in checked if c.startswith("office.")} == {
        "office.file-share",
        "office.print",
        "office.mail-relay",
        "office.directory",
        "office.time",
    }


def test_validator_rejects_a_broken_document(cloud_init_validate) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match="packages"):
        cloud_init_validate({"packages": 5})
