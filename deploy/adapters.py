"""Adapter promotion: the best trial's LoRA adapter to a stable ``best/`` path, the others pruned.

Trials write only their adapter and ``metrics.json`` to ``<mount>/experiments/<exp>/<trial>``
(the trainer does). When the Experiment succeeds, :func:`promote` copies the best trial's
directory to ``<mount>/experiments/<exp>/best`` atomically (staging dir + rename, so a reader
never sees half an adapter) and deletes the other trial directories unless ``retain`` is set
(annotation ``llm.katib.kubeflow.org/retain-trials``). The best trial's own directory is kept.
Optionally the adapter is merged into the base model under ``best/merged`` — KServe's
Hugging Face backend has no LoRA option (see docs/advanced.md), so a classifier is served merged.

Run on the cluster as ``python -m katib_llm.deploy.adapters`` by the Job :func:`promotion_job`
builds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

ADAPTER_FILES = ("adapter_config.json",)
BEST = "best"
MERGED = "merged"
# Katib trial names are DNS-1123 labels; anything else must never reach a filesystem path.
_TRIAL_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_RESERVED = {BEST, "inputs", "cache", "trials", "volume"}


class PromotionError(ValueError):
    """Promotion cannot proceed; nothing was changed."""


@dataclass(frozen=True)
class TrialResult:
    """One trial as far as promotion is concerned."""

    name: str
    objective: float | None = None
    succeeded: bool = True


@dataclass
class PromotionResult:
    best: Path
    trial: str
    pruned: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    merged: Path | None = None


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _TRIAL_NAME.match(name) or len(name) > 253 or name in _RESERVED:
        raise PromotionError(f"{what} {name!r} is not a trial name (a lower-case DNS-1123 label, not one of "
                             f"{', '.join(sorted(_RESERVED))})")
    return name


def best_trial(trials: Iterable[TrialResult], maximize: bool) -> TrialResult:
    """The succeeded trial with the best objective (first one wins a tie)."""
    scored = [t for t in trials if t.succeeded and t.objective is not None]
    if not scored:
        raise PromotionError("no succeeded trial reported the objective metric; nothing to promote")
    return (max if maximize else min)(scored, key=lambda t: t.objective)  # type: ignore[arg-type,return-value]


def promote(experiment_dir: str | Path, trials: Sequence[TrialResult], best: str | None = None, *,
            retain: bool = False, maximize: bool = True) -> PromotionResult:
    """Copy the best trial's adapter to ``experiment_dir/best``; prune the others unless ``retain``.

    ``best`` names the best trial (Katib's ``status.currentOptimalTrial.bestTrialName``); when
    None it is chosen from ``trials`` by objective. Only directories of the listed trials are
    ever deleted. Idempotent: promoting again gives the same tree.

    >>> promote("/workspace/experiments/exp", [TrialResult("exp-a", 0.8), TrialResult("exp-b", 0.9)])  # doctest: +SKIP
    PromotionResult(best=PosixPath('/workspace/experiments/exp/best'), trial='exp-b', pruned=['exp-a'], ...)
    """
    root = Path(experiment_dir)
    if not root.is_dir():
        raise PromotionError(f"experiment directory {root} does not exist")
    names = [_check_name(t.name, "trial") for t in trials]
    chosen = _check_name(best, "best trial") if best is not None else best_trial(trials, maximize).name
    if chosen not in names:
        raise PromotionError(f"best trial {chosen!r} is not among the trials given: {', '.join(names) or '(none)'}")
    source = root / chosen
    target = root / BEST
    record = next(t for t in trials if t.name == chosen)
    if not (source / ADAPTER_FILES[0]).is_file():
        if (target / "trial.json").is_file() and json.loads((target / "trial.json").read_text()).get("trial") == chosen:
            pass  # already promoted (its trial dir may have been removed since): just prune
        else:
            raise PromotionError(f"trial {chosen!r} has no adapter in {source} (expected {ADAPTER_FILES[0]}); "
                                 "did the trial run the katib-llm trainer?")
    else:
        _replace_dir(source, target, {"trial": chosen, "objective": record.objective})
    result = PromotionResult(best=target, trial=chosen)
    for name in names:
        if name == chosen:
            continue
        path = root / name
        if retain:
            if path.exists():
                result.kept.append(name)
            continue
        if path.is_symlink():
            path.unlink()
            result.pruned.append(name)
        elif path.is_dir():
            shutil.rmtree(path)
            result.pruned.append(name)
    return result


def promote_local(result: Any, retain: bool | None = None) -> PromotionResult | None:
    """Promote (and prune) the trials of a local run: ``katib_llm.local.run_experiment``'s result.

    The local backend keeps trial outputs where the cluster does (``<volume>/experiments/<exp>/
    <trial>``); ``retain`` defaults to the Experiment's ``retain-trials`` annotation. Returns None
    when the run has no best trial.
    """
    best = getattr(result, "best", None)
    if best is None or getattr(best, "output_dir", None) is None:
        return None
    if retain is None:
        annotations = ((result.experiment.get("metadata") or {}).get("annotations") or {})
        retain = str(annotations.get("llm.katib.kubeflow.org/retain-trials", "")).strip().lower() == "true"
    trials = [TrialResult(t.name, t.objective, str(t.state) == "Succeeded") for t in result.trials]
    return promote(Path(best.output_dir).parent, trials, best.name, retain=retain)


def _replace_dir(source: Path, target: Path, info: dict[str, Any]) -> None:
    """Copy ``source`` to ``target`` atomically: stage, then swap by rename."""
    staging = target.with_name(f".{target.name}.tmp")
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, symlinks=False,
                    ignore=shutil.ignore_patterns(".adapter-*", ".*.tmp", MERGED))
    (staging / "trial.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def merge_adapter(model_dir: str | Path, adapter_dir: str | Path, model_class: str,
                  output_dir: str | Path | None = None) -> Path:
    """Merge a LoRA adapter into its base model and save a plain transformers model.

    Written to ``adapter_dir/merged`` by default (staged, then renamed). Needs torch,
    transformers and peft (the runtime image has them).
    """
    import transformers
    from peft import PeftModel

    from .model import load_base

    adapter = Path(adapter_dir)
    out = Path(output_dir) if output_dir else adapter / MERGED
    base, tokenizer = load_base(Path(model_dir), adapter, model_class)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    staging = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    merged.save_pretrained(str(staging))
    tokenizer.save_pretrained(str(staging))
    del transformers
    shutil.rmtree(out, ignore_errors=True)
    os.replace(staging, out)
    return out


# ---- the cluster side ------------------------------------------------------------------------

def promotion_job(experiment: dict[str, Any], config: Any) -> dict[str, Any]:
    """The ``batch/v1`` Job that promotes an Experiment's best adapter on the shared volume.

    Pure: built from the Experiment (with ``status.currentOptimalTrial`` and
    ``status.trials``-style information read by the caller) and the admin configuration. A
    reconciler creates it when the Experiment succeeds; ``katib-llm deploy --promotion-job``
    prints it.
    """
    from katib_llm.core.contract import parse_annotations
    from katib_llm.core.inject import VOLUME_NAME

    from .kserve import DeployError, claim_for, experiment_facts

    facts = experiment_facts(experiment, config)
    llm, _ = parse_annotations(experiment, set(config.providers), config.max_workers)
    mount = config.mount_path
    exp_dir = f"{mount}/experiments/{facts.name}"
    args = ["--experiment-dir", exp_dir, "--best", facts.best_trial,
            "--objective-type", facts.objective_type]
    for trial in facts.trials:
        args += ["--trial", trial]
    if llm.retain_trials:
        args.append("--retain")
    if facts.model_dir and llm.model_class != "AutoModelForCausalLM":
        args += ["--merge", "--model-dir", f"{mount}/inputs/{facts.model_key}", "--model-class", llm.model_class]
    if not facts.best_trial:
        raise DeployError(f"Experiment {facts.name} has no best trial yet")
    name = f"{facts.name}"[:52].rstrip("-") + "-promote"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": facts.namespace,
                     "labels": {"llm.katib.kubeflow.org/experiment": facts.name,
                                "app.kubernetes.io/component": "adapter-promotion"}},
        "spec": {
            "backoffLimit": 1,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"annotations": {"sidecar.istio.io/inject": "false"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{
                        "name": "promote",
                        "image": config.runtime_image,
                        "imagePullPolicy": config.pull_policy,
                        "command": ["python", "-m", "katib_llm.deploy.adapters"],
                        "args": args,
                        "volumeMounts": [{"name": VOLUME_NAME, "mountPath": mount}],
                        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    }],
                    "volumes": [{"name": VOLUME_NAME,
                                 "persistentVolumeClaim": {"claimName": claim_for(experiment, config)}}],
                },
            },
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m katib_llm.deploy.adapters``: promote (and optionally merge); 2 on bad input."""
    p = argparse.ArgumentParser(prog="python -m katib_llm.deploy.adapters",
                                description="Promote the best trial's adapter to <experiment-dir>/best.")
    p.add_argument("--experiment-dir", required=True)
    p.add_argument("--trial", action="append", default=[], help="a trial of the Experiment (repeatable)")
    p.add_argument("--best", help="the best trial (default: from each trial's metrics.json)")
    p.add_argument("--objective-type", choices=("maximize", "minimize"), default="maximize")
    p.add_argument("--objective-metric", default="eval_accuracy")
    p.add_argument("--retain", action="store_true", help="keep the other trials' directories")
    p.add_argument("--merge", action="store_true", help="also write best/merged (base model + adapter)")
    p.add_argument("--model-dir")
    p.add_argument("--model-class", default="AutoModelForSequenceClassification")
    args = p.parse_args(argv)
    root = Path(args.experiment_dir)
    trials = [TrialResult(name, _objective(root / name, args.objective_metric)) for name in args.trial]
    try:
        result = promote(root, trials, args.best, retain=args.retain, maximize=args.objective_type == "maximize")
        if args.merge:
            if not args.model_dir:
                raise PromotionError("--merge needs --model-dir (the base model the trials fine-tuned)")
            result.merged = merge_adapter(args.model_dir, result.best, args.model_class)
    except PromotionError as exc:
        print(f"katib-llm promote: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"best": str(result.best), "trial": result.trial, "pruned": result.pruned,
                      "kept": result.kept, "merged": str(result.merged) if result.merged else None}))
    return 0


def _objective(trial_dir: Path, metric: str) -> float | None:
    try:
        final = json.loads((trial_dir / "metrics.json").read_text()).get("final") or {}
        value = final.get(metric)
        return float(value) if value is not None else None
    except (OSError, ValueError, AttributeError):
        return None


if __name__ == "__main__":
    sys.exit(main())
