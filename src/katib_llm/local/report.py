"""The end of a run: results table, best hyperparameters, plots (PNG + the HTML report), best adapter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from .results import LocalResult, TrialResult


def results_table(result: LocalResult) -> Any:
    """A rich Table of every trial, best marked."""
    from rich.table import Table

    objective = result.experiment["spec"]["objective"]["objectiveMetricName"]
    names = [p["name"] for p in result.experiment["spec"].get("parameters") or []]
    caption = "; ".join(f"{name}: used {used}, left {left}" for name, used, left in result.budget)
    table = Table(title=f"Experiment {result.experiment['metadata'].get('name')}: "
                        f"{result.condition} ({result.reason})" + (f" - {result.message}" if result.message else ""),
                  caption=f"budget {caption}" if caption else None)
    for col in ["trial", "state", objective, *names, "wall s", "overhead s"]:
        table.add_column(col, justify="right" if col not in ("trial", "state") else "left")
    for t in sorted(result.trials, key=lambda t: t.number):
        mark = " *" if result.best is not None and t.number == result.best.number else ""
        mark += " P" if any(f.number == t.number for f in result.pareto_front) else ""
        table.add_row(t.name + mark, t.state + (f" ({t.reason})" if t.reason else ""), _fmt(t.objective), *[_short(t.assignments.get(n, "")) for n in names],
                      _fmt(t.wall_time, 1), _fmt(t.overhead, 2))
    return table


def _short(value: str) -> str:
    """Parameter values at 4 significant digits for the table (results.json keeps them all)."""
    try:
        number = float(value)
    except ValueError:
        return value
    return value if number.is_integer() and "." not in value and "e" not in value else f"{number:.4g}"


def _fmt(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def summary(result: LocalResult) -> dict[str, Any]:
    """JSON-ready results (written to results.json)."""
    def trial(t: TrialResult) -> dict[str, Any]:
        return {"name": t.name, "number": t.number, "state": t.state, "objective": t.objective,
                "parameters": t.parameters, "assignments": t.assignments, "metrics": t.metrics,
                "wall_time": t.wall_time, "trainer_time": t.trainer_time, "overhead": t.overhead,
                "attempts": t.attempts, "reason": t.reason, **({"objectives": t.objectives} if t.objectives else {})}
    return {"experiment": result.experiment["metadata"].get("name"), "condition": result.condition,
            "reason": result.reason, "message": result.message,
            "budget": [{"limit": n, "used": u, "left": left} for n, u, left in result.budget],
            "best_trial": result.best.name if result.best else None,
            "optimal_hyperparameters": result.optimal_hyperparameters, "warm_start": result.warm_start,
            "objective_metric": result.experiment["spec"]["objective"]["objectiveMetricName"],
            **({"objectives": [{"metric": n, "direction": d} for n, d in result.objectives],
                "pareto_front": [{"name": t.name, "objectives": t.objectives, "parameters": t.parameters}
                                 for t in result.pareto_front]} if result.objectives else {}),
            "trials": [trial(t) for t in sorted(result.trials, key=lambda t: t.number)]}


def _png(result: LocalResult, objective: str, path_objective: Path, path_curves: Path) -> None:
    # matplotlib's Figure without pyplot: no backend switch under a notebook's inline backend.
    from matplotlib.figure import Figure

    trials = sorted(result.trials, key=lambda t: t.number)
    colours = {"Succeeded": "tab:green", "EarlyStopped": "tab:orange", "Failed": "tab:red",
               "MetricsUnavailable": "tab:gray", "Running": "tab:blue"}
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    for st, colour in colours.items():
        pts = [(t.number, t.objective if t.objective is not None else (t.metrics.get(objective) or [None])[-1])
               for t in trials if t.state == st]
        pts = [(x, y) for x, y in pts if y is not None]
        if pts:
            ax.scatter(*zip(*pts), label=st, color=colour)
    ax.set_xlabel("trial")
    ax.set_ylabel(objective)
    ax.set_title("Objective by trial")
    if ax.get_legend_handles_labels()[0]:  # nothing to label when no trial reported the objective
        ax.legend()
    fig.tight_layout()
    fig.savefig(path_objective, dpi=100)
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    for t in trials:
        values = t.metrics.get(objective) or []
        if values:
            ax.plot(range(1, len(values) + 1), values, marker=".", color=colours.get(t.state, "black"), alpha=0.7)
    ax.set_xlabel("report")
    ax.set_ylabel(objective)
    ax.set_title("Intermediate values (colour = final state)")
    fig.tight_layout()
    fig.savefig(path_curves, dpi=100)


def _pareto_png(result: LocalResult, path: Path) -> None:
    """The first two objectives of every Succeeded trial, the Pareto front joined up."""
    # matplotlib's Figure without pyplot: no backend switch under a notebook's inline backend.
    from matplotlib.figure import Figure

    (x, dx), (y, dy) = result.objectives[:2]
    done = [t for t in result.trials if t.state == "Succeeded" and t.objectives]
    front = sorted(result.pareto_front, key=lambda t: t.objectives[x])  # type: ignore[index]
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    ax.scatter([t.objectives[x] for t in done], [t.objectives[y] for t in done], color="tab:gray",  # type: ignore[index]
               label="Succeeded trials")
    ax.step([t.objectives[x] for t in front], [t.objectives[y] for t in front], where="post",  # type: ignore[index]
            color="tab:red", marker="o", label="Pareto front")
    ax.set_xlabel(f"{x} ({dx})")
    ax.set_ylabel(f"{y} ({dy})")
    ax.set_title("Pareto front")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_report(result: LocalResult) -> dict[str, Path]:
    """Write results.json, objective.png, intermediate.png, report.html and best/ into the work dir."""
    root = Path(result.workdir)
    objective = result.experiment["spec"]["objective"]["objectiveMetricName"]
    artifacts = {"results": root / "results.json", "objective_png": root / "objective.png",
                 "intermediate_png": root / "intermediate.png", "html": root / "report.html"}
    tmp = artifacts["results"].with_suffix(".tmp")
    tmp.write_text(json.dumps(summary(result), indent=2, default=str))
    tmp.replace(artifacts["results"])
    _png(result, objective, artifacts["objective_png"], artifacts["intermediate_png"])
    # The same report as KatibClient.report(): best so far, slices, importance, parallel
    # coordinates, intermediate curves; read back from the journal like any later reader.
    from .status import read_run
    from .studyreport import build_report

    run = read_run(root)
    build_report(run.experiment, run.trials, run.metrics).save(root)
    if result.objectives:
        artifacts["pareto_png"] = root / "pareto.png"
        _pareto_png(result, artifacts["pareto_png"])
    best = result.best
    if best is not None and best.output_dir is not None and best.output_dir.is_dir():
        target = root / "best"
        staging = root / ".best.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(best.output_dir, staging)
        (staging / "trial.json").write_text(json.dumps(
            {"trial": best.name, "objective": best.objective, "parameters": best.parameters}, indent=2))
        shutil.rmtree(target, ignore_errors=True)
        staging.replace(target)
        artifacts["best"] = target
    result.artifacts.update(artifacts)
    return artifacts
