"""Screenshots of the executed notebook for docs/sdk.md: the failure path, the result, the report
and the adapter path.

Executes the notebook cells of tests/sdk/notebook_example.py (the proposal's example, local
backend, against a Hugging Face Hub stand-in) in a real ipykernel with nbclient, writes each
executed notebook next to the images, then draws chosen cells (source and outputs, as the
notebook holds them) with headless Chromium and trims the blank space below.

    PYTHONPATH=src python scripts/notebook_screenshots.py docs/img
"""

from __future__ import annotations

import html
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

STYLE = """body{font-family:sans-serif;font-size:14px;margin:16px;width:1060px}
pre.src{background:#f5f5f5;border:1px solid #ddd;padding:8px;font-size:13px;white-space:pre-wrap}
pre.out{font-size:12px;white-space:pre-wrap;margin:4px 0}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}
img{max-width:760px;display:block;margin:4px 0}.label{color:#888;font-size:11px;margin-top:12px}"""


def cell_html(cell: Any, number: int, *, live: bool = False, max_images: int | None = None) -> str:
    """A code cell as Jupyter lays it out: In [n], the source, then its outputs (the live view only
    if ``live``; at most ``max_images`` report figures)."""
    parts = [f'<div class="label">In [{number}]:</div><pre class="src">{html.escape(cell.source)}</pre>']
    for out in cell.get("outputs", []):
        data = out.get("data") or {}
        if out.get("output_type") == "stream" and "Loading weights" not in out["text"] and "Warning" not in out["text"]:
            parts.append(f'<pre class="out">{html.escape(out["text"])}</pre>')
        elif out.get("output_type") == "display_data" and not live:
            continue
        elif "text/html" in data:
            page = data["text/html"]
            if max_images is not None:
                pieces = page.split("<img ")
                page = "<img ".join(pieces[:max_images + 1]) if len(pieces) > max_images + 1 else page
            parts.append(page)
        elif "text/plain" in data:
            parts.append(f'<pre class="out">{html.escape(data["text/plain"])}</pre>')
    return "\n".join(parts)


def shoot(body: str, target: Path, height: int = 2400) -> None:
    """Draw ``body`` with headless Chromium into ``target`` (PNG), trimmed below the content."""
    import matplotlib.image as mpimg
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "cell.html"
        page.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{STYLE}</style></head>"
                        f"<body>{body}</body></html>")
        subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--screenshot={target}", f"--window-size=1100,{height}", page.as_uri()],
                       check=True, capture_output=True, timeout=120)
    image = mpimg.imread(str(target))
    rows = np.where((image[:, :, :3] < 0.98).any(axis=(1, 2)))[0]
    mpimg.imsave(str(target), image[: int(rows[-1]) + 17] if len(rows) else image)


def main(out: str) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the tests package of this checkout
    from tests.sdk import notebook_example as nb

    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        hub = nb.start_hub(root / "hub")
        try:
            (root / "typo").mkdir()
            (root / "ok").mkdir()
            typo = nb.execute(nb.TYPO_CELLS, root / "typo", hub)
            ok = nb.execute(nb.SUCCESS_CELLS, root / "ok", hub)
        finally:
            hub.stop()
        shoot(cell_html(typo.cells[1], 2, live=True) + cell_html(typo.cells[2], 3), target / "notebook_failure.png")
        shoot(cell_html(ok.cells[1], 2) + cell_html(ok.cells[4], 5), target / "notebook_result.png")
        shoot(cell_html(ok.cells[2], 3, max_images=2), target / "notebook_report.png", height=3000)
        shoot(cell_html(ok.cells[5], 6), target / "notebook_adapter.png")
    for name in ("failure", "result", "report", "adapter"):
        print(target / f"notebook_{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))
