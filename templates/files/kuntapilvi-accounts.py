#!/usr/bin/python3
"""kuntapilvi-accounts: the tenant's staff accounts (user.accounts) in its directory, in place.

Installed by the office.directory card's user data as /usr/local/sbin/kuntapilvi-accounts (root
only). The centre pushes the account list of the tenant's request to it (`kuntapilvi accounts
sync`, over SSH), so a changed list never replaces the directory server. Run as root:

  kuntapilvi-accounts sync < request.json   # {"accounts": [{"uid", "name", "groups"}]}
  kuntapilvi-accounts list                  # the accounts this script manages, as JSON
  kuntapilvi-accounts first-password UID    # a new account's one-time password, until changed

- A new account gets a one-time password made here (never in git, user data or Pulumi state),
  readable by root only, and the password policy makes its owner change it at the first login.
- An account that leaves the request is disabled (locked by the password policy, shadowExpire,
  out of its groups), never deleted; back in the request, it is enabled again.
- Groups (ou=ryhmat) hold the accounts the request puts in them; a group no longer named is kept,
  empty. Only entries this script made (description 'kuntapilvi user.accounts') are touched.

This file is included verbatim in templates/cloud-init/directory.yaml.j2: it must never contain
a Jinja delimiter (two opening braces, a brace and a percent sign, a brace and a hash).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG = Path("/etc/kuntapilvi/directory.json")
FIRST_PASSWORDS = Path("/var/lib/kuntapilvi/accounts")
MARKER = "kuntapilvi user.accounts"
LOCKED = "000001010000Z"  # the password policy's "locked until an administrator unlocks it"
FIRST_UID = 10000
FIRST_GID = 20000
UID = re.compile(r"^[a-z][a-z0-9._-]{0,30}[a-z0-9]$|^[a-z]$")
GROUP = re.compile(r"^[a-z][a-z0-9-]{0,31}$")

Entry = dict[str, list[str]]


class SyncError(Exception):
    pass


# --- LDIF -------------------------------------------------------------------------------------


def ldif_value(attr: str, value: str) -> str:
    """One attribute line; base64 where LDIF needs it (non-ASCII names such as Mäkinen)."""
    unsafe = (
        not value.isascii()
        or value[:1] in (" ", ":", "<")
        or value.endswith(" ")
        or any(ord(c) < 32 for c in value)
    )
    if unsafe:
        return f"{attr}:: {base64.b64encode(value.encode()).decode()}"
    return f"{attr}: {value}"


def parse_ldif(text: str) -> list[Entry]:
    """ldapsearch -LLL -o ldif-wrap=no output: entries with their attributes (lower-case names)."""
    entries: list[Entry] = []
    current: Entry = {}
    for line in [*text.splitlines(), ""]:
        if not line.strip():
            if current:
                entries.append(current)
            current = {}
            continue
        if line.startswith("#"):
            continue
        attr, _, rest = line.partition(":")
        if rest.startswith(":"):
            value = base64.b64decode(rest[1:].strip()).decode()
        else:
            value = rest.strip()
        current.setdefault(attr.lower(), []).append(value)
    return entries


def record(dn: str, changetype: str, lines: list[str]) -> str:
    return "\n".join([ldif_value("dn", dn), f"changetype: {changetype}", *lines]) + "\n"


def modify(dn: str, changes: list[tuple[str, str, list[str]]]) -> str:
    """changes: (add|replace|delete, attribute, values); replace with no values removes it."""
    lines: list[str] = []
    for op, attr, values in changes:
        lines.append(f"{op}: {attr}")
        lines.extend(ldif_value(attr, v) for v in values)
        lines.append("-")
    return record(dn, "modify", lines)


# --- planning (pure: unit-tested without a directory) ----------------------------------------


@dataclass
class Plan:
    changes: list[str] = field(default_factory=list)  # LDIF change records, in order
    new_accounts: list[str] = field(default_factory=list)  # need a first password
    summary: dict[str, list[str]] = field(
        default_factory=lambda: {
            k: [] for k in ("created", "renamed", "disabled", "enabled", "groups", "conflicts")
        }
    )


def check_request(request: Any) -> list[dict[str, Any]]:
    """The accounts of a pushed request, checked again here: the host trusts nobody's JSON."""
    if not isinstance(request, dict) or not isinstance(request.get("accounts"), list):
        raise SyncError('the request must be {"accounts": [...]}')
    seen: set[str] = set()
    accounts = []
    for item in request["accounts"]:
        if not isinstance(item, dict):
            raise SyncError(f"not an account: {item!r}")
        uid, name, groups = item.get("uid"), item.get("name"), item.get("groups", [])
        if not isinstance(uid, str) or not UID.match(uid) or uid in seen:
            raise SyncError(f"bad or repeated uid: {uid!r}")
        seen.add(uid)
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            raise SyncError(f"bad name for {uid}")
        if any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in name):
            raise SyncError(f"control character in the name of {uid}")
        if not isinstance(groups, list) or not all(
            isinstance(g, str) and GROUP.match(g) for g in groups
        ):
            raise SyncError(f"bad groups for {uid}")
        accounts.append({"uid": uid, "name": name.strip(), "groups": sorted(set(groups))})
    return accounts


