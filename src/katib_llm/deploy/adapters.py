"""Adapter promotion on the cluster: the Job that runs it, its entrypoint, and merging.

The promotion itself (best trial's adapter to ``best/``, the others pruned) is
:mod:`katib_llm.runtime.promotion`; this module adds what only the cluster and serving need:
``python -m katib_llm.deploy.adapters`` (run by the Job :func:`promotion_job` builds) and
:func:`merge_adapter` (KServe's Hugging Face backend has no LoRA option, so a classifier is
served merged).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Sequence

from katib_llm.core.contract import EXPERIMENT_LABEL
from katib_llm.runtime.promotion import MERGED, PromotionError, TrialResult, promote

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
                     "labels": {EXPERIMENT_LABEL: facts.name,
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
