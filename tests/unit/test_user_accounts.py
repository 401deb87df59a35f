"""user.accounts: staff accounts in the tenant's directory, from its request, applied in place.

The request is validated with file, line and field; the account list never enters user data or
state (the directory server would be replaced, and passwords would be in state); the host's own
sync program (templates/files/kuntapilvi-accounts.py) plans the changes, tested here without a
directory: nothing is ever deleted, an account that leaves is locked, one that comes back is
unlocked, hand-made entries are left alone."""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml
from typer.testing import CliRunner

from kuntapilvi.accounts import desired_accounts
from kuntapilvi.cli import app
from kuntapilvi.dryrun import dry_run
from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate
from tests.conftest import REPO
from tests.unit.test_validate_bad_inputs import edit

PATHS = ProjectPaths(REPO)
KAJAANI = "stacks/Pulumi.kajaani.yaml"
SCRIPT = REPO / "templates" / "files" / "kuntapilvi-accounts.py"
BASE = "dc=kajaani,dc=kuntapilvi,dc=fi"
AALTONEN = "{uid: aaltonen, name: Anna Aaltonen, groups: [talous, kaikki]}"


def _sync_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kuntapilvi_accounts_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


sync = _sync_module()


# --- the request ----------------------------------------------------------------------------


def test_kajaanis_request_gives_its_accounts_and_groups_in_order() -> None:
    model = validate(PATHS, ["kajaani"]).require_ok()
    accounts = desired_accounts(model.tenants["kajaani"])["accounts"]
    assert [a["uid"] for a in accounts] == ["aaltonen", "heikkinen", "kyllonen"]
    assert accounts[0] == {"uid": "aaltonen", "name": "Anna Aaltonen",
                           "groups": ["kaikki", "talous"]}  # fmt: skip
    assert accounts[2]["name"] == "Sanna Kyllönen"
    # A tenant without the card pushes an empty list: every earlier account is disabled.
    espoo = validate(PATHS, ["espoo"]).require_ok().tenants["espoo"]
    assert desired_accounts(espoo) == {"accounts": []}


@pytest.mark.parametrize(
    ("new", "needle"),
    [
        ("{uid: Aaltonen, name: Anna Aaltonen}", "lower case"),
        ("{uid: aaltonen-, name: Anna}", "lower case"),
        ("{uid: heikkinen, name: Toinen Heikkinen}", "listed twice"),
        ('{uid: aaltonen, name: "Anna\\nAaltonen"}', "line break"),
        ("{uid: aaltonen, name: ''}", "1 to 64"),
        ("{uid: aaltonen, name: Anna, groups: [Talous]}", "group 'Talous'"),
        ("{uid: aaltonen, name: Anna, groups: [talous, talous]}", "twice"),
        ("{uid: aaltonen, name: Anna, password: salainen}", "keys uid and name"),
        ("{uid: aaltonen}", "keys uid and name"),
        ("aaltonen", "keys uid and name"),
    ],
)
def test_bad_accounts_are_refused_with_file_line_and_field(
    project: ProjectPaths, new: str, needle: str
) -> None:
    edit(KAJAANI, AALTONEN, new)(project.root)
    report = validate(project, ["kajaani"])
    [finding] = report.errors
    assert finding.code == "service.bad-param", finding.render()
    assert finding.field.endswith("params.accounts") and finding.line is not None
    assert finding.file.endswith("Pulumi.kajaani.yaml")
    assert needle in finding.message, finding.message
    lines = (project.root / KAJAANI).read_text().splitlines()
    assert "accounts:" in lines[finding.line - 1]


def test_an_account_list_over_the_cards_limit_is_refused(project: ProjectPaths) -> None:
    many = ", ".join(f"{{uid: u{i}, name: Henkilö {i}}}" for i in range(501))
    text = (project.root / KAJAANI).read_text()
    start = text.index("          accounts:")
    (project.root / KAJAANI).write_text(text[:start] + f"          accounts: [{many}]\n")
    [finding] = validate(project, ["kajaani"]).errors
    assert "at most 500 accounts" in finding.message