def _names(name: str) -> list[tuple[str, str, list[str]]]:
    parts = name.split()
    given = parts[:-1]
    changes = [("replace", "cn", [name]), ("replace", "sn", [parts[-1]])]
    changes.append(("replace", "displayName", [name]))
    changes.append(("replace", "givenName", [" ".join(given)] if given else []))
    return changes


def _first(entry: Entry, attr: str, default: str = "") -> str:
    return (entry.get(attr.lower()) or [default])[0]


def plan(
    accounts: list[dict[str, Any]],
    people: list[Entry],
    groups: list[Entry],
    base_dn: str,
    domain: str,
) -> Plan:
    """What to change so the directory holds `accounts`: nothing is ever deleted."""
    out = Plan()
    ihmiset, ryhmat = f"ou=ihmiset,{base_dn}", f"ou=ryhmat,{base_dn}"
    by_uid = {_first(e, "uid"): e for e in people if _first(e, "uid")}
    managed = {u for u, e in by_uid.items() if MARKER in e.get("description", [])}
    wanted = {a["uid"]: a for a in accounts}
    next_uid = max([FIRST_UID - 1, *(int(_first(e, "uidNumber", "0")) for e in people)]) + 1
    for uid, account in wanted.items():
        dn = f"uid={uid},{ihmiset}"
        entry = by_uid.get(uid)
        if entry is not None and uid not in managed:
            out.summary["conflicts"].append(uid)  # made by hand: not ours to change
            continue
        if entry is None:
            parts = account["name"].split()
            lines = [
                "objectClass: inetOrgPerson",
                "objectClass: posixAccount",
                "objectClass: shadowAccount",
                f"uid: {uid}",
                ldif_value("cn", account["name"]),
                ldif_value("sn", parts[-1]),
                ldif_value("displayName", account["name"]),
                *([ldif_value("givenName", " ".join(parts[:-1]))] if parts[:-1] else []),
                f"mail: {uid}@{domain}",
                f"uidNumber: {next_uid}",
                f"gidNumber: {next_uid}",
                f"homeDirectory: /home/{uid}",
                "loginShell: /usr/sbin/nologin",
                f"description: {MARKER}",
            ]
            out.changes.append(record(dn, "add", lines))
            out.new_accounts.append(uid)
            out.summary["created"].append(uid)
            next_uid += 1
            continue
        changes: list[tuple[str, str, list[str]]] = []
        if _first(entry, "cn") != account["name"]:
            changes += _names(account["name"])
            out.summary["renamed"].append(uid)
        if "pwdaccountlockedtime" in entry:
            changes.append(("delete", "pwdAccountLockedTime", []))
            if "shadowexpire" in entry:
                changes.append(("delete", "shadowExpire", []))
            out.summary["enabled"].append(uid)
        if changes:
            out.changes.append(modify(dn, changes))
    for uid in sorted(managed - set(wanted)):
        entry = by_uid[uid]
        if "pwdaccountlockedtime" not in entry:
            dn = f"uid={uid},{ihmiset}"
            lock = [("replace", "pwdAccountLockedTime", [LOCKED])]
            out.changes.append(modify(dn, [*lock, ("replace", "shadowExpire", ["1"])]))
            out.summary["disabled"].append(uid)
    # Groups: the members the request gives them; disabled accounts are in none.
    members: dict[str, list[str]] = {}
    for account in accounts:
        if account["uid"] in out.summary["conflicts"]:
            continue
        for group in account["groups"]:
            members.setdefault(group, []).append(account["uid"])
    by_cn = {_first(e, "cn"): e for e in groups if _first(e, "cn")}
    next_gid = max([FIRST_GID - 1, *(int(_first(e, "gidNumber", "0")) for e in groups)]) + 1
    ours = {c for c, e in by_cn.items() if MARKER in e.get("description", [])}
    for cn in sorted(set(members) | ours):
        want = sorted(members.get(cn, []))
        dn = f"cn={cn},{ryhmat}"
        entry = by_cn.get(cn)
        if entry is None:
            lines = ["objectClass: posixGroup", f"cn: {cn}", f"gidNumber: {next_gid}",
                     f"description: {MARKER}", *(f"memberUid: {u}" for u in want)]  # fmt: skip
            out.changes.append(record(dn, "add", lines))
            out.summary["groups"].append(cn)
            next_gid += 1
        elif MARKER not in entry.get("description", []):
            out.summary["conflicts"].append(f"group {cn}")
        elif sorted(entry.get("memberuid", [])) != want:
            out.changes.append(modify(dn, [("replace", "memberUid", want)]))
            out.summary["groups"].append(cn)
    return out


