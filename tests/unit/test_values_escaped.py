"""Values are checked and escaped for where they land: no control character reaches user data,
no line break adds a setting to a service's configuration file, no network parameter opens a
tenant to the world, and a card's bad regular expression is a finding, not a crash."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuntapilvi.errors import InvalidInput
from kuntapilvi.project import ProjectPaths
from kuntapilvi.render import render
from kuntapilvi.servicecontext import userdata_context
from kuntapilvi.validate import validate

ESPOO = "stacks/Pulumi.espoo.yaml"
CONTROLS = [chr(c) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)]]


def edit(project: ProjectPaths, rel: str, old: str, new: str) -> None:
    path = project.root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture drift: {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def errors_in(project: ProjectPaths, rel: str) -> list[str]:
    return [f.render() for f in validate(project).errors if f.file == rel and f.line]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(char=st.sampled_from(CONTROLS))
def test_control_character_in_a_parameter_is_refused_with_its_line(
    project: ProjectPaths, char: str
) -> None:
    escaped = f"\\u{ord(char):04x}"
    path = project.root / ESPOO
    original = path.read_text(encoding="utf-8")
    try:
        edit(project, ESPOO, "organization: Espoon kaupunki", f'organization: "Espoo{escaped}x"')
        assert errors_in(project, ESPOO), f"U+{ord(char):04X} was accepted"
    finally:
        path.write_text(original, encoding="utf-8")


@pytest.mark.parametrize(
    ("rel", "old", "new"),
    [
        ("catalog/owners.yaml", "name: Lahden kaupunki", 'name: "Lahti\\n[root]\\n path = /"'),
        ("catalog/centre.yaml", "aika1.kuntapilvi.fi,", '"aika1.fi\\nallow 0.0.0.0/0",'),
        ("catalog/owners.yaml", "name: Lahden kaupunki", 'name: "Lahti\\u0085"'),
    ],
    ids=["owner-name-newline", "ntp-server-newline", "owner-name-c1"],
)
def test_line_breaks_in_catalogue_text_are_refused(
    project: ProjectPaths, rel: str, old: str, new: str
) -> None:
    edit(project, rel, old, new)
    found = errors_in(project, rel)
    assert found, "accepted"


@pytest.mark.parametrize(
    ("template", "key", "value"),
    [
        ("cloud-init/file-share.yaml.j2", "name", "Lahti levyjako\n[root]\n   guest ok = yes"),
        ("cloud-init/time.yaml.j2", "admitted", "10.0.0.0/8\nallow 0.0.0.0/0"),
        ("cloud-init/print.yaml.j2", "admitted", "10.0.0.0/8\n  Allow from all"),
        ("cloud-init/mail-relay.yaml.j2", "admitted", "10.0.0.0/8\nmynetworks = 0.0.0.0/0"),
        ("cloud-init/directory.yaml.j2", "domain", "x.fi\nslapd slapd/x string y"),
    ],
)
def test_render_refuses_a_line_break_in_a_config_value(
    repo: ProjectPaths, template: str, key: str, value: str
) -> None:
    model = validate(repo).model
    tenant = model.tenants["espoo"]
    service = next(s for s in tenant.services if s.card.server is not None and
                   s.card.server.template == template)
    context = userdata_context(model, tenant, service)
    render(repo.templates, template, context)  # the real values render
    if key == "admitted":
        # The networks an office service admits (kuntapilvi.reach), one of them poisoned.
        context["admitted"] = [{**context["admitted"][0], "cidr": value}, *context["admitted"][1:]]
    else:
        context["tenant"] = {**context["tenant"], key: value}
    with pytest.raises(InvalidInput, match="configuration file"):
        render(repo.templates, template, context)


@pytest.mark.parametrize("world", ["0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1", "0.0.0.0/4"])
def test_world_networks_are_refused(project: ProjectPaths, world: str) -> None:
    edit(project, ESPOO, "wan_prefixes: [172.20.0.0/16,", f"wan_prefixes: [{world},")
    edit(
        project, ESPOO, "      - card: office.mail-relay\n",
        f"      - card: office.mail-relay\n        params: {{extra_networks: [{world}]}}\n",
    )
    found = [f for f in validate(project).errors if f.code == "service.bad-param"]
    assert {f.field.rsplit(".", 1)[-1] for f in found} == {"wan_prefixes", "extra_networks"}
    assert all("world" in f.message for f in found)


def test_a_card_may_allow_world_networks(project: ProjectPaths) -> None:
    """`allow_world` lifts the parameter type's refusal; the WAN link's prefixes are also the
    tenant's office networks, which the office-network rule never lets be the world."""
    edit(project, "catalog/cards/network/wan-link.yaml", "type: cidr-list",
         "type: cidr-list\n    allow_world: true")
    edit(project, ESPOO, "wan_prefixes: [172.20.0.0/16,", "wan_prefixes: [0.0.0.0/0,")
    codes = {f.code for f in validate(project).errors}
    assert "service.bad-param" not in codes
    assert "office-network.too-wide" in codes


def test_private_networks_pass(project: ProjectPaths) -> None:
    edit(project, ESPOO, "wan_prefixes: [172.20.0.0/16,", "wan_prefixes: [192.168.0.0/16,")
    assert validate(project).ok


def test_invalid_regex_in_a_card_is_a_finding(project: ProjectPaths) -> None:
    card = "catalog/cards/office/file-share.yaml"
    edit(project, card, "pattern: '^[a-z][a-z0-9_-]{1,30}$'", "pattern: '^[a-z(+$'")
    found = errors_in(project, card)
    assert any("regular expression" in f for f in found), found


@pytest.mark.parametrize(
    "proxy", ["http://user:salasana@10.0.0.1:3142", "http://user@proxy:3142", "ftp://proxy"]
)
def test_apt_proxy_with_credentials_never_reaches_user_data(
    repo: ProjectPaths, monkeypatch: pytest.MonkeyPatch, proxy: str
) -> None:
    """The proxy is an explicit setting (kuntapilvi.settings), refused at the edge when it carries
    credentials or is not http(s); only a clean one reaches the user data."""
    from kuntapilvi.errors import KuntapilviError
    from kuntapilvi.settings import Settings

    model = validate(repo).model
    tenant = model.tenants["espoo"]
    service = next(s for s in tenant.services if s.card.server is not None)
    monkeypatch.setenv("KUNTAPILVI_APT_PROXY", proxy)
    with pytest.raises(KuntapilviError, match="KUNTAPILVI_APT_PROXY"):
        Settings.from_env()
    monkeypatch.setenv("KUNTAPILVI_APT_PROXY", "http://10.0.0.1:3142")
    clean = Settings.from_env().apt_proxy
    assert userdata_context(model, tenant, service, apt_proxy=clean)["apt_proxy"] == clean
