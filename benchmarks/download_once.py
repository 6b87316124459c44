"""Download once: bytes the model source serves for N trials, shared cache vs per-trial download.

For N = 1, 4, 16 trials started together, a fake Hugging Face Hub on 127.0.0.1 (the one the
tests use, ``tests/runtime/fakehub.py``) serves a tiny BERT (~4.7 MB). Two ways, side by side
in one run:

* **ours** — N ``katib_llm.runtime.storage_initializer`` processes in parallel, one shared
  ``--cache-dir`` (as the trials of one Experiment share the PVC), each with its own ``--target``;
* **per-trial** — N processes each calling ``huggingface_hub.snapshot_download`` into the trial's
  own directory, as upstream Katib/training-operator storage initializers do.

The source's served body bytes are counted; ratios = per-trial / ours.

Run it from the repository root as a module (it imports the fake hub from the ``tests`` package):

    .venv/bin/python -m benchmarks.download_once                 # prints the table
    .venv/bin/python -m benchmarks.download_once --write-docs    # also updates docs/benchmarks.md
    .venv/bin/python -m benchmarks.download_once --trials 1 4    # smaller
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

if not __package__:  # run as a file: the tests package is not importable from benchmarks/
    raise SystemExit("run from the repository root as: python -m benchmarks.download_once")

from tests.runtime.fakehub import FakeHub  # noqa: E402
from tests.runtime.runtime_helpers import build_bert  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

PER_TRIAL = ("import sys; from huggingface_hub import snapshot_download; "
             "snapshot_download('tiny/bert', local_dir=sys.argv[1], cache_dir=sys.argv[1] + '.hf')")
HEADING = "## Download once"


def _run_all(commands: list[list[str]], env: dict[str, str]) -> float:
    started = time.monotonic()
    procs = [subprocess.Popen(c, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for c in commands]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"a trial's download failed: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")
    return time.monotonic() - started


def measure(hub: FakeHub, trials: int, work: Path, env: dict[str, str]) -> dict[str, float]:
    cache = work / f"ours-{trials}" / "cache"
    ours_cmds = [[sys.executable, "-m", "katib_llm.runtime.storage_initializer", "model", "hf://tiny/bert",
                  "--target", str(work / f"ours-{trials}" / f"trial-{i}"), "--cache-dir", str(cache)]
                 for i in range(trials)]
    theirs_cmds = [[sys.executable, "-c", PER_TRIAL, str(work / f"per-trial-{trials}" / f"trial-{i}")]
                   for i in range(trials)]
    hub.reset_counters()
    ours_s = _run_all(ours_cmds, env)
    ours_bytes = hub.bytes_served
    hub.reset_counters()
    theirs_s = _run_all(theirs_cmds, env)
    theirs_bytes = hub.bytes_served
    # A later experiment reusing the cache (new targets): what it costs the source.
    hub.reset_counters()
    _run_all([[*c[:6], str(work / f"ours-{trials}" / f"again-{i}"), *c[7:]] for i, c in enumerate(ours_cmds)], env)
    return {"trials": trials, "ours_bytes": ours_bytes, "theirs_bytes": theirs_bytes, "again_bytes": hub.bytes_served,
            "ours_s": ours_s, "theirs_s": theirs_s}


def table(rows: list[dict[str, float]], model_bytes: int) -> str:
    lines = ["| trials | ours: bytes served | per-trial: bytes served | ratio per-trial/ours | ours: wall s "
             "| per-trial: wall s | next experiment, same cache: bytes |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = r["theirs_bytes"] / r["ours_bytes"] if r["ours_bytes"] else float("inf")
        lines.append(f"| {r['trials']} | {r['ours_bytes']:,} | {r['theirs_bytes']:,} | **{ratio:.1f}x** | "
                     f"{r['ours_s']:.1f} | {r['theirs_s']:.1f} | {r['again_bytes']:,} |")
    return "\n".join(lines) + f"\n\nOne copy of the model = {model_bytes:,} bytes."


def write_docs(text: str) -> None:
    path = REPO / "docs" / "benchmarks.md"
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    section = f"{HEADING}\n\n{text.strip()}\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _: section + "\n", current).rstrip() + "\n"
    else:
        updated = current.rstrip() + "\n\n" + section
    path.write_text(updated)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="katib-llm-dl-bench-") as tmp:
        work = Path(tmp)
        model = build_bert(work / "source-model")
        hub = FakeHub().start()
        hub.add_dir("model", "tiny/bert", model)
        model_bytes = sum(len(v) for v in hub.repos[("model", "tiny/bert")].files.values())
        env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_TELEMETRY": "1",
               "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
        env.pop("HF_TOKEN", None)
        try:
            rows = [measure(hub, n, work, env) for n in args.trials]
        finally:
            hub.stop()
    result = table(rows, model_bytes)
    print(result)
    if args.write_docs:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        write_docs(f"`python -m benchmarks.download_once` ({stamp}; 2 CPUs shared with other work; fake HF hub on "
                   "127.0.0.1 serving a 2-layer BERT; all N initializers of a row start together).\n\n"
                   + result + "\n\nHow to read it: *ours* is N storage-initializer processes sharing one "
                   "content-addressed cache (one exclusive lock per cache key: the first downloads, the others "
                   "wait and link); *per-trial* is N `snapshot_download` calls into per-trial directories, as "
                   "upstream Katib's storage initializer does per trial. Bytes are file bodies served by the hub "
                   "(metadata calls excluded). The last column is a second experiment (new targets) reusing the "
                   "cache. Wall times include Python start-up and imports (~1-2 s per process here) on 2 shared "
                   "CPUs, so they compare the two ways only roughly; the bytes are exact.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
