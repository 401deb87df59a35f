"""Random documents never make validation raise: every mistake becomes a finding."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate

REPO = Path(__file__).resolve().parents[2]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(
        ["capacity.quota", "office.print", "10.64.0.0/19", "fi-kuo-1", "espoo", "XL", "2027-01-01"]
    ),
)
keys = st.one_of(
    st.text(min_size=1, max_size=12),
    st.sampled_from(
        [
            "config",
            "kuntapilvi:tenant",
            "owner",
            "region",
            "address_block",
            "services",
            "card",
            "size",
            "params",
            "start",
            "name",
            "id",
            "family",
            "sizes",
            "pricing",
            "parameters",
        ]
    ),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)


def _fresh(tmp: Path) -> ProjectPaths:
    """One copy per test function; each example only adds or overwrites fuzz files in it."""
    root = tmp / "p"
    if not root.exists():
        for name in ("catalog", "stacks", "templates"):
            shutil.copytree(REPO / name, root / name)
        shutil.copy(REPO / "Pulumi.yaml", root / "Pulumi.yaml")
    return ProjectPaths(root)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=documents)
def test_random_stack_document_never_raises(tmp_path: Path, doc: object) -> None:
    paths = _fresh(tmp_path)
    text = yaml.safe_dump({"config": {"kuntapilvi:tenant": doc}}, allow_unicode=True)
    (paths.stacks / "Pulumi.fuzz.yaml").write_text(text, encoding="utf-8")
    report = validate(paths)
    for finding in report.findings:
        assert finding.file and finding.fix


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=documents)
def test_random_card_document_never_raises(tmp_path: Path, doc: object) -> None:
    paths = _fresh(tmp_path)
    text = yaml.safe_dump(doc, allow_unicode=True)
    (paths.cards / "office" / "fuzz.yaml").write_text(text, encoding="utf-8")
    validate(paths)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=200))
def test_random_text_never_raises(tmp_path: Path, text: str) -> None:
    paths = _fresh(tmp_path)
    owners = paths.catalog / "owners.yaml"
    original = (REPO / "catalog" / "owners.yaml").read_text(encoding="utf-8")
    (paths.stacks / "Pulumi.fuzz.yaml").write_text(text, encoding="utf-8")
    owners.write_text(text, encoding="utf-8")
    try:
        report = validate(paths)
    finally:
        owners.write_text(original, encoding="utf-8")
    assert all(f.fix for f in report.findings)
