"""YAML from untrusted hands: no anchors or aliases, capped size, depth and documents; the CLI
reads Experiments the same way."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import yaml

from katib_llm.core import safeyaml


def alias_bomb(levels: int = 8) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_plain_manifests_load_as_with_safe_load():
    text = "a: [1, {b: c}]\nd: '2024-01-01'\ne: 1e-5\n"
    assert safeyaml.load(text) == yaml.safe_load(text)
    assert safeyaml.load_all("a: 1\n---\nb: 2\n") == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize("text,needle", [
    (alias_bomb(), "anchors"),
    ("a: &x 1\nb: *x\n", "anchors"),
    ("a: !!binary aGk=\nb: &y [1]\n", "anchors"),
    ("[" * 200 + "]" * 200, "nested deeper"),
    ("a: " + "x" * (safeyaml.MAX_BYTES + 1), "the limit is"),
])
def test_refused_documents_fail_fast_with_a_clear_message(text, needle):
    start = time.perf_counter()
    with pytest.raises(safeyaml.UnsafeYAMLError, match=needle):
        safeyaml.load(text)
    assert time.perf_counter() - start < 1.0


def test_an_alias_without_anchor_is_refused_too():
    with pytest.raises(yaml.YAMLError):
        safeyaml.load("a: *nowhere\n")


def test_too_many_documents():
    with pytest.raises(safeyaml.UnsafeYAMLError, match="more than 3"):
        safeyaml.load_all("a: 1\n---\n" * 5, max_documents=3)


def test_mutate_cli_refuses_an_alias_bomb(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb() + "kind: Experiment\n")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "katib_llm.cli", "mutate", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "anchors" in result.stderr and "Traceback" not in result.stderr
    assert time.perf_counter() - start < 30
