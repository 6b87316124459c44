"""Adapters that load on another machine: what a trial saves beside its LoRA adapter.

peft records the base model as the path it was loaded from, which for a trial is a folder of
the Experiment's volume (a link into the download cache) that exists nowhere else. A saved
adapter is therefore completed with:

* ``adapter_config.json``: ``base_model_name_or_path`` and ``revision`` set to the model's
  source as the storage initializer resolved it (``hf://org/name`` → ``org/name`` at the
  resolved commit), so ``AutoPeftModelFor….from_pretrained`` finds the base model on any
  machine that reaches the Hub (or has it in its Hugging Face cache);
* the tokenizer files, so the adapter folder alone tokenizes as the trial did;
* ``config.json``: the base model's configuration with the classifier's ``num_labels``,
  ``id2label`` and ``label2id`` (the dataset's label names), which the classifier head saved
  in the adapter needs (a default base model has 2 labels: loading a 3-label head into it is
  a size mismatch);
* ``katib-llm.json``: the source URI and revision, the model class, the label names.

Load it anywhere (``transformers`` reads the labels back from ``config.json``; the base
model's own classifier head, if it has one, is replaced by the adapter's)::

    config = AutoConfig.from_pretrained(path)
    model = AutoPeftModelForSequenceClassification.from_pretrained(
        path, num_labels=config.num_labels, id2label=config.id2label, label2id=config.label2id,
        ignore_mismatched_sizes=True)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

METADATA = "katib-llm.json"
ADAPTER_CONFIG = "adapter_config.json"
CACHE_ENTRY = "entry.json"  # what katib_llm.runtime.cache records beside each cached download


def label_names(train: Any, label_column: str, num_labels: int, mapping: dict[Any, int] | None) -> list[str]:
    """The classifier's label names by id: the dataset's ClassLabel names, the values a string
    label column held (in the id order ``mapping`` gave them), else the ids as text."""
    feature = train.features.get(label_column)
    names = list(getattr(feature, "names", None) or [])
    if len(names) == num_labels:
        return [str(n) for n in names]
    if mapping:
        by_id = {i: str(v) for v, i in mapping.items()}
        return [by_id.get(i, str(i)) for i in range(num_labels)]
    return [str(i) for i in range(num_labels)]


def labels_kwargs(names: list[str]) -> dict[str, Any]:
    """``from_pretrained`` keywords that give a classifier these label names."""
    return {"num_labels": len(names), "id2label": dict(enumerate(names)),
            "label2id": {name: i for i, name in enumerate(names)}}


def model_source(model_dir: Path) -> dict[str, Any] | None:
    """The cache record of the model the trial loaded (uri, scheme, location, revision); None
    when the model folder is not a cached download (e.g. a plain local folder)."""
    record = Path(os.path.realpath(model_dir)).parent / CACHE_ENTRY
    try:
        data = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("uri") else None


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def record_base(adapter_dir: Path, source: dict[str, Any] | None, model_class: str,
                labels: list[str] | None) -> None:
    """Point ``adapter_config.json`` at the base model's source and write ``katib-llm.json``."""
    config_path = adapter_dir / ADAPTER_CONFIG
    config = json.loads(config_path.read_text())
    if source is not None and source.get("scheme") == "hf":
        config["base_model_name_or_path"] = source["location"]
        config["revision"] = source.get("revision") or None
    elif source is not None:
        config["base_model_name_or_path"] = source["uri"]  # not a hub id: at least says where it came from
    _write_json(config_path, config)
    _write_json(adapter_dir / METADATA, {
        "base_model": {"uri": (source or {}).get("uri"), "revision": (source or {}).get("revision")},
        "model_class": model_class, "labels": labels})


def complete_adapter(adapter_dir: Path, model: Any, tokenizer: Any, model_dir: Path, model_class: str,
                     labels: list[str] | None) -> None:
    """Save the tokenizer and the labelled base configuration beside the adapter, and record
    the base model by its source (see the module docstring)."""
    tokenizer.save_pretrained(str(adapter_dir))
    base = getattr(model, "get_base_model", lambda: model)()
    if labels:
        base.config.update(labels_kwargs(labels))
    base.config.save_pretrained(str(adapter_dir))
    record_base(adapter_dir, model_source(model_dir), model_class, labels)


def read_labels(adapter_dir: Path) -> list[str] | None:
    """The label names a completed adapter records (None for an older adapter without them)."""
    try:
        labels = json.loads((adapter_dir / METADATA).read_text()).get("labels")
    except (OSError, ValueError, AttributeError):
        return None
    return [str(x) for x in labels] if isinstance(labels, list) else None
