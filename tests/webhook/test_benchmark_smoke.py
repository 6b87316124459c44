"""The latency benchmark runs end to end with tiny counts (numbers are not asserted: see docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "webhook_latency.py"


def test_benchmark_smoke():
    result = subprocess.run([sys.executable, str(BENCH), "--clients", "1", "2", "--requests", "10", "--rounds", "1",
                             "--workers", "1", "--threads", "2"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert sum("**ratio** mutate/noop" in line for line in lines) == 2
    assert any(line.startswith("| 2 | `/mutate` | 10 | 0 |") for line in lines), result.stdout
    assert "MiB" in result.stdout
