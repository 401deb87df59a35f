"""`kuntapilvi cloud guard|record`: a stack's state belongs to the cloud it was made in.

A stack's state lists resources by their cloud ids. Point the same state at another cloud (a
devcloud that was reset, another region's endpoint) and Pulumi believes in resources that are not
there: `up` says "no changes" for what vanished, and updates fail on 404s. So every `up` that
succeeds records the cloud's identity on the stack (a stack tag), and `guard` compares it before
the next run:

- the embedded devcloud: its identity is a random id made with its state folder, so a reset gives
  a new one; a stack made in an earlier devcloud is started afresh (`pulumi stack rm`, keeping the
  stack's config file), with one line saying why;
- a real cloud: its identity is its Keystone URL; nothing is ever deleted automatically, and a
  mismatch is an error that says what differs and how to recover.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Annotated

import typer

from kuntapilvi.cli.common import boundary, err, out
from kuntapilvi.cloud import clouds_yaml_auth
from kuntapilvi.errors import KuntapilviError
from kuntapilvi.settings import Settings

app = typer.Typer(help="Check that stacks' state belongs to the cloud they are run against.",
                  no_args_is_help=True)

TAG = "kuntapilvi:cloud"
EXIT_MISMATCH = 1


@dataclass(frozen=True)
class CloudIdentity:
    kind: str  # "devcloud" or "openstack"
    ident: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.ident}"

    @classmethod
    def parse(cls, text: str) -> CloudIdentity:
        kind, _, ident = text.partition(":")
        return cls(kind, ident)


def current_identity(settings: Settings) -> CloudIdentity:
    """The cloud the program's provider points at (kuntapilvi.cloud.provider_args): devcloud when
    OS_CLOUD names devcloud's own clouds.yaml entry, else the Keystone URL of whatever it names."""
    from kuntapilvi.devcloud import identity
    from kuntapilvi.devcloud.paths import Paths

    os_env = settings.openstack
    paths = Paths.default()
    config_file = os_env.client_config_file
    if os_env.cloud == "devcloud" and config_file is not None and (
        config_file.absolute() == paths.clouds_yaml.absolute()
    ):
        ident = identity.read(paths)
        if ident is None:
            raise KuntapilviError(
                f"devcloud in {paths.state} has no identity yet (it was never started); run "
                "`kuntapilvi devcloud up` first."
            )
        return CloudIdentity("devcloud", ident)
    if not os_env.configured:
        raise KuntapilviError(
            "no cloud is selected: set OS_CLOUD (or OS_AUTH_URL and the other OS_* variables); "
            'for devcloud: eval "$(kuntapilvi devcloud env)".'
        )
    auth_url = clouds_yaml_auth(os_env)["auth_url"] if os_env.cloud else os_env.auth_url
    return CloudIdentity("openstack", auth_url.rstrip("/"))


def _pulumi(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["pulumi", *args, "--non-interactive"], capture_output=True, text=True, timeout=300,
            check=False,
        )  # fmt: skip
    except FileNotFoundError:
        raise KuntapilviError(
            "pulumi is not on PATH; run `. scripts/env.sh` (after scripts/install-engine) first."
        ) from None


def _stack_exists(stack: str) -> bool:
    done = _pulumi("stack", "ls", "--json")
    if done.returncode != 0:
        raise KuntapilviError(f"`pulumi stack ls` failed: {done.stderr.strip()}")
    return any(s.get("name") in (stack, f"organization/kuntapilvi/{stack}")
               for s in json.loads(done.stdout or "[]"))


def recorded_identity(stack: str) -> CloudIdentity | None:
    done = _pulumi("stack", "tag", "get", TAG, "--stack", stack)
    if done.returncode != 0 or not done.stdout.strip():
        return None
    return CloudIdentity.parse(done.stdout.strip())


@app.command("guard")
@boundary
def guard_command(
    stacks: Annotated[list[str], typer.Argument(help="Stacks about to be run.")],
) -> None:
    """Before `pulumi up`: refuse (a real cloud) or start afresh (devcloud) every stack whose state
    was made in another cloud than the current one."""
    now = current_identity(Settings.from_env())
    for stack in stacks:
        if not _stack_exists(stack):
            continue
        then = recorded_identity(stack)
        if then is None or then == now:
            # A stack without a record predates the guard or never finished an `up`: nothing
            # to compare, and `record` after the next `up` starts the bookkeeping.
            continue
        if now.kind == "devcloud" and then.kind == "devcloud":
            out.print(
                f"{stack}: its state was made in an earlier devcloud ({then.ident[:8]}), not in "
                f"this one ({now.ident[:8]}, after a reset); starting the stack afresh.",
                markup=False,
            )
            done = _pulumi("stack", "rm", stack, "--force", "--yes", "--preserve-config")
            if done.returncode != 0:
                raise KuntapilviError(f"`pulumi stack rm {stack}` failed: {done.stderr.strip()}")
            continue
        err.print(
            f"{stack}: its state was made in {then}, but the provider now points at {now}. "
            "Nothing was changed. If the stack really moved, run `pulumi refresh --stack "
            f"{stack}` against the new cloud and then `kuntapilvi cloud record {stack}`; if its "
            f"old cloud is gone for good, `pulumi stack rm {stack} --force --preserve-config` "
            "forgets it (the resources, if any still exist, are not deleted).",
            markup=False,
        )
        raise typer.Exit(EXIT_MISMATCH)


@app.command("record")
@boundary
def record_command(
    stacks: Annotated[list[str], typer.Argument(help="Stacks just applied.")],
) -> None:
    """After a successful `pulumi up`: record the current cloud on each stack."""
    now = current_identity(Settings.from_env())
    for stack in stacks:
        done = _pulumi("stack", "tag", "set", TAG, str(now), "--stack", stack)
        if done.returncode != 0:
            raise KuntapilviError(
                f"recording the cloud on stack {stack} failed: {done.stderr.strip()}"
            )


@app.command("id")
@boundary
def id_command() -> None:
    """Print the identity of the cloud the stacks are run against."""
    out.print(str(current_identity(Settings.from_env())), markup=False)

