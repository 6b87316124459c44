"""The tokenized dataset shared by an Experiment's trials (katib_llm.runtime.tokenized), with the
trainer's own preparation on a real tokenizer and dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from katib_llm.runtime import tokenized
from katib_llm.runtime.trainer import _tokenized, read_inputs


def _inputs(model: Path, data: Path, tmp_path: Path, **dataset_config):
    env = {"KATIB_LLM_MODEL_DIR": str(model), "KATIB_LLM_DATASET_DIR": str(data),
           "KATIB_LLM_OUTPUT_DIR": str(tmp_path / "out"), "KATIB_LLM_DATASET_CONFIG": json.dumps(dataset_config)}
    return read_inputs([], env)


@pytest.fixture
def tokenizer(tiny_bert):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_bert))


def _rows(prepared) -> tuple[list, list, int]:
    train, evaluation, labels = prepared
    return train.to_list(), evaluation.to_list(), labels


def _entries(cache: Path) -> list[Path]:
    return sorted(p for p in cache.iterdir() if not p.name.startswith("."))


def test_built_once_then_loaded_and_a_changed_preprocessing_key_is_a_new_entry(
        tiny_bert, sentiment_dir, tokenizer, tmp_path, monkeypatch, capsys):
    cache = tmp_path / "cache"
    monkeypatch.setenv(tokenized.ENV_DIR, str(cache))
    inputs = _inputs(tiny_bert, sentiment_dir, tmp_path)
    first = _rows(_tokenized(inputs, False, tokenizer))
    assert "tokenized dataset" not in capsys.readouterr().err            # built: nothing to say
    assert _rows(_tokenized(inputs, False, tokenizer)) == first
    assert "tokenized dataset loaded" in capsys.readouterr().err
    assert len(_entries(cache)) == 1 and len(first[2]) == 2 and len(first[0]) > len(first[1]) > 0

    shorter = _inputs(tiny_bert, sentiment_dir, tmp_path, max_length=6)  # changed preprocessing
    other = _rows(_tokenized(shorter, False, tokenizer))
    assert "loaded" not in capsys.readouterr().err
    assert len(_entries(cache)) == 2
    assert max(len(r["input_ids"]) for r in other[0]) <= 6 < max(len(r["input_ids"]) for r in first[0])


def test_changed_data_or_tokenizer_files_are_new_entries(tiny_bert, sentiment_dir, tmp_path):
    base = tokenized.cache_key(tiny_bert, sentiment_dir, None, None, {"max_length": 8}, "A")
    data = tmp_path / "data"
    data.mkdir()
    for f in sentiment_dir.iterdir():
        (data / f.name).write_bytes(f.read_bytes())
    assert tokenized.cache_key(tiny_bert, data, None, None, {"max_length": 8}, "A") == base  # same content
    with open(next(data.iterdir()), "ab") as fh:
        fh.write(b'{"text": "one more", "label": 1}\n')
    assert tokenized.cache_key(tiny_bert, data, None, None, {"max_length": 8}, "A") != base
    model = tmp_path / "model"
    model.mkdir()
    for f in tiny_bert.iterdir():
        if f.is_file():
            (model / f.name).write_bytes(f.read_bytes())
    assert tokenized.cache_key(model, sentiment_dir, None, None, {"max_length": 8}, "A") == base
    (model / "tokenizer_config.json").write_text(json.dumps({
        **json.loads((model / "tokenizer_config.json").read_text()), "model_max_length": 7}))
    assert tokenized.cache_key(model, sentiment_dir, None, None, {"max_length": 8}, "A") != base


@pytest.mark.parametrize("damage", ["truncate", "flip", "manifest", "extra"])
def test_a_corrupt_entry_is_rebuilt_never_trusted(tiny_bert, sentiment_dir, tokenizer, tmp_path, monkeypatch,
                                                  capsys, damage):
    cache = tmp_path / "cache"
    monkeypatch.setenv(tokenized.ENV_DIR, str(cache))
    inputs = _inputs(tiny_bert, sentiment_dir, tmp_path)
    fresh = _rows(_tokenized(inputs, False, tokenizer))
    [entry] = _entries(cache)
    arrow = next(entry.glob("train/*.arrow"))
    if damage == "truncate":
        arrow.write_bytes(arrow.read_bytes()[: arrow.stat().st_size // 2])
    elif damage == "flip":
        raw = bytearray(arrow.read_bytes())
        raw[-100] ^= 0xFF
        arrow.write_bytes(bytes(raw))
    elif damage == "manifest":
        (entry / "manifest.json").unlink()
    else:
        (entry / "train" / "planted.arrow").write_bytes(b"x")
    capsys.readouterr()
    assert _rows(_tokenized(inputs, False, tokenizer)) == fresh
    assert "tokenized dataset rebuilt" in capsys.readouterr().err
    assert _rows(_tokenized(inputs, False, tokenizer)) == fresh       # the rebuilt entry is good
    assert "tokenized dataset loaded" in capsys.readouterr().err
