"""RFC 6902 JSON Patch between two JSON documents: a fast, type-exact structural diff.

Replaces ``jsonpatch.make_patch`` on the admission path, where it cost ~60% of an admission
(it searches for moves and copies, which an admission never needs). The patch is not minimal
for reordered lists (it replaces such a list whole) but always turns ``src`` into ``dst``.
"""

from __future__ import annotations

import marshal
from typing import Any

Patch = list[dict[str, Any]]
_CONTAINERS = (dict, list)


def _pointer(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}/{key}"
    if "~" in key or "/" in key:
        key = key.replace("~", "~0").replace("/", "~1")
    return f"{path}/{key}"


def same(a: Any, b: Any) -> bool:
    """JSON equality: unlike Python's ``==``, ``1``, ``1.0`` and ``True`` differ."""
    if a is b:
        return True
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is dict:
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if ta is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):  # dict subclasses (e.g. from a YAML loader)
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _diff(src: Any, dst: Any, path: str, ops: Patch) -> None:
    """One pass: unchanged (identical) children are skipped, changed containers descended into."""
    if isinstance(src, dict) and isinstance(dst, dict):
        for key in src:
            if key not in dst:
                ops.append({"op": "remove", "path": _pointer(path, key)})
        for key, value in dst.items():
            if key not in src:
                ops.append({"op": "add", "path": _pointer(path, key), "value": value})
            elif src[key] is not value:
                _diff(src[key], value, _pointer(path, key), ops)
        return
    if isinstance(src, list) and isinstance(dst, list) and len(src) <= len(dst) and \
            all(isinstance(x, _CONTAINERS) == isinstance(y, _CONTAINERS) for x, y in zip(src, dst)):
        for i, (x, y) in enumerate(zip(src, dst)):
            if x is not y:
                _diff(x, y, _pointer(path, i), ops)
        for i in range(len(src), len(dst)):
            ops.append({"op": "add", "path": _pointer(path, i), "value": dst[i]})
        return
    if not same(src, dst):
        ops.append({"op": "replace", "path": path, "value": dst})


def make_patch(src: Any, dst: Any) -> Patch:
    """Operations that turn ``src`` into ``dst`` (values are shared with ``dst``, not copied)."""
    ops: Patch = []
    _diff(src, dst, "", ops)
    return ops


def _clone_walk(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _clone_walk(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_clone_walk(v) for v in doc]
    return doc


def freeze(doc: Any) -> bytes:
    """``doc`` as bytes :func:`thaw` turns into a fresh deep copy (for documents copied often)."""
    return marshal.dumps(_clone_walk(doc), 2)


def thaw(frozen: bytes) -> Any:
    return marshal.loads(frozen)


def clone(doc: Any) -> Any:
    """Deep copy of a JSON document (dicts, lists, scalars).

    ``marshal`` copies plain JSON types exactly (bool stays bool, int stays int, key order kept)
    in C, ~1.4x faster than a Python walk and ~8x faster than ``copy.deepcopy``. It refuses other
    types (dict subclasses, datetimes a YAML loader made), which the walk then copies the way
    the core always has: containers as plain dicts and lists, scalars shared.
    """
    try:
        # Version 2 has no back-references: an object shared by two places in ``doc`` (a YAML
        # anchor) becomes two independent copies, as with the walk.
        return marshal.loads(marshal.dumps(doc, 2))
    except ValueError:
        return _clone_walk(doc)
