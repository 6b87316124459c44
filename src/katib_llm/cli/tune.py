"""``katib-llm tune FILE [--local]``: run an Experiment here, or submit it to the cluster.

Heavy imports (optuna, torch, the SDK client) happen inside the command only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from katib_llm.io.extras import require
from katib_llm.local.files import resolve_file_uris
from katib_llm.local.status import default_workdir


def register(sub: Any) -> None:
    p = sub.add_parser(
        "tune", help="run a labelled Experiment here (--local) or submit it to the cluster",
        description="Run a labelled Katib Experiment on this machine with --local (trials as local "
                    "processes, Optuna suggestions under Katib's algorithm names, resumable), or "
                    "submit it to the cluster's Katib. Relative file:// URIs in the model and "
                    "dataset annotations are resolved against FILE's directory for --local.")
    p.add_argument("file", help="YAML file with one labelled Experiment")
    p.add_argument("--local", action="store_true", help="run here instead of submitting to the cluster")
    p.add_argument("--workdir", default=None,
                   help="where the run keeps its state and report (default: runs/<experiment name>); "
                        "rerunning with the same work dir resumes")
    p.add_argument("--values", default=None, help="admin values (the chart's values.yaml or its config section)")
    p.add_argument("--namespace", default=None, help="namespace to submit to (cluster mode)")
    p.add_argument("--no-progress", action="store_true", help="no live display (also off when not a terminal)")
    p.add_argument("--overwrite", action="store_true",
                   help="--local: if the work dir holds a run of a different or changed Experiment, discard it "
                        "and start over (without it such a run is refused, naming what changed)")
    p.set_defaults(func=run)


def _load(path: str) -> dict[str, Any]:
    from katib_llm.io import read_documents

    try:
        docs = read_documents(path)
    except FileNotFoundError:
        raise SystemExit(f"katib-llm tune: {path}: no such file") from None
    except Exception as exc:  # yaml errors: report, no traceback
        raise SystemExit(f"katib-llm tune: {path}: not valid YAML: {exc}") from None
    exps = [d for d in docs if isinstance(d, dict) and d.get("kind") == "Experiment"]
    if len(exps) != 1:
        raise SystemExit(f"katib-llm tune: {path}: expected exactly one Experiment document, found {len(exps)}")
    return exps[0]


def run(args: argparse.Namespace) -> int:
    experiment = _load(args.file)
    if not args.local:
        return _submit(experiment, args.namespace)
    require("tune --local", ("matplotlib", "torch", "transformers", "peft"))
    from katib_llm.core.errors import AdmissionDenied

    from katib_llm.local.api import run_experiment
    from katib_llm.local.report import results_table
    from katib_llm.local.runner import LocalRunError
    from katib_llm.local.space import SpaceError
    from katib_llm.local.algorithms import AlgorithmError
    from katib_llm.local.steps import StepError

    try:
        experiment = resolve_file_uris(experiment, Path(args.file).resolve().parent)
    except ValueError as exc:
        print(f"katib-llm tune: {exc}", file=sys.stderr)
        return 1
    name = str((experiment.get("metadata") or {}).get("name") or "experiment")
    workdir = Path(args.workdir or default_workdir(name))
    try:
        result = run_experiment(experiment, workdir, values=args.values, progress=not args.no_progress,
                                overwrite=args.overwrite)
    except AdmissionDenied as exc:
        print("katib-llm tune: the Experiment was denied:", file=sys.stderr)
        for err in exc.errors:
            print(f"  {err}", file=sys.stderr)
        return 1
    except (LocalRunError, SpaceError, AlgorithmError, StepError) as exc:
        print(f"katib-llm tune: {exc}", file=sys.stderr)
        return 1
    from rich.console import Console

    console = Console() if sys.stdout.isatty() else Console(width=160)
    console.print(results_table(result))
    say = lambda text: console.print(text, highlight=False, markup=False)  # noqa: E731
    if result.best is not None:
        say(f"Best trial: {result.best.name}  {result.experiment['spec']['objective']['objectiveMetricName']}"
                      f" = {result.best.objective}")
        say("Optimal hyperparameters: " + ", ".join(f"{k}={v}" for k, v in result.optimal_hyperparameters.items()))
    else:
        say("No trial succeeded.")
    if result.condition != "Succeeded":
        say(f"Experiment {result.condition} ({result.reason}): {result.message}")
    for label, path in sorted(result.artifacts.items()):
        say(f"  {label}: {path}")
    # Non-zero when the experiment failed or no trial succeeded: there is nothing to use.
    return 0 if result.condition == "Succeeded" and result.best is not None else 1


def _submit(experiment: dict[str, Any], namespace: str | None) -> int:
    try:
        from katib_llm.sdk.client import submit_experiment
    except ImportError as exc:
        print(f"katib-llm tune: cluster submission is not available here ({exc}); use --local to run on this machine",
              file=sys.stderr)
        return 1
    try:
        created = submit_experiment(experiment, namespace)
    except Exception as exc:  # noqa: BLE001 - any client/transport error: say so, no traceback
        print(f"katib-llm tune: could not submit to the cluster: {exc}\n"
              "  check your kubeconfig (kubectl cluster-info), or run here with --local", file=sys.stderr)
        return 1
    meta = (created or {}).get("metadata") or {}
    print(f"experiment {meta.get('namespace', namespace or '')}/{meta.get('name', '')} created")
    return 0