def test_accounts_need_the_tenants_directory(project: ProjectPaths) -> None:
    directory = "      - card: office.directory\n        params: {organization: Kajaanin kaupunki}"
    edit(KAJAANI, directory + "\n", "")(project.root)
    edit(KAJAANI, "      - card: user.mailbox\n", "")(project.root)  # needs the directory too
    codes = {(f.code, f.message) for f in validate(project, ["kajaani"]).errors}
    assert any("user.accounts" in m and "office.directory" in m for _, m in codes), codes


# --- under Pulumi's mocks: nothing of the accounts in user data or state ----------------------


def _directory_user_data(paths: ProjectPaths) -> str:
    recorded = dry_run(paths, "kajaani", today="2027-01-15").resources
    [directory] = [r for r in recorded if r.type == "openstack:compute/instance:Instance"
                   and r.inputs["name"] == "kajaani-directory"]  # fmt: skip
    return str(directory.inputs["userData"])


def test_a_changed_account_list_leaves_the_directory_server_as_it_is(
    project: ProjectPaths,
) -> None:
    before = _directory_user_data(project)
    edit(KAJAANI, AALTONEN, "{uid: pitkanen, name: Ville Pitkänen, groups: [tekninen]}")(
        project.root
    )
    assert _directory_user_data(project) == before  # no replacement: pushed, not rebuilt
    for uid in ("aaltonen", "pitkanen", "tekninen"):
        assert uid not in before


def test_no_resource_holds_an_account_or_a_password() -> None:
    recorded = dry_run(PATHS, "kajaani", today="2027-01-15").resources
    text = json.dumps([r.inputs for r in recorded], default=str)
    for needle in ("aaltonen", "heikkinen", "Kyllönen", "Kyll\\u00f6nen"):
        assert needle not in text
    users = [r.inputs["name"] for r in recorded if r.type == "openstack:identity/user:User"]
    assert sorted(users) == ["kajaani-lvirtanen", "kajaani-mmakinen"]  # the admins only
    assert all("password" not in r.inputs for r in recorded if "identity" in r.type)


def test_the_directory_carries_the_sync_program_byte_for_byte() -> None:
    recorded = dry_run(PATHS, "kajaani", today="2027-01-15").resources
    [directory] = [r for r in recorded if r.type == "openstack:compute/instance:Instance"
                   and r.inputs["name"] == "kajaani-directory"]  # fmt: skip
    data = yaml.safe_load(directory.inputs["userData"])
    files = {f["path"]: f for f in data["write_files"]}
    program = files["/usr/local/sbin/kuntapilvi-accounts"]
    assert program["content"] == SCRIPT.read_text()  # Jinja changed nothing in it
    assert program["permissions"] == "0700"
    config = json.loads(files["/etc/kuntapilvi/directory.json"]["content"])
    assert config == {"base_dn": BASE, "domain": "kajaani.kuntapilvi.fi",
                      "admin_dn": f"cn=admin,{BASE}",
                      "secret": "/etc/kuntapilvi/ldap-admin.secret"}  # fmt: skip
    ppolicy = next(c[2] for c in data["runcmd"] if "olcPPolicyConfig" in str(c))
    assert "pwdMustChange: TRUE" in ppolicy and "pwdLockout: TRUE" in ppolicy


# --- the host's sync program, planned without a directory ---------------------------------------


def _person(uid: str, number: int, *, managed: bool = True, locked: bool = False,
            name: str | None = None) -> dict[str, list[str]]:  # fmt: skip
    entry = {"dn": [f"uid={uid},ou=ihmiset,{BASE}"], "uid": [uid], "cn": [name or uid.title()],
             "uidnumber": [str(number)]}  # fmt: skip
    if managed:
        entry["description"] = [sync.MARKER]
    if locked:
        entry["pwdaccountlockedtime"] = [sync.LOCKED]
        entry["shadowexpire"] = ["1"]
    return entry


