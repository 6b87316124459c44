"""The credential scan's cost: the former regular expressions vs the linear scan, side by side.

``python -m benchmarks.credential_scan`` times ``katib_llm.core.credentials.value_shape`` and the
patterns it replaced (kept below, verbatim, as the baseline) on the same adversarial inputs of
growing size, in one run, and prints a Markdown table: seconds per scan and the ratio. The former
patterns are run only up to sizes that finish in about a minute (they grow quadratically, and the
``passw`` case cubically); the linear scan is also run at 100 KB.
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Callable

from katib_llm.core import credentials

# The patterns katib-llm used before the linear scan (core/credentials.py, until this change).
_FORMER_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s]*:[^/?#@\s]*@")
_FORMER_SHAPES = (
    re.compile(r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}"),
    re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    re.compile(r"(?i)(?:secret|key|token|passw\w*|credential)\w*[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"),
)


def former_value_shape(text: str) -> bool:
    return bool(_FORMER_USERINFO.search(text)) or any(p.search(text) for p in _FORMER_SHAPES)


# name -> (unit repeated to the size, sizes in bytes the former patterns are run at)
CASES = {
    "word characters (a...)": ("a", (7_500, 15_000, 30_000)),
    "key-ish words (keykey...)": ("key", (7_500, 15_000, 30_000)),
    "passw repeated": ("passw", (500, 1_000, 2_000)),
}
LINEAR_ONLY = (30_000, 100_000)
# The inputs that cost the linear scan most (many places where a shape could start), at 100 KB
# and at the webhook's 3 MiB body cap.
LINEAR_WORST = {
    "key=key=...": "key=",
    "a://b@c/ repeated": "a://b@c/",
    "ab=<40 characters> repeated": "ab=" + "A" * 40 + " ",
    "a:a:...": "a:",
}


def _time(scan: Callable[[str], object], text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        scan(text)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of the linear scan per size (best kept)")
    args = parser.parse_args()
    print("| input | bytes | former patterns s | linear scan s | ratio former/linear |")
    print("|---|---:|---:|---:|---:|")
    for name, (unit, sizes) in CASES.items():
        for size in sizes:
            text = unit * (size // len(unit))
            former = _time(former_value_shape, text, 1)
            linear = _time(credentials.value_shape, text, args.repeat)
            print(f"| {name} | {len(text)} | {former:.3f} | {linear:.5f} | {former / linear:,.0f} |")
        for size in (s for s in LINEAR_ONLY if s not in sizes):
            text = unit * (size // len(unit))
            print(f"| {name} | {len(text)} | (not run) | {_time(credentials.value_shape, text, args.repeat):.5f} | |")
    for name, unit in LINEAR_WORST.items():
        for size in (100_000, 3 * 2**20):
            text = unit * (size // len(unit))
            print(f"| {name} | {len(text)} | (not run) | {_time(credentials.value_shape, text, args.repeat):.5f} | |")


if __name__ == "__main__":
    main()
