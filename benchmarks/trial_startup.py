"""Where a local trial's start-up goes: the trainer's stages in a forked warm child vs in-process.

The local backend runs every trial in a child forked from a warm parent that has imported the
trainer's libraries (``katib_llm.local.pool``); Hugging Face's in-process ``hyperparameter_search``
runs every trial in one long-lived process. Both load the tokenizer and the base model per trial
(``model_init``), so the difference is what a *first* call costs in a fresh child and a later call
does not: lazy imports, one-time initialisation inside transformers, tokenizers and torch.

This script times the trainer's own start-up stages (the functions ``katib_llm.runtime.trainer``
calls, wrapped with timers) up to the end of the first evaluation of a trial of the HPO
benchmark's task (8 training steps, then the evaluation), ``--reps`` times each in alternation:

* ``child``: a child forked from this process after ``trainer.preimport()`` (what the warm pool's
  forkserver does), the tokenized dataset already in the run's cache (as every trial but the first);
* ``child-weights``: the same, but this process loaded the base model once before forking and the
  child builds its model from that copy (``copy.deepcopy``) instead of reading the files: what
  sharing the base weights copy-on-write through the fork would save at most;
* ``in-process``: the same trial in this process, after one untimed trial (so its one-time costs
  are paid, as in the second and later trials of an in-process search);
* ``child-of-trained-parent``: a child forked after those in-process trials, so it inherits every
  one-time initialisation of a trial (what warming the pool's parent with a whole trial would give
  at most; the pool does not do this: its parent runs no torch operations before forking).

Run: nice -n 19 .venv/bin/python benchmarks/trial_startup.py [--reps 5] [--task reviews]
Writes docs/img/trial_startup.json (every repetition's stage times). Wall times: a shared
machine's; compare the columns of one run.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("tokenizer", "tokenized_data", "model", "lora", "trainer_init", "train_to_first_eval")


class Clock:
    """Stage timings of one trial, filled by the wrappers below."""

    def __init__(self) -> None:
        self.stages: dict[str, float] = {}

    def wrap(self, owner: Any, name: str, stage: str, replace: Callable[..., Any] | None = None) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return (replace or original)(*args, **kwargs)
            finally:
                self.stages[stage] = self.stages.get(stage, 0.0) + time.perf_counter() - start
        setattr(owner, name, timed)


def trial_env(task: str, out: Path, cache: Path) -> dict[str, str]:
    os.environ["KATIB_LLM_BENCH_TASK"] = task
    from benchmarks import hpo_efficiency as bench
    from benchmarks.hpo_inprocess import _env

    ann = bench.experiment("startup", ROOT, "random", 0, 1, False)["metadata"]["annotations"]
    env = _env(ann, bench.DATA, out)
    args = json.loads(env["KATIB_LLM_TRAINING_ARGS"])
    env["KATIB_LLM_TRAINING_ARGS"] = json.dumps({**args, "max_steps": bench.EVAL_STEPS})  # stop at the 1st evaluation
    env["KATIB_LLM_HPARAMS"] = json.dumps({"learning_rate": "0.004"})
    env["KATIB_LLM_DATA_CACHE_DIR"] = str(cache)
    env["KATIB_LLM_NUM_THREADS"] = "1"
    return env


def one_trial(env: dict[str, str], base_model: Any = None) -> dict[str, float]:
    """Run the trainer once with its stages timed; returns stage -> seconds (and ``total``)."""
    import peft
    import transformers

    from katib_llm.runtime import tokenized
    from katib_llm.runtime import trainer as kt

    clock = Clock()
    model_class = getattr(transformers, "AutoModelForSequenceClassification")
    saved = [(transformers.AutoTokenizer, "from_pretrained"), (tokenized, "prepared"), (model_class, "from_pretrained"),
             (peft, "get_peft_model"), (transformers.Trainer, "__init__"), (transformers.Trainer, "train")]
    originals = [getattr(o, n) for o, n in saved]
    clock.wrap(transformers.AutoTokenizer, "from_pretrained", "tokenizer")
    clock.wrap(tokenized, "prepared", "tokenized_data")
    clock.wrap(model_class, "from_pretrained", "model",
               (lambda *a, **k: copy.deepcopy(base_model)) if base_model is not None else None)
    clock.wrap(peft, "get_peft_model", "lora")
    clock.wrap(transformers.Trainer, "__init__", "trainer_init")
    clock.wrap(transformers.Trainer, "train", "train_to_first_eval")
    start = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            kt.run(kt.read_inputs([], env))
    finally:
        for (owner, name), original in zip(saved, originals):
            setattr(owner, name, original)
    return {**clock.stages, "total": time.perf_counter() - start}


def in_child(env: dict[str, str], base_model: Any = None) -> dict[str, float]:
    """``one_trial`` in a forked child (the warm pool's way); its timings come back through a pipe."""
    read, write = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: run, report, exit without the parent's cleanup
        os.close(read)
        try:
            os.write(write, json.dumps(one_trial(env, base_model)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as fh:
        raw = fh.read()
    os.waitpid(pid, 0)
    return {**json.loads(raw), "fork_to_exit": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--task", default="reviews")
    ap.add_argument("--out", default=str(ROOT / "docs" / "img" / "trial_startup.json"))
    args = ap.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = "1"
    from katib_llm.runtime import trainer as kt

    kt.preimport()  # what the warm pool's forkserver does before it forks trials
    work = Path(tempfile.mkdtemp(prefix="trial-startup-"))
    env = trial_env(args.task, work / "out", work / "tokenized")
    os.environ.update(env)  # the trainer reads the cache directory and thread count from its environment
    in_child(env)  # builds the tokenized-data cache once, as the run's first trial does
    rows: dict[str, list[dict[str, float]]] = {"child": [], "child-weights": [], "in-process": [],
                                               "child-of-trained-parent": []}
    for rep in range(args.reps):
        rows["child"].append(in_child(env))
        print("child", {k: round(v, 3) for k, v in rows["child"][-1].items()}, flush=True)
    import torch
    import transformers

    torch.set_num_threads(1)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        base = transformers.AutoModelForSequenceClassification.from_pretrained(
            env["KATIB_LLM_MODEL_DIR"], num_labels=json.loads(env["KATIB_LLM_DATASET_CONFIG"])["num_labels"],
            ignore_mismatched_sizes=True)
    for rep in range(args.reps):
        rows["child-weights"].append(in_child(env, base))
        print("child-weights", {k: round(v, 3) for k, v in rows["child-weights"][-1].items()}, flush=True)
    one_trial(env)  # untimed: the in-process search's first trial pays the one-time costs
    for rep in range(args.reps):
        rows["in-process"].append(one_trial(env))
        print("in-process", {k: round(v, 3) for k, v in rows["in-process"][-1].items()}, flush=True)
    for rep in range(args.reps):  # this process has now run whole trials: what a fully warmed parent gives
        rows["child-of-trained-parent"].append(in_child(env))
        print("child-of-trained-parent", {k: round(v, 3) for k, v in rows["child-of-trained-parent"][-1].items()},
              flush=True)
    medians = {mode: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for mode, runs in rows.items()}
    result = {"utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "load": os.getloadavg(),
              "task": args.task, "reps": args.reps, "rows": rows, "median": medians}
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(medians, indent=1))
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
