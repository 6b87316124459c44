"""The tokenized dataset, prepared once per Experiment and shared by its trials.

Every trial of an Experiment tokenizes the same data with the same tokenizer and settings; only
the hyperparameters differ. With ``KATIB_LLM_DATA_CACHE_DIR`` set (the local runner sets it to
the run's volume), the first trial saves its tokenized train/eval splits there and the others
load them. An entry is keyed by what decides its content:

* the tokenizer: every file of the model directory except the weights (tokenizer files, config);
* the data: every file of the dataset directory, its split and config name;
* the preprocessing: the dataset config, the model class, this module's :data:`FORMAT` and the
  ``datasets``/``transformers`` versions.

Files are keyed by their content (SHA-256), never by name or time. An entry is written in a
temporary directory and renamed into place whole, with a manifest of every file's SHA-256; on
load each file is checked against it, and an entry that does not match (a truncated or edited
file, a missing manifest) is deleted and rebuilt, never trusted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from katib_llm.core.trialenv import TrialEnv

ENV_DIR = TrialEnv.DATA_CACHE_DIR
FORMAT = 2  # bump when the tokenization in runtime/data.py changes what it produces
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".h5", ".msgpack", ".ckpt", ".gguf", ".onnx")
MANIFEST = "manifest.json"
_CHUNK = 1 << 20

Prepared = tuple[Any, Any, list[str]]  # (tokenized train, tokenized eval, label names by id; [] for causal)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _tree(root: Path, keep: Callable[[Path], bool]) -> list[tuple[str, str]]:
    """(relative path, SHA-256) of every regular file under ``root`` that ``keep`` accepts, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if path.is_file() and keep(path):
                out.append((path.relative_to(root).as_posix(), _file_sha256(path)))
    return out


def cache_key(model_dir: Path, dataset_dir: Path, split: str | None, name: str | None, config: Any,
              model_class: str) -> str:
    """The entry's name: SHA-256 over tokenizer, data and preprocessing (see module docstring)."""
    import datasets
    import transformers

    inputs = {
        "format": FORMAT,
        "tokenizer": _tree(model_dir, lambda p: not p.name.endswith(WEIGHT_SUFFIXES) and not p.name.startswith(".")),
        "data": _tree(dataset_dir, lambda p: not p.name.startswith(".")),
        "split": split, "name": name, "model_class": model_class,
        "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config),
        "versions": [datasets.__version__, transformers.__version__],
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def _load(entry: Path) -> Prepared | None:
    """The entry's datasets if every file matches its manifest, else None."""
    import datasets

    try:
        manifest = json.loads((entry / MANIFEST).read_text())
        files = dict(manifest["files"])
        present = dict(_tree(entry, lambda p: p.name != MANIFEST))
        if present != files:
            return None
        labels = manifest["labels"]
        if not isinstance(labels, list) or not all(isinstance(name, str) for name in labels):
            return None
        return datasets.load_from_disk(str(entry / "train")), datasets.load_from_disk(str(entry / "eval")), labels
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _save(directory: Path, key: str, prepared: Prepared) -> None:
    """Write the entry beside its final place, then rename it there whole (first writer wins)."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=directory))
    try:
        train, evaluation, labels = prepared
        train.save_to_disk(str(tmp / "train"))
        evaluation.save_to_disk(str(tmp / "eval"))
        (tmp / MANIFEST).write_text(json.dumps({"files": dict(_tree(tmp, lambda p: p.name != MANIFEST)),
                                                "labels": labels}))
        try:
            os.rename(tmp, directory / key)
        except OSError:  # another trial put the entry in place first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def prepared(directory: Path | None, key: Callable[[], str], build: Callable[[], Prepared]) -> tuple[Prepared, str]:
    """``build()`` once per key: loaded from ``directory`` if a valid entry is there, else built
    and saved. Returns the datasets and how they were had: "built", "loaded" or "rebuilt"."""
    if directory is None:
        return build(), "built"
    name = key()
    entry = directory / name
    how = "built"
    if entry.exists():
        found = _load(entry)
        if found is not None:
            return found, "loaded"
        shutil.rmtree(entry, ignore_errors=True)  # corrupt: rebuilt, never trusted
        how = "rebuilt"
    made = build()
    _save(directory, name, made)
    return made, how


def cache_dir(environ: Any) -> Path | None:
    raw = str(environ.get(ENV_DIR, "")).strip()
    return Path(raw) if raw else None


__all__ = ["ENV_DIR", "FORMAT", "cache_dir", "cache_key", "prepared"]
