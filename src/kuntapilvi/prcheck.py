"""What a pull request touches, whether that is allowed, and what it changes in resources and
euros — compared between the base revision and the change."""

from __future__ import annotations

import collections
import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from kuntapilvi import findings as fnd
from kuntapilvi.costs import tenant_costs, totals
from kuntapilvi.dryrun import dry_run
from kuntapilvi.errors import Finding, Severity
from kuntapilvi.project import ProjectPaths
from kuntapilvi.revisions import changed_files, checkout
from kuntapilvi.schema.stack import TENANT_KEY
from kuntapilvi.validate import Report, validate

# Changes owned by the catalogue editors rather than by a tenant or by code reviewers.
CATALOGUE_PREFIXES = ("catalog/", "templates/", "schemas/")
# CODEOWNERS is generated from the owner register and the stack files, so a tenant's pull request
# that adds, renames or re-owns its stack carries the regenerated file; the stale check makes sure
# it is exactly the generated one, so nobody can hand-edit approvals in with it.
CODEOWNERS_FILES = frozenset({"CODEOWNERS", ".github/CODEOWNERS"})
STACK_FILE = re.compile(r"^stacks/Pulumi\.(?P<name>[^./]+)\.yaml$")


@dataclass(slots=True)
class Scope:
    tenants: list[str] = field(default_factory=list)
    centre_stacks: list[str] = field(default_factory=list)
    catalogue: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    codeowners: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        if not (self.tenants or self.centre_stacks or self.catalogue or self.code):
            return "catalogue" if self.codeowners else "no-op"
        if self.code:
            return "code"
        if self.catalogue or self.centre_stacks:
            return "catalogue"
        return "tenant" if len(self.tenants) == 1 else "cross-tenant"


def classify(files: list[str]) -> Scope:
    scope = Scope()
    for f in files:
        match = STACK_FILE.match(f)
        if match:
            name = match.group("name")
            (scope.centre_stacks if name == "centre" else scope.tenants).append(name)
        elif f in CODEOWNERS_FILES:
            scope.codeowners.append(f)
        elif f.startswith(CATALOGUE_PREFIXES):
            scope.catalogue.append(f)
        else:
            scope.code.append(f)
    return scope


@dataclass(slots=True)
class TenantDiff:
    stack: str
    monthly_before: Decimal
    monthly_after: Decimal
    yearly_before: Decimal
    yearly_after: Decimal
    added: dict[str, int]
    removed: dict[str, int]
    services_added: list[str]
    services_removed: list[str]
    services_changed: list[str]
    invalid: bool = False
    """The change leaves this stack with errors: nothing can be planned for it."""

    @property
    def moves(self) -> bool:
        return (self.monthly_before, self.yearly_before) != (self.monthly_after, self.yearly_after)

    @property
    def resource_changes(self) -> bool:
        return bool(self.added or self.removed or self.services_changed)


@dataclass(slots=True)
class PrResult:
    scope: Scope
    findings: list[Finding]
    diffs: list[TenantDiff]
    users_of_withdrawn: dict[str, list[str]]
    approvers: list[str]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity is Severity.ERROR]

    @property
    def ok(self) -> bool:
        return not self.errors


def _costs(report: Report, stack: str) -> tuple[Decimal, Decimal]:
    tenant = report.model.tenants.get(stack)
    if tenant is None:
        return Decimal(0), Decimal(0)
    return totals(tenant_costs(tenant, report.model.price_list))


def _resources(
    paths: ProjectPaths, report: Report, stack: str, today: str | None
) -> collections.Counter[str]:
    if stack not in report.model.tenants or has_errors(report, stack):
        return collections.Counter()
    return collections.Counter(
        r.type.rsplit(":", 1)[-1]
        for r in dry_run(paths, stack, today).resources
        if r.type.startswith("openstack:") and "/" in r.type
    )


def has_errors(report: Report, stack: str) -> bool:
    """The stack's own file has errors in this revision (cross-stack ones such as an overlapping
    address block included): nothing can be planned for it."""
    found = report.model.tenant_stacks.get(stack)
    if found is None:
        return False
    return any(f.file == found.file for f in report.errors)


def _service_sig(report: Report, stack: str) -> dict[str, tuple[object, ...]]:
    tenant = report.model.tenants.get(stack)
    if tenant is None:
        return {}
    return {
        s.key: (s.card.version, s.size_name, tuple(sorted(map(str, s.params.items()))), s.start)
        for s in tenant.services
    }


