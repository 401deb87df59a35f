"""The YAML loader refuses hostile files with their line, within its stated limits, fast."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from kuntapilvi import yamlsource
from kuntapilvi.project import ProjectPaths
from kuntapilvi.validate import validate
from kuntapilvi.yamlsource import YamlError, load, parse

BOMB = "".join(
    f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9 if prev else ['"lol"'] * 9) + "]\n"
    for prev, name in zip([None, "a", "b", "c", "d", "e", "f", "g"], "abcdefgh", strict=False)
)


def refused(text: str) -> YamlError:
    with pytest.raises(YamlError) as caught:
        parse(text, "f.yaml")
    assert caught.value.line is not None and caught.value.line >= 1
    return caught.value


@pytest.mark.parametrize("text", ["? [a, b]\n: 1\n", "{[a]: 1}\n", "? {a: 1}\n: 2\n"])
def test_a_list_or_mapping_as_key(text: str) -> None:
    assert "key must be plain text" in refused(text).message


@pytest.mark.parametrize("depth", [65, 990, 100_000])
def test_deep_nesting(depth: int) -> None:
    error = refused("[" * depth + "]" * depth)
    assert "nest" in error.message


def test_nesting_at_the_limit_is_fine() -> None:
    parse("[" * 64 + "]" * 64, "f.yaml")


def test_alias_bomb_is_refused_fast() -> None:
    assert len(BOMB) < 1024
    started = time.perf_counter()
    error = refused(BOMB)
    assert "aliases" in error.message
    assert time.perf_counter() - started < 5


def test_alias_amplification_is_refused() -> None:
    # ~700 bytes that expand to 10^6 values: 1000 aliases of a 1000-item list.
    text = "a: &a [" + ",".join(["1"] * 300) + "]\nb: [" + ",".join(["*a"] * 120) + "]\n"
    assert "aliases" in refused(text).message


def test_a_few_aliases_are_fine() -> None:
    assert parse("a: &a [1, 2]\nb: *a\n", "f.yaml").data == {"a": [1, 2], "b": [1, 2]}


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x80", "\x9f"])
def test_control_characters_name_their_line(char: str) -> None:
    error = refused(f"a: 1\nb: x{char}y\n")
    assert error.line == 2 and f"U+{ord(char):04X}" in error.message


def test_non_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_bytes(b"a: 1\nb: 2\nc: caf\xe9\n")
    with pytest.raises(YamlError) as caught:
        load(path, "f.yaml")
    assert caught.value.line == 3 and "UTF-8" in caught.value.message


def test_file_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsource, "MAX_BYTES", 100)
    path = tmp_path / "f.yaml"
    path.write_text("a: " + "x" * 200 + "\n")
    with pytest.raises(YamlError, match="limit"):
        load(path, "f.yaml")


def test_symlink_out_of_the_project_is_not_read(project: ProjectPaths, tmp_path: Path) -> None:
    secret = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    secret.write_text("config:\n  kuntapilvi:tenant: {owner: SALAISUUS}\n")
    link = project.stacks / "Pulumi.vieras.yaml"
    link.symlink_to(secret)
    report = validate(project)
    [finding] = [f for f in report.errors if f.file == "stacks/Pulumi.vieras.yaml"]
    assert "outside the project" in finding.message
    assert "SALAISUUS" not in "\n".join(f.render() for f in report.findings)


def test_symlink_to_dev_zero_is_not_read(project: ProjectPaths) -> None:
    (project.stacks / "Pulumi.nolla.yaml").symlink_to("/dev/zero")
    report = validate(project)
    assert any(f.file == "stacks/Pulumi.nolla.yaml" for f in report.errors)


def test_symlink_inside_the_project_is_followed(project: ProjectPaths) -> None:
    (project.stacks / "Pulumi.kopio.yaml").symlink_to(project.stacks / "Pulumi.espoo.yaml")
    report = validate(project, ["kopio"])
    # Read like any file: its only errors are those of a second espoo (overlap, owner's stack).
    assert not any("symbolic link" in f.message for f in report.findings)


def test_fifo_named_like_a_stack_does_not_hang(project: ProjectPaths) -> None:
    os.mkfifo(project.stacks / "Pulumi.putki.yaml")
    started = time.perf_counter()
    report = validate(project)
    assert time.perf_counter() - started < 30
    [finding] = [f for f in report.errors if f.file == "stacks/Pulumi.putki.yaml"]
    assert "not a regular file" in finding.message


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_a_document_or_a_yaml_error(text: str) -> None:
    try:
        parse(text, "f.yaml")
    except YamlError as exc:
        assert exc.message


plain = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=6), st.integers()), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(plain, st.booleans())
def test_fast_builder_agrees_with_pyyaml(data: object, flow: bool) -> None:
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    try:
        doc = parse(text, "f.yaml")
    except YamlError:
        return  # control characters in generated text are refused by design
    loader = yamlsource._UniqueKeyLoader(text)
    try:
        reference = loader.construct_document(loader.get_single_node())
    finally:
        loader.dispose()
    assert doc.data == reference


def test_merge_keys_still_work() -> None:
    doc = parse("a: &a {x: 1}\nb:\n  <<: *a\n  y: 2\n", "f.yaml")
    assert doc.data == {"a": {"x": 1}, "b": {"x": 1, "y": 2}}
    assert doc.lines[("b", "y")] == 4