# --- the directory ----------------------------------------------------------------------------


def load_config() -> dict[str, str]:
    return json.loads(CONFIG.read_text())


def _auth(cfg: dict[str, str]) -> list[str]:
    return ["-x", "-H", "ldapi:///", "-D", cfg["admin_dn"], "-y", cfg["secret"]]


def ldap(cfg: dict[str, str], tool: str, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [tool, *_auth(cfg), *args], input=stdin, capture_output=True, text=True, check=False
    )
    if done.returncode not in (0, 32):  # 32: no such object (an empty OU)
        raise SyncError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def search(cfg: dict[str, str], base: str, *attrs: str) -> list[Entry]:
    out = ldap(cfg, "ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-b", base, "-s", "one",
               "(objectClass=*)", *attrs)  # fmt: skip
    return parse_ldif(out)


PERSON_ATTRS = ("uid", "cn", "description", "uidNumber", "pwdAccountLockedTime", "shadowExpire",
                "pwdReset")  # fmt: skip
GROUP_ATTRS = ("cn", "description", "gidNumber", "memberUid")


def set_first_password(cfg: dict[str, str], uid: str) -> None:
    FIRST_PASSWORDS.mkdir(mode=0o700, parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    path = FIRST_PASSWORDS / uid
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(password)
    dn = f"uid={uid},ou=ihmiset,{cfg['base_dn']}"
    # From a file, not the command line: nothing in ps shows it. slapd hashes it.
    ldap(cfg, "ldappasswd", "-T", str(path), dn)
    # The policy marks a password an administrator set as one to change at the first login
    # (pwdMustChange); say so explicitly in case the policy did not.
    ldap(cfg, "ldapmodify", stdin=modify(dn, [("replace", "pwdReset", ["TRUE"])]))


def sync(cfg: dict[str, str], request: Any) -> dict[str, list[str]]:
    accounts = check_request(request)
    people = search(cfg, f"ou=ihmiset,{cfg['base_dn']}", *PERSON_ATTRS)
    groups = search(cfg, f"ou=ryhmat,{cfg['base_dn']}", *GROUP_ATTRS)
    todo = plan(accounts, people, groups, cfg["base_dn"], cfg["domain"])
    if todo.changes:
        ldap(cfg, "ldapmodify", stdin="\n".join(todo.changes))
    for uid in todo.new_accounts:
        set_first_password(cfg, uid)
    return todo.summary


def listing(cfg: dict[str, str]) -> dict[str, Any]:
    people = search(cfg, f"ou=ihmiset,{cfg['base_dn']}", *PERSON_ATTRS)
    groups = search(cfg, f"ou=ryhmat,{cfg['base_dn']}", *GROUP_ATTRS)
    out: dict[str, Any] = {}
    for e in people:
        if MARKER not in e.get("description", []):
            continue
        uid = _first(e, "uid")
        state = "active"
        if "pwdaccountlockedtime" in e:
            state = "disabled"
        elif _first(e, "pwdReset").upper() == "TRUE":
            state = "first-login"
        in_groups = sorted(_first(g, "cn") for g in groups if uid in g.get("memberuid", []))
        out[uid] = {"name": _first(e, "cn"), "state": state, "groups": in_groups}
    return out


def main(argv: list[str]) -> int:
    try:
        cfg = load_config()
        if argv[:1] == ["sync"] and len(argv) == 1:
            summary = sync(cfg, json.load(sys.stdin))
            print(json.dumps(summary, sort_keys=True))
            return 1 if summary["conflicts"] else 0
        if argv[:1] == ["list"] and len(argv) == 1:
            print(json.dumps(listing(cfg), sort_keys=True, ensure_ascii=False))
            return 0
        if argv[:1] == ["first-password"] and len(argv) == 2:
            state = listing(cfg).get(argv[1], {}).get("state")
            if state != "first-login":
                print(f"{argv[1]}: no one-time password (account {state or 'unknown'})",
                      file=sys.stderr)  # fmt: skip
                return 1
            print((FIRST_PASSWORDS / argv[1]).read_text())
            return 0
    except (SyncError, json.JSONDecodeError, OSError) as exc:
        print(f"kuntapilvi-accounts: {exc}", file=sys.stderr)
        return 2
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