def diff_tenant(
    stack: str,
    before: tuple[ProjectPaths, Report],
    after: tuple[ProjectPaths, Report],
    today: str | None,
) -> TenantDiff:
    if stack in after[1].model.tenant_stacks and (
        stack not in after[1].model.tenants or has_errors(after[1], stack)
    ):
        # The change leaves the stack invalid: show it as unplanned, not as everything removed.
        mb, yb = _costs(before[1], stack)
        return TenantDiff(stack, mb, mb, yb, yb, {}, {}, [], [], [], invalid=True)
    mb, yb = _costs(before[1], stack)
    ma, ya = _costs(after[1], stack)
    rb = _resources(*before, stack, today)
    ra = _resources(*after, stack, today)
    sb, sa = _service_sig(before[1], stack), _service_sig(after[1], stack)
    return TenantDiff(
        stack,
        mb,
        ma,
        yb,
        ya,
        added=dict(ra - rb),
        removed=dict(rb - ra),
        services_added=sorted(set(sa) - set(sb)),
        services_removed=sorted(set(sb) - set(sa)),
        services_changed=sorted(k for k in set(sa) & set(sb) if sa[k] != sb[k]),
    )


def check(root: Path, base: str, today: str | None = None) -> PrResult:
    files = changed_files(root, base)
    scope = classify(files)
    head_paths = ProjectPaths(root)
    head = validate(head_paths)
    findings: list[Finding] = []
    with checkout(root, base) as base_paths:
        before = validate(base_paths)
        findings += _stack_lifecycle_findings(scope, before, head)
        if scope.kind == "cross-tenant" and not _is_rename(scope, before, head):
            findings.append(
                Finding(
                    Severity.ERROR,
                    "pr.cross-tenant",
                    f"stacks/Pulumi.{scope.tenants[1]}.yaml",
                    None,
                    "",
                    f"this change touches the stack files of {', '.join(scope.tenants)}; "
                    "a tenant's pull request may change only its own stack file.",
                    "split it into one pull request per tenant",
                )
            )
        if scope.tenants and (scope.catalogue or scope.code or scope.centre_stacks):
            findings.append(
                Finding(
                    Severity.ERROR,
                    "pr.mixed",
                    f"stacks/Pulumi.{scope.tenants[0]}.yaml",
                    None,
                    "",
                    "this change mixes a tenant's stack file with catalogue or code changes.",
                    "send the tenant's request and the catalogue or code change as separate "
                    "pull requests (a regenerated CODEOWNERS may go with the stack file)",
                )
            )
        # A pull request answers for what it changes: findings in the files it touches, and
        # any finding elsewhere that the base did not have (e.g. a card change breaking a stack).
        known = {(f.code, f.file, f.message) for f in before.findings}
        findings += [
            f for f in head.findings if f.file in files or (f.code, f.file, f.message) not in known
        ]
        if scope.kind in ("tenant", "cross-tenant"):
            affected = sorted(set(scope.tenants))
        else:
            affected = sorted(set(before.model.tenants) | set(head.model.tenants))
        diffs = [diff_tenant(s, (base_paths, before), (head_paths, head), today) for s in affected]
    if scope.kind not in ("tenant", "cross-tenant"):
        diffs = [d for d in diffs if d.moves or d.resource_changes]
    withdrawn: dict[str, list[str]] = {}
    for card_id in set(before.model.cards) | set(head.model.cards):
        card = head.model.cards.get(card_id)
        if card is not None and card.status != "deprecated":
            continue
        old = before.model.cards.get(card_id)
        if card is not None and old is not None and old.status == card.status:
            continue  # withdrawn before this change: not news for this pull request
        users = sorted(t.stack for t in head.model.tenants.values() if t.by_card(card_id))
        users += sorted(
            t.stack
            for t in before.model.tenants.values()
            if card is None and t.by_card(card_id) and t.stack not in users
        )
        if users:
            withdrawn[card_id] = users
    findings += _past_starts(diffs, head, today)
    findings += _codeowners_findings(root, head)
    approvers = required_approvers(scope, head, before)
    return PrResult(scope, findings, diffs, withdrawn, approvers)


def _past_starts(diffs: list[TenantDiff], head: Report, today: str | None) -> list[Finding]:
    """A service this change adds with a start before today: it is built on merge all the
    same, and its set-up fee is charged as for a new service; said, not refused (a start on the
    first day of the month being merged is ordinary)."""
    day = dt.date.fromisoformat(today) if today else dt.date.today()
    out: list[Finding] = []
    for d in diffs:
        tenant = head.model.tenants.get(d.stack)
        if tenant is None:
            continue
        added = set(d.services_added)
        for service in tenant.services:
            if service.key in added and service.start is not None and service.start < day:
                out.append(
                    fnd.warning(
                        "pr.start-in-past",
                        head.model.tenant_stacks[d.stack].doc,
                        ("config", TENANT_KEY, "services", service.index, "start"),
                        f"'{service.key}' is new in this change but starts {service.start}, "
                        f"before today ({day}); it is built on merge and billed from the "
                        "merge with its set-up fee.",
                        "write the day the service should really start, or remove 'start:'",
                    )
                )
    return out


def _owner_of(report: Report, stack: str) -> str | None:
    found = report.model.tenant_stacks.get(stack)
    return found.request.owner if found is not None else None


