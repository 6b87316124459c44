"""The report as a page: static PNG figures by default, plotly figures when asked, one summary.

A static figure is a matplotlib ``Figure`` rendered once to PNG (then released, so Jupyter's
inline backend never shows it a second time) and embedded as a ``data:`` URI: the page needs no
script and no network. Interactive figures carry plotly.js once per page; in Jupyter, once per
Python process (the first interactive output loads it for the later ones).
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PLOTLYJS_SENT = False  # this process already put plotly.js into a Jupyter output


def png_bytes(figure: Any, dpi: int = 100) -> bytes:
    """A matplotlib Figure as PNG bytes; the figure is closed (pyplot's) or dropped afterwards."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    import matplotlib.pyplot as plt

    if plt.fignum_exists(getattr(figure, "number", -1)):
        plt.close(figure)
    return buffer.getvalue()


@dataclass
class Report:
    """Title, summary (HTML: outcome, best parameters, stop reasons, trials table), figures, notes."""

    title: str
    summary: str = ""
    interactive: bool = False
    figures: list[tuple[str, Any]] = field(default_factory=list)  # (key, plotly Figure or PNG bytes)
    notes: list[str] = field(default_factory=list)
    captions: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, figure: Any, trials: int | None = None) -> None:
        """Keep ``figure`` (a plotly figure, or a matplotlib Figure stored as PNG)."""
        self.figures.append((key, figure if self.interactive else png_bytes(figure)))
        if trials is not None:
            self.captions[key] = f"{key}: from {trials} trials with an objective"

    @property
    def images(self) -> dict[str, bytes]:
        """Static reports: each figure's PNG."""
        return {} if self.interactive else dict(self.figures)

    def to_html(self, include_plotlyjs: bool = True) -> str:
        """The report's body; ``include_plotlyjs``: embed plotly.js before the first plotly figure."""
        parts = [f"<h2>{html.escape(self.title)}</h2>", self.summary]
        parts += [f"<p><em>{html.escape(note)}</em></p>" for note in self.notes]
        for index, (key, fig) in enumerate(self.figures):
            if key in self.captions:
                parts.append(f"<p><em>{html.escape(self.captions[key])}</em></p>")
            if self.interactive:
                parts.append(fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs and index == 0))
            else:
                data = base64.b64encode(fig).decode("ascii")
                parts.append(f'<img alt="{html.escape(key)}" src="data:image/png;base64,{data}"/>')
        return "\n".join(parts)

    def __repr__(self) -> str:  # the text a notebook keeps beside the HTML: one line, no image bytes
        kind = "interactive" if self.interactive else "static"
        return f"<Report {self.title!r}: {len(self.figures)} {kind} figures, {len(self.notes)} notes>"

    def _repr_html_(self) -> str:
        global _PLOTLYJS_SENT
        first = self.interactive and bool(self.figures) and not _PLOTLYJS_SENT
        if first:
            _PLOTLYJS_SENT = True
        return self.to_html(include_plotlyjs=first)

    def save(self, directory: str | Path) -> dict[str, Path]:
        """Write ``report.html`` (a standalone page) and, for a static report, each figure as
        ``report-<key>.png`` into ``directory``; returns the paths (``html``, ``<key>``)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}
        for key, png in self.images.items():
            paths[key] = _write(out / f"report-{key}.png", png)
        page = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
                f"{html.escape(self.title)}</title></head><body>\n{self.to_html()}\n</body></html>\n")
        paths["html"] = _write(out / "report.html", page.encode("utf-8"))
        return paths


def _write(path: Path, data: bytes) -> Path:
    """Whole or not at all: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path
