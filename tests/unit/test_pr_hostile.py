"""The pull-request gate for every change a tenant makes, and a comment no tenant text escapes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kuntapilvi.codeowners import render as render_codeowners
from kuntapilvi.prcheck import check
from kuntapilvi.prcomment import MARKER, MAX_CHARS, render, text
from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate
from tests.unit.test_pr import TODAY, change, git, repo  # noqa: F401 - the repo fixture

COMMIT = ("-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "change")


def commit_all(root: Path) -> None:
    git(root, "add", "-A")
    git(root, *COMMIT)


def new_stack(root: Path, name: str, owner: str, block: str) -> None:
    text = (root / "stacks/Pulumi.kainuunliitto.yaml").read_text()
    (root / f"stacks/Pulumi.{name}.yaml").write_text(
        text.replace("owner: kainuunliitto", f"owner: {owner}").replace("10.72.8.0/21", block)
    )


def regenerate_codeowners(root: Path) -> None:
    (root / "CODEOWNERS").write_text(render_codeowners(validate(ProjectPaths(root)).model))


def test_overlapping_new_stack_fails_cleanly_with_a_comment(repo: Path) -> None:  # noqa: F811
    new_stack(repo, "kuntapilvi", "kuntapilvi", "10.72.12.0/22")  # inside kainuunliitto's block
    regenerate_codeowners(repo)
    commit_all(repo)
    result = check(repo, "main", TODAY)
    assert not result.ok
    assert any(
        f.code == "address.overlap" and f.file == "stacks/Pulumi.kuntapilvi.yaml"
        for f in result.errors
    )
    [diff] = result.diffs
    assert diff.invalid
    text = render(result)
    assert text.startswith(MARKER) and "overlaps" in text


def test_new_tenants_first_pull_request_passes(repo: Path) -> None:  # noqa: F811
    new_stack(repo, "uusikunta", "kajaani", "10.72.16.0/21")
    regenerate_codeowners(repo)
    commit_all(repo)
    result = check(repo, "main", TODAY)
    assert result.ok, [f.render() for f in result.errors]
    assert result.scope.kind == "tenant"
    assert "@kajaani/it" in result.approvers


def test_codeowners_edited_by_hand_with_a_stack_is_refused(repo: Path) -> None:  # noqa: F811
    new_stack(repo, "uusikunta", "kajaani", "10.72.16.0/21")
    regenerate_codeowners(repo)
    with (repo / "CODEOWNERS").open("a") as handle:
        handle.write("/catalog/ @kuntapilvi/yllapito\n")
    commit_all(repo)
    result = check(repo, "main", TODAY)
    assert any(f.code == "pr.codeowners-stale" for f in result.errors)


def test_deleting_a_stack_says_what_it_does_and_asks_its_owner(repo: Path) -> None:  # noqa: F811
    git(repo, "rm", "-q", "stacks/Pulumi.kajaani.yaml")
    regenerate_codeowners(repo)
    commit_all(repo)
    result = check(repo, "main", TODAY)
    assert [f.code for f in result.errors] == ["pr.stack-deleted"]
    assert "@kajaani/it" in result.approvers


def test_renaming_a_stack_is_not_hidden(repo: Path) -> None:  # noqa: F811
    git(repo, "mv", "stacks/Pulumi.lahti.yaml", "stacks/Pulumi.lahti2.yaml")
    regenerate_codeowners(repo)
    commit_all(repo)
    result = check(repo, "main", TODAY)
    codes = [f.code for f in result.errors]
    assert "pr.stack-renamed" in codes and "pr.cross-tenant" not in codes
    assert "@lahti/digi" in result.approvers


def test_owner_change_asks_both_owners(repo: Path) -> None:  # noqa: F811
    path = repo / "stacks/Pulumi.kainuunliitto.yaml"
    path.write_text(path.read_text().replace("owner: kainuunliitto", "owner: kajaani"))
    regenerate_codeowners(repo)
    commit_all(repo)
    result = check(repo, "main", TODAY)
    assert any(f.code == "pr.owner-changed" for f in result.findings)
    assert {"@kainuunliitto/tietohallinto", "@kajaani/it"} <= set(result.approvers)


HOSTILE = (
    "<img src=x onerror=alert(1)> [klikkaa](https://evil.example) @octocat "
    f"{MARKER} </details> www.evil.example"
)


def test_comment_escapes_tenant_text(repo: Path) -> None:  # noqa: F811
    change(repo, "stacks/Pulumi.lahti.yaml", "share_name: yhteiset", f"share_name: '{HOSTILE}'")
    text = render(check(repo, "main", TODAY))
    assert text.count(MARKER) == 1
    assert "<img" not in text and "</details> www" not in text
    assert "](https://" not in text and "https://evil" not in text
    assert not re.search(r"@octocat", text)
    assert "www.evil" not in text


def test_comment_is_capped_with_a_note(repo: Path) -> None:  # noqa: F811
    path = repo / "stacks/Pulumi.lahti.yaml"
    text = path.read_text()
    many = "".join(
        f"      - card: capacity.block-storage\n        name: b{i}\n"
        f"        params: {{size_gb: '{'a' * 2000}'}}\n"
        for i in range(400)
    )
    path.write_text(text + many)
    subprocess.run(["git", "-C", str(repo), *COMMIT[:4], "commit", "-qam", "x"], check=True)
    comment = render(check(repo, "main", TODAY))
    assert len(comment) <= MAX_CHARS < 65_536
    assert "katkaistiin" in comment
    assert comment.count("<details>") == comment.count("</details>")


def test_new_service_starting_in_the_past_is_said(repo: Path) -> None:  # noqa: F811
    change(
        repo,
        "stacks/Pulumi.lahti.yaml",
        "      - card: office.print\n",
        '      - card: office.print\n      - card: office.time\n        start: "2020-01-01"\n',
    )
    result = check(repo, "main", TODAY)
    [warning] = [f for f in result.findings if f.code == "pr.start-in-past"]
    assert warning.line and "2020-01-01" in warning.message


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_tenant_text_is_inert_in_the_comment(value: str) -> None:
    shown = text(value)
    assert "\n" not in shown and "<" not in shown and ">" not in shown
    assert not re.search(r"@\w", shown), "a mention survived"
    assert not re.search(r"(?<!\\)\[", shown) and not re.search(r"(?<!\\)\]\(", shown)
    assert "://" not in shown and not re.search(r"(?i)\bwww\.", shown)
    assert MARKER not in shown