def _is_rename(scope: Scope, before: Report, head: Report) -> bool:
    """Two stack files, one gone and one new, of the same owner: a rename, not two tenants."""
    if len(scope.tenants) != 2:
        return False
    gone = [
        s for s in scope.tenants if s in before.model.tenant_stacks and not _file_exists(head, s)
    ]
    new = [
        s for s in scope.tenants if s in head.model.tenant_stacks and not _file_exists(before, s)
    ]
    return (
        len(gone) == 1
        and len(new) == 1
        and _owner_of(before, gone[0]) == _owner_of(head, new[0])
    )


def _file_exists(report: Report, stack: str) -> bool:
    """The stack file is there, even when it failed to load (then it is not a deletion)."""
    from kuntapilvi.stacks import stack_path

    path = stack_path(report.model.catalogue.paths, stack)
    return path.exists() or path.is_symlink()


def _stack_lifecycle_findings(scope: Scope, before: Report, head: Report) -> list[Finding]:
    """What deleting, renaming or re-owning a stack file does, said for what it is."""
    out: list[Finding] = []
    renamed = _is_rename(scope, before, head)
    for stack in scope.tenants:
        file = f"stacks/Pulumi.{stack}.yaml"
        was, now = _owner_of(before, stack), _owner_of(head, stack)
        in_before = stack in before.model.tenant_stacks
        in_head = stack in head.model.tenant_stacks or _file_exists(head, stack)
        if renamed and in_before and not in_head:
            new = next(s for s in scope.tenants if s != stack)
            out.append(
                Finding(
                    Severity.ERROR,
                    "pr.stack-renamed",
                    file,
                    None,
                    "",
                    f"this change renames stack '{stack}' to '{new}': a stack's name is its "
                    f"identity in Pulumi, so the merge would build every resource anew under "
                    f"'{new}' and leave '{stack}' and its data running unmanaged.",
                    f"keep the file name Pulumi.{stack}.yaml; ask the centre to rename the stack "
                    "with 'pulumi stack rename' if the name must change",
                )
            )
        elif in_before and not in_head:
            out.append(
                Finding(
                    Severity.ERROR,
                    "pr.stack-deleted",
                    file,
                    None,
                    "",
                    f"this change deletes the stack file of '{stack}': the apply after merge has "
                    "no file to run, so nothing would be removed and the stack could no longer "
                    "be changed.",
                    "to end the tenant's services, set 'services: []' in the file (the merge "
                    "destroys them, data volumes are kept); the centre then removes the empty "
                    "stack",
                )
            )
        elif was is not None and now is not None and was != now:
            out.append(
                Finding(
                    Severity.WARNING,
                    "pr.owner-changed",
                    file,
                    None,
                    "",
                    f"this change moves stack '{stack}' from owner '{was}' to '{now}': '{now}' "
                    "is billed for it from the merge on.",
                    f"both owners' contacts approve it ('{was}' hands over, '{now}' takes over)",
                )
            )
    return out


def required_approvers(scope: Scope, report: Report, before: Report | None = None) -> list[str]:
    """Who approves: for every stack the change touches, the contacts of its owner in the base
    revision and in the change (a deletion or an owner change names the old owner too), and
    the account managers; the catalogue editors for catalogue, centre and code changes."""
    model = report.model
    if model.catalogue.centre is None:
        return []
    who: list[str] = []
    for stack in scope.tenants:
        # Read the owner from the request itself: an invalid stack still has its tenant's contacts.
        for revision in (before, report):
            if revision is None or revision.model.owners is None:
                continue
            request = revision.model.tenant_stacks.get(stack)
            owner = revision.model.owners.owner(request.request.owner) if request else None
            if owner is not None:
                who += owner.contacts
        who += model.centre.account_managers
    if scope.catalogue or scope.centre_stacks or scope.code:
        who += model.centre.catalogue_editors
    if scope.codeowners and not scope.tenants:
        who += model.centre.catalogue_editors
    return list(dict.fromkeys(who))


def _codeowners_findings(root: Path, head: Report) -> list[Finding]:
    from kuntapilvi.codeowners import render as render_codeowners
    from kuntapilvi.yamlsource import YamlError, read_text

    if not head.model.catalogue.complete:
        return []
    path = root / "CODEOWNERS"
    try:
        current = read_text(path, "CODEOWNERS", root) if path.exists() or path.is_symlink() else ""
    except YamlError as exc:
        return [
            Finding(
                Severity.ERROR,
                "pr.codeowners-unreadable",
                "CODEOWNERS",
                exc.line,
                "",
                exc.message + ".",
                "run 'kuntapilvi pr codeowners' to write it anew and commit the result",
            )
        ]
    if current == render_codeowners(head.model):
        return []
    return [
        Finding(
            Severity.ERROR,
            "pr.codeowners-stale",
            "CODEOWNERS",
            None,
            "",
            "CODEOWNERS does not match the owner register and the stack files.",
            "run 'kuntapilvi pr codeowners' and commit the result (it may go in the same pull "
            "request as your stack file)",
        )
    ]
