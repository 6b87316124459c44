"""Relative ``file://`` URIs for local runs.

The core accepts only absolute ``file:///abs/dir`` URIs (a cluster has no notion of "next to
the YAML file"). For ``katib-llm tune FILE --local`` a model or dataset annotation written
``file://./data/x`` or ``file://data/x`` is resolved against FILE's directory before admission,
so an example can ship its data beside it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from katib_llm.core.contract import annotation_key, annotation_path



def resolve_file_uris(experiment: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy of ``experiment`` with relative file:// model/dataset URIs made absolute."""
    exp = copy.deepcopy(experiment)
    annotations = (exp.get("metadata") or {}).get("annotations") or {}
    for kind in ("model", "dataset"):
        key = annotation_key(kind)
        uri = annotations.get(key)
        if not isinstance(uri, str) or not uri.startswith("file://") or uri.startswith("file:///"):
            continue
        rest, sep, query = uri[len("file://"):].partition("?")
        target = (base / rest).resolve()
        if not target.exists():
            raise ValueError(f"{annotation_path(kind)}: {uri!r} resolves to {target}, which does not exist")
        annotations[key] = f"file://{target}" + (sep + query if sep else "")
    return exp
