"""Dataset layouts the trainer reads (no training here)."""

from __future__ import annotations

import json

import pytest

from katib_llm.runtime.data import DatasetConfig, label_mapping, load_splits
from katib_llm.runtime.errors import RuntimeInputError

from tests.builders import example
from tests.runtime.runtime_helpers import sentiment_rows


def test_saved_to_disk_dataset_with_split_slicing(tmp_path):
    import datasets

    rows = sentiment_rows(30)
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows),
                          "test": datasets.Dataset.from_list(rows[:6])}).save_to_disk(str(tmp_path / "ds"))
    train, evaluation = load_splits(tmp_path / "ds", "train[:20]", None, DatasetConfig(eval_split="test"))
    assert len(train) == 20 and len(evaluation) == 6


def test_csv_files_with_string_labels_and_held_out_eval(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    lines = ["review,stars"] + [f"{r['text']},{'pos' if r['label'] else 'neg'}" for r in sentiment_rows(40)]
    (folder / "train.csv").write_text("\n".join(lines) + "\n")
    cfg = DatasetConfig.from_mapping({"text_column": "review", "label_column": "stars", "eval_fraction": 0.25})
    train, evaluation = load_splits(folder, None, None, cfg)
    assert len(train) == 30 and len(evaluation) == 10
    assert label_mapping(train, cfg) == (2, {"neg": 0, "pos": 1})


def test_hub_snapshot_layout_with_parquet_splits(tmp_path):
    import datasets

    repo = tmp_path / "snapshot" / "data"
    repo.mkdir(parents=True)
    datasets.Dataset.from_list(sentiment_rows(20)).to_parquet(str(repo / "train-00000-of-00001.parquet"))
    datasets.Dataset.from_list(sentiment_rows(8)).to_parquet(str(repo / "test-00000-of-00001.parquet"))
    train, evaluation = load_splits(tmp_path / "snapshot", "train[:10]", None, DatasetConfig(eval_split="test"))
    assert len(train) == 10 and len(evaluation) == 8


def test_unknown_split_is_a_clear_error(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sentiment_rows(4)))
    with pytest.raises(RuntimeInputError, match="cannot load split 'validation'"):
        load_splits(tmp_path / "d", "validation", None, DatasetConfig())


def test_empty_dataset_dir_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RuntimeInputError, match="holds no dataset"):
        load_splits(tmp_path / "empty", None, None, DatasetConfig())


def test_admission_knows_exactly_the_keys_the_trainer_reads(admin_config):
    import copy

    from katib_llm.core.admit import admit
    from katib_llm.core.contract import DATASET_CONFIG_KEYS

    assert set(DATASET_CONFIG_KEYS) == set(DatasetConfig.__dataclass_fields__)
    exp = example()
    bad = copy.deepcopy(exp)
    bad["metadata"]["annotations"]["llm.katib.kubeflow.org/dataset-config"] = '{"txt_column": "body", "max_length": "64"}'
    result = admit(bad, admin_config)
    assert not result.allowed
    codes = {e.code for e in result.errors}
    assert {"dataset-config.key", "dataset-config.type"} <= codes
    good = copy.deepcopy(exp)
    good["metadata"]["annotations"]["llm.katib.kubeflow.org/dataset-config"] = '{"text_column": "body", "max_length": 64}'
    assert admit(good, admin_config).allowed