def _group(cn: str, gid: int, members: list[str], managed: bool = True) -> dict[str, list[str]]:
    entry = {"cn": [cn], "gidnumber": [str(gid)], "memberuid": members}
    if managed:
        entry["description"] = [sync.MARKER]
    return entry


def _records(plan: object) -> list[dict[str, list[str]]]:
    return sync.parse_ldif("\n".join(plan.changes))  # type: ignore[attr-defined]


def test_new_accounts_are_added_with_numbers_after_the_highest_and_groups_made() -> None:
    accounts = sync.check_request({"accounts": [
        {"uid": "aaltonen", "name": "Anna Äälto", "groups": ["talous", "kaikki"]},
        {"uid": "bertta", "name": "Bertta", "groups": ["kaikki"]},
    ]})  # fmt: skip
    plan = sync.plan(accounts, [_person("vanha", 10041)], [], BASE, "kajaani.kuntapilvi.fi")
    assert plan.new_accounts == ["aaltonen", "bertta"]
    added = {r["dn"][0]: r for r in _records(plan)}
    anna = added[f"uid=aaltonen,ou=ihmiset,{BASE}"]
    assert anna["changetype"] == ["add"] and anna["uidnumber"] == ["10042"]
    assert anna["cn"] == ["Anna Äälto"] and anna["sn"] == ["Äälto"]  # base64 in the LDIF
    assert anna["mail"] == ["aaltonen@kajaani.kuntapilvi.fi"]
    assert "userpassword" not in anna  # the password is made on the host, afterwards
    assert added[f"uid=bertta,ou=ihmiset,{BASE}"]["uidnumber"] == ["10043"]
    kaikki = added[f"cn=kaikki,ou=ryhmat,{BASE}"]
    assert kaikki["memberuid"] == ["aaltonen", "bertta"] and kaikki["gidnumber"] == ["20000"]
    assert added[f"cn=talous,ou=ryhmat,{BASE}"]["gidnumber"] == ["20001"]
    assert "cn:: " in "\n".join(plan.changes)  # non-ASCII values are base64, as LDIF needs


def test_an_account_that_leaves_is_locked_and_leaves_its_groups_never_deleted() -> None:
    people = [_person("aaltonen", 10000), _person("bertta", 10001)]
    groups = [_group("kaikki", 20000, ["aaltonen", "bertta"])]
    accounts = sync.check_request({"accounts": [{"uid": "bertta", "name": "Bertta"}]})
    plan = sync.plan(accounts, people, groups, BASE, "kajaani.kuntapilvi.fi")
    text = "\n".join(plan.changes)
    assert "changetype: delete" not in text and "changetype: modrdn" not in text
    assert plan.summary["disabled"] == ["aaltonen"] and not plan.new_accounts
    lock = next(r for r in _records(plan) if r["dn"] == [f"uid=aaltonen,ou=ihmiset,{BASE}"])
    assert lock["pwdaccountlockedtime"] == ["000001010000Z"] and lock["shadowexpire"] == ["1"]
    group = next(r for r in _records(plan) if r["dn"] == [f"cn=kaikki,ou=ryhmat,{BASE}"])
    assert group["replace"] == ["memberUid"] and "memberuid" not in group  # empty, kept
    # Synced again with the same list: nothing more to do.
    people[0] = _person("aaltonen", 10000, locked=True)
    again = sync.plan(accounts, people, [_group("kaikki", 20000, [])], BASE, "k.fi")
    assert again.changes == []


