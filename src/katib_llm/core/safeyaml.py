"""YAML from untrusted hands, at a bounded cost: no anchors or aliases, capped size and depth.

``yaml.safe_load`` builds no arbitrary objects, but it still expands aliases: a 1.6 KB
"billion laughs" document of nested aliases becomes millions of nodes once dumped as JSON (an
admission response of tens of MB, then out of memory). Manifests never need anchors, so
:class:`BoundedLoader` refuses them, and refuses documents over :data:`MAX_BYTES` or nested
deeper than :data:`MAX_DEPTH`, each with one clear message. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_BYTES = 1024 * 1024  # a ConfigMap holds at most 1 MiB
MAX_DEPTH = 64
MAX_DOCUMENTS = 1000


def _line(event: Any) -> int:
    """The 1-based line of a YAML event (0 when the parser gave no position)."""
    mark = getattr(event, "start_mark", None)
    return int(mark.line) + 1 if mark is not None else 0


class UnsafeYAMLError(yaml.YAMLError):
    """The document uses a feature we refuse (anchor, alias) or exceeds a cap."""


class BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` that rejects anchors and aliases and caps nesting depth."""

    max_depth = MAX_DEPTH

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # PyYAML's stubs leave it untyped
        if isinstance(event, yaml.AliasEvent):
            raise UnsafeYAMLError(f"line {_line(event)}: YAML aliases (*{event.anchor}) are not "
                                  "accepted; write the value out")
        if getattr(event, "anchor", None) is not None:
            raise UnsafeYAMLError(f"line {_line(event)}: YAML anchors (&{event.anchor}) are not "
                                  "accepted; write the value out")
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise UnsafeYAMLError(f"line {_line(event)}: nested deeper than {self.max_depth} "
                                      "levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _check_size(text: str | bytes, max_bytes: int) -> None:
    size = len(text.encode() if isinstance(text, str) else text)
    if size > max_bytes:
        raise UnsafeYAMLError(f"document is {size} bytes; the limit is {max_bytes}")


def load(text: str | bytes, max_bytes: int = MAX_BYTES) -> Any:
    """One YAML document; raises :class:`yaml.YAMLError` (:class:`UnsafeYAMLError` for refusals)."""
    _check_size(text, max_bytes)
    loader = BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_all(text: str | bytes, max_bytes: int = 16 * MAX_BYTES,
             max_documents: int = MAX_DOCUMENTS) -> list[Any]:
    """Every document of a YAML stream (the same refusals and caps, plus a document count)."""
    _check_size(text, max_bytes)
    loader = BoundedLoader(text)
    out: list[Any] = []
    try:
        while loader.check_data():  # type: ignore[no-untyped-call]  # PyYAML's stubs leave it untyped
            if len(out) >= max_documents:
                raise UnsafeYAMLError(f"more than {max_documents} YAML documents")
            out.append(loader.get_data())
    finally:
        loader.dispose()
    return out
