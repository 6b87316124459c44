"""Loading and tokenizing the trial's dataset from the directory the storage initializer filled.

Accepted layouts of ``KATIB_LLM_DATASET_DIR``: a ``datasets`` ``save_to_disk`` directory, a
folder of data files (csv, json, jsonl, parquet) or a Hugging Face dataset repo snapshot (which
``datasets.load_dataset`` reads from its README configs or file names).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from katib_llm.core import dataset_config
from katib_llm.core.trialenv import TrialEnv

from .errors import RuntimeInputError

DATA_SUFFIXES = {".csv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
SAVED_MARKERS = ("dataset_dict.json", "state.json")


@dataclass(frozen=True)
class DatasetConfig:
    """``KATIB_LLM_DATASET_CONFIG``: column names, eval split and tokenization settings.

    Keys, defaults and value rules are the core's (``katib_llm.core.dataset_config``), the ones
    admission checks the ``dataset-config`` annotation with."""

    text_column: str = dataset_config.DEFAULTS["text_column"]
    text_pair_column: str | None = dataset_config.DEFAULTS["text_pair_column"]
    label_column: str = dataset_config.DEFAULTS["label_column"]
    eval_split: str | None = dataset_config.DEFAULTS["eval_split"]
    eval_fraction: float = dataset_config.DEFAULTS["eval_fraction"]
    max_length: int = dataset_config.DEFAULTS["max_length"]
    num_labels: int | None = dataset_config.DEFAULTS["num_labels"]
    seed: int = dataset_config.DEFAULTS["seed"]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "DatasetConfig":
        parsed, problems = dataset_config.check(raw)
        unknown = sorted(key for key, problem, _ in problems if problem == "unknown")
        if unknown:
            raise RuntimeInputError(f"{TrialEnv.DATASET_CONFIG}: unknown key(s) {unknown}; accepted: "
                                    + ", ".join(sorted(dataset_config.KEYS)))
        if problems:
            key, _, message = problems[0]
            raise RuntimeInputError(f"{TrialEnv.DATASET_CONFIG}.{key}: {message}")
        return cls(**{k: v for k, v in parsed.items() if v is not None or dataset_config.DEFAULTS[k] is None})


def _load(directory: Path, split: str, name: str | None) -> Any:
    import datasets

    try:
        if any((directory / m).is_file() for m in SAVED_MARKERS):
            loaded = datasets.load_from_disk(str(directory))
            return _select_split(loaded, split)
        files = [p for p in directory.rglob("*") if p.suffix in DATA_SUFFIXES and ".cache" not in p.parts]
        if not files and not (directory / "README.md").is_file():
            raise RuntimeInputError(f"KATIB_LLM_DATASET_DIR {directory} holds no dataset: expected a "
                                    "save_to_disk directory or csv/json/jsonl/parquet files")
        return datasets.load_dataset(str(directory), name=name, split=split)
    except RuntimeInputError:
        raise
    except ValueError as exc:  # datasets reports a bad split or config as ValueError
        raise RuntimeInputError(f"cannot load split {split!r} of the dataset in {directory}: {exc}".splitlines()[0]) from None


def _select_split(loaded: Any, split: str) -> Any:
    """HF split syntax (``train[:3000]``) applied to a dataset loaded from disk."""
    import datasets

    if isinstance(loaded, datasets.Dataset):
        return loaded
    base = split.split("[", 1)[0]
    if base not in loaded:
        raise RuntimeInputError(f"split {base!r} not in the saved dataset; available: {', '.join(loaded)}")
    ds = loaded[base]
    if "[" in split:
        instruction = datasets.ReadInstruction.from_spec(split)
        spec = instruction.to_absolute({base: len(ds)})[0]
        ds = ds.select(range(spec.from_ or 0, spec.to if spec.to is not None else len(ds)))
    return ds


def load_splits(directory: Path, split: str | None, name: str | None, cfg: DatasetConfig) -> tuple[Any, Any]:
    """Train and eval datasets: ``eval_split`` if configured, else a held-out fraction."""
    if not directory.is_dir():
        raise RuntimeInputError(f"KATIB_LLM_DATASET_DIR {directory} is not a directory "
                                "(did the storage initializer run?)")
    train = _load(directory, split or "train", name)
    if cfg.eval_split:
        return train, _load(directory, cfg.eval_split, name)
    if len(train) < 2:
        raise RuntimeInputError(f"the training split has {len(train)} row(s); need at least 2 to hold out an eval set")
    parts = train.train_test_split(test_size=float(cfg.eval_fraction), seed=cfg.seed)
    return parts["train"], parts["test"]


def check_columns(ds: Any, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise RuntimeInputError(f"{what} dataset lacks column(s) {missing}; it has {ds.column_names} "
                                "(set text_column/label_column in KATIB_LLM_DATASET_CONFIG)")


def label_mapping(train: Any, cfg: DatasetConfig) -> tuple[int, dict[Any, int] | None]:
    """Number of labels, and a value→id map when labels are not already 0..n-1 integers."""
    feature = train.features.get(cfg.label_column)
    if feature is not None and hasattr(feature, "num_classes"):
        return int(cfg.num_labels or feature.num_classes), None
    values = sorted(set(train[cfg.label_column]), key=str)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return int(cfg.num_labels or (max(values) + 1)), None
    return int(cfg.num_labels or len(values)), {v: i for i, v in enumerate(values)}


def tokenize_classification(ds: Any, tokenizer: Any, cfg: DatasetConfig, mapping: dict[Any, int] | None) -> Any:
    def encode(batch: dict[str, list[Any]]) -> dict[str, Any]:
        texts = [str(t) for t in batch[cfg.text_column]]
        pairs = [str(t) for t in batch[cfg.text_pair_column]] if cfg.text_pair_column else None
        out = tokenizer(texts, pairs, truncation=True, max_length=int(cfg.max_length))
        labels = batch[cfg.label_column]
        out["labels"] = [mapping[v] for v in labels] if mapping else [int(v) for v in labels]
        return out

    return ds.map(encode, batched=True, remove_columns=ds.column_names)


def tokenize_causal(ds: Any, tokenizer: Any, cfg: DatasetConfig) -> Any:
    def encode(batch: dict[str, list[Any]]) -> dict[str, Any]:
        return tokenizer([str(t) for t in batch[cfg.text_column]], truncation=True, max_length=int(cfg.max_length))

    return ds.map(encode, batched=True, remove_columns=ds.column_names)
