"""A live progress view that works where the user is: Jupyter, a terminal, or a log.

* In a Jupyter kernel: one output area updated in place (IPython's ``display(..., display_id=True)``
  and ``update``), showing the rich renderable as HTML. rich's own ``Live`` needs ipywidgets in
  a notebook; a display handle needs nothing beyond IPython, which every kernel has.
* On a terminal: rich's ``Live``.
* Otherwise (scripts, CI): one log line per change, through ``logging`` (INFO).
* ``enabled=False``: nothing (quiet mode).
"""

from __future__ import annotations

import io
import logging
import sys
import time
from typing import Any

log = logging.getLogger("katib_llm.progress")


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython with a ZMQ shell), False in a terminal IPython or python."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 - any failure means: not a notebook
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def to_html(renderable: Any, width: int = 120) -> str:
    """A rich renderable (or text) as self-contained HTML (inline styles, no scripts)."""
    from rich.console import Console

    # force_jupyter=False: in a kernel rich would otherwise display the text itself, once per call.
    console = Console(record=True, file=io.StringIO(), width=width, color_system="truecolor", force_jupyter=False)
    console.print(renderable)
    return console.export_html(inline_styles=True, code_format="<pre style=\"font-family:monospace\">{code}</pre>")


class LiveView:
    """``update(renderable, text)`` shows progress; ``close()`` ends it. Use as a context manager.

    ``text`` is the one-line form used for log lines (the renderable is used where it can be drawn).
    """

    def __init__(self, enabled: bool = True, stream: Any = None, min_interval: float = 0.25,
                 logger: logging.Logger | None = None):
        self.enabled = enabled
        self.log = logger or log
        self.stream = stream or sys.stderr
        self.min_interval = min_interval
        self.mode = "off"
        if enabled:
            if in_notebook():
                self.mode = "notebook"
            elif hasattr(self.stream, "isatty") and self.stream.isatty():
                self.mode = "terminal"
            else:
                self.mode = "log"
        self._handle: Any = None
        self._live: Any = None
        self._last_text: str | None = None
        self._last_time = 0.0
        self._pending: Any = None

    def __enter__(self) -> "LiveView":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, renderable: Any, text: str | None = None, force: bool = False) -> None:
        if self.mode == "off":
            return
        if self.mode == "log":
            line = text if text is not None else str(renderable)
            if line != self._last_text:
                self._last_text = line
                self.log.info("%s", line)
            return
        now = time.monotonic()
        if not force and now - self._last_time < self.min_interval:
            self._pending = renderable  # drawn on the next update or on close
            return
        self._last_time, self._pending = now, None
        self._draw(renderable)

    def _draw(self, renderable: Any) -> None:
        if self.mode == "notebook":
            from IPython.display import HTML, display

            html = HTML(to_html(renderable))
            if self._handle is None:
                self._handle = display(html, display_id=True)
            else:
                self._handle.update(html)
        else:
            if self._live is None:
                from rich.console import Console
                from rich.live import Live

                self._live = Live(console=Console(file=self.stream), refresh_per_second=4, transient=False)
                self._live.start()
            self._live.update(renderable)

    def close(self) -> None:
        if self._pending is not None:
            self._draw(self._pending)
            self._pending = None
        if self._live is not None:
            self._live.stop()
            self._live = None