def test_an_account_that_comes_back_is_unlocked_and_renamed_in_place() -> None:
    people = [_person("aaltonen", 10000, locked=True, name="Anna Aaltonen")]
    accounts = sync.check_request({"accounts": [{"uid": "aaltonen", "name": "Anna Virtanen"}]})
    plan = sync.plan(accounts, people, [], BASE, "kajaani.kuntapilvi.fi")
    [change] = _records(plan)
    assert change["changetype"] == ["modify"]
    assert change["delete"] == ["pwdAccountLockedTime", "shadowExpire"]
    assert change["cn"] == ["Anna Virtanen"] and change["sn"] == ["Virtanen"]
    assert plan.summary["enabled"] == ["aaltonen"] and plan.summary["renamed"] == ["aaltonen"]
    assert not plan.new_accounts  # the password the person set stays theirs


def test_hand_made_entries_are_conflicts_and_never_touched() -> None:
    people = [_person("aaltonen", 10000, managed=False), _person("oma", 10001, managed=False)]
    groups = [_group("talous", 20000, ["oma"], managed=False)]
    accounts = sync.check_request(
        {"accounts": [{"uid": "aaltonen", "name": "Anna", "groups": ["talous"]},
                      {"uid": "bertta", "name": "Bertta", "groups": ["talous"]}]}
    )
    plan = sync.plan(accounts, people, groups, BASE, "kajaani.kuntapilvi.fi")
    assert plan.summary["conflicts"] == ["aaltonen", "group talous"]
    assert plan.new_accounts == ["bertta"]  # the rest of the request still goes in
    touched = {r["dn"][0] for r in _records(plan)}
    assert touched == {f"uid=bertta,ou=ihmiset,{BASE}"}
    # 'oma' is not in the request, but not ours either: it is not disabled.
    assert plan.summary["disabled"] == []


@pytest.mark.parametrize(
    "request_",
    [
        [],
        {"accounts": "aaltonen"},
        {"accounts": [{"uid": "Root", "name": "x"}]},
        {"accounts": [{"uid": "a", "name": "x"}, {"uid": "a", "name": "y"}]},
        {"accounts": [{"uid": "a", "name": "x\ndn: cn=admin"}]},
        {"accounts": [{"uid": "a", "name": "x", "groups": ["../etc"]}]},
    ],
)
def test_the_host_checks_a_pushed_request_again(request_: object) -> None:
    with pytest.raises(sync.SyncError):
        sync.check_request(request_)


def test_ldif_values_round_trip_through_the_parser() -> None:
    values = ["Anna Äälto", " alkaa välilyönnillä", ":kaksoispiste", "<nuoli", "tavallinen"]
    text = "\n".join(sync.ldif_value("cn", v) for v in values)
    assert sync.parse_ldif(text)[0]["cn"] == values
    assert sync.ldif_value("cn", "tavallinen") == "cn: tavallinen"
    encoded = sync.ldif_value("cn", "Äälto").split(":: ")[1]
    assert base64.b64decode(encoded).decode() == "Äälto"


# --- the CLI ------------------------------------------------------------------------------------


def test_sync_dry_run_prints_the_request_it_would_push(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    done = CliRunner().invoke(app, ["accounts", "sync", "kajaani", "--dry-run"])
    assert done.exit_code == 0, done.output
    pushed = json.loads(done.stdout)
    assert [a["uid"] for a in pushed["accounts"]] == ["aaltonen", "heikkinen", "kyllonen"]


def test_sync_without_the_directory_server_in_the_inventory_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(REPO)
    inventory = tmp_path / "servers.json"
    inventory.write_text(json.dumps({"kajaani-time": {
        "address": "10.72.0.15", "service": "time", "card": "office.time"}}))  # fmt: skip
    done = CliRunner().invoke(app, ["accounts", "sync", "kajaani", "--inventory", str(inventory)])
    assert done.exit_code == 2, done.output
    assert "no 'kajaani-directory'" in done.output and "pulumi up" in done.output


def test_sync_of_a_tenant_without_a_directory_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    done = CliRunner().invoke(app, ["accounts", "sync", "lahti", "--inventory", "/nonexistent"])
    assert done.exit_code == 2, done.output
    assert "no office.directory" in done.output
