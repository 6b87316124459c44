"""LoRA fine-tuning trial: transformers Trainer + PEFT, configured by the katib-llm env contract.

Run as ``torchrun --nproc-per-node=N -m katib_llm.runtime.trainer`` (what the trial templates
do) or ``python -m katib_llm.runtime.trainer``. Inputs arrive as environment variables that the
admission core injects (they survive Katib's ``sh -c`` rewrite of the primary container);
command-line options of the same names override them, e.g. ``--model-dir`` for
``KATIB_LLM_MODEL_DIR``.

Every evaluation prints metric lines (``katib_llm.core.metrics.metric_lines``) that Katib's
StdOut collector picks up through ``METRICS_FILTER``: what transformers' ``Trainer.evaluate()``
reports (all ``eval_*``), the epoch, ``eval_accuracy`` and, for causal LMs, ``eval_perplexity``;
the end of training prints what ``Trainer.train()`` reports (``train_runtime``,
``train_samples_per_second``, ``train_steps_per_second``, ``total_flos``, ``train_loss``).
``katib_llm.core.metrics.trainer_metrics`` lists them all. The LoRA adapter and ``metrics.json``
are written to ``KATIB_LLM_OUTPUT_DIR``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from katib_llm.core.limits import STEP_METRIC
from katib_llm.core.metrics import metric_lines
from katib_llm.core.trialenv import TrialEnv
from katib_llm.core.noops import TRAINER_DEFAULTS

from . import tracking
from .data import DatasetConfig
from .decisions import DecisionClient
from .errors import OneLineArgumentParser, RuntimeInputError
from .hparams import TrialSettings, parse_json_object, settings_from

SUPPORTED_CLASSES = ("AutoModelForSequenceClassification", "AutoModelForCausalLM")
# option name -> environment variable of the contract
ENV = {
    "model_dir": TrialEnv.MODEL_DIR,
    "dataset_dir": TrialEnv.DATASET_DIR,
    "dataset_split": TrialEnv.DATASET_SPLIT,
    "dataset_name": TrialEnv.DATASET_NAME,
    "model_class": TrialEnv.MODEL_CLASS,
    "output_dir": TrialEnv.OUTPUT_DIR,
    "hparams": TrialEnv.HPARAMS,
    "training_args": TrialEnv.TRAINING_ARGS,
    "lora_config": TrialEnv.LORA_CONFIG,
    "dataset_config": TrialEnv.DATASET_CONFIG,
    "metrics_file": TrialEnv.METRICS_FILE,
}
REQUIRED = ("model_dir", "dataset_dir", "output_dir")


def preimport() -> None:
    """Import the heavy libraries without starting threads or running torch ops.

    The local backend calls this once, then forks warm worker processes that run ``main``.
    """
    import datasets  # noqa: F401
    import peft  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401


@dataclass(frozen=True)
class TrialInputs:
    """Everything one trial needs, read from the environment and the command line."""

    model_dir: Path
    dataset_dir: Path
    output_dir: Path
    model_class: str
    dataset_split: str | None
    dataset_name: str | None
    metrics_file: Path | None
    settings: TrialSettings
    dataset: DatasetConfig
    hparams: dict[str, Any]


def _parser() -> argparse.ArgumentParser:
    p = OneLineArgumentParser(prog="python -m katib_llm.runtime.trainer",
                              description="LoRA fine-tuning trial; every option defaults to its KATIB_LLM_* variable.")
    for option, env in ENV.items():
        p.add_argument("--" + option.replace("_", "-"), dest=option, default=None, help=f"overrides {env}")
    return p


def read_inputs(argv: Sequence[str] | None, environ: Mapping[str, str]) -> TrialInputs:
    """Parse and type the trial's inputs; raises RuntimeInputError naming the bad one."""
    args = vars(_parser().parse_args(list(argv or [])))
    raw = {k: (args[k] if args[k] is not None else environ.get(env)) for k, env in ENV.items()}
    for key in REQUIRED:
        if not raw[key]:
            raise RuntimeInputError(f"{ENV[key]} is not set (or pass --{key.replace('_', '-')})")
    model_dir = Path(raw["model_dir"])
    if not (model_dir / "config.json").is_file():
        raise RuntimeInputError(f"{TrialEnv.MODEL_DIR} {model_dir} holds no model (no config.json); "
                                "did the storage initializer run?")
    model_class = raw["model_class"] or "AutoModelForSequenceClassification"
    if model_class not in SUPPORTED_CLASSES:
        raise RuntimeInputError(f"{TrialEnv.MODEL_CLASS} {model_class!r} is not supported; accepted: "
                                + ", ".join(SUPPORTED_CLASSES))
    hparams = parse_json_object(raw["hparams"], TrialEnv.HPARAMS)
    settings = settings_from(hparams, parse_json_object(raw["training_args"], TrialEnv.TRAINING_ARGS),
                             parse_json_object(raw["lora_config"], TrialEnv.LORA_CONFIG))
    try:
        dataset = DatasetConfig.from_mapping(parse_json_object(raw["dataset_config"], TrialEnv.DATASET_CONFIG))
    except TypeError as exc:
        raise RuntimeInputError(f"{TrialEnv.DATASET_CONFIG}: {exc}") from None
    return TrialInputs(model_dir=model_dir, dataset_dir=Path(raw["dataset_dir"]), output_dir=Path(raw["output_dir"]),
                       model_class=model_class, dataset_split=raw["dataset_split"] or None,
                       dataset_name=raw["dataset_name"] or None,
                       metrics_file=Path(raw["metrics_file"]) if raw["metrics_file"] else None,
                       settings=settings, dataset=dataset, hparams=hparams)


class MetricPrinter:
    """Prints one metric line per value on the main process, flushed, after every evaluation."""

    def __init__(self, metrics_file: Path | None, causal: bool) -> None:
        self.metrics_file = metrics_file
        self.causal = causal
        self.history: list[dict[str, float]] = []

    def emit(self, metrics: Mapping[str, Any], history: bool = True) -> dict[str, float]:
        """Print every number of ``metrics`` (one evaluation's, or ``history=False`` the end of
        training's); NaN and infinity are left out with a notice (core.metrics.metric_lines)."""
        values = {k: float(v) for k, v in metrics.items()
                  if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if self.causal and "eval_loss" in values:
            values["eval_perplexity"] = _perplexity(values["eval_loss"])
        lines = metric_lines(values)
        print("\n".join(lines), flush=True)
        if self.metrics_file:
            self.metrics_file.parent.mkdir(parents=True, exist_ok=True)
            with self.metrics_file.open("a") as fh:
                fh.write("\n".join(lines) + "\n")
        if history:
            self.history.append(values)
        return values


def _perplexity(loss: float) -> float:
    """exp(eval_loss), infinite on overflow (transformers' examples/pytorch/language-modeling/run_clm.py)."""
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


def _callback(printer: MetricPrinter, decisions: DecisionClient | None = None) -> Any:
    from transformers import TrainerCallback

    class _PrintMetrics(TrainerCallback):
        def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # noqa: ANN001
            if state.is_world_process_zero and metrics:
                # train_step: what a train_steps budget counts (katib_llm.core.limits).
                values = printer.emit({**metrics, "epoch": state.epoch or 0.0, STEP_METRIC: state.global_step})
                # ASHA: printed first (the collector reports them), then the decision for this rung.
                last = state.max_steps > 0 and state.global_step >= state.max_steps
                if decisions is not None and decisions.observe(values, last=last):
                    control.should_training_stop = True

    return _PrintMetrics()


def _training_arguments(inputs: TrialInputs, scratch: str) -> Any:
    import torch
    from transformers import TrainingArguments

    defaults: dict[str, Any] = dict(TRAINER_DEFAULTS)  # admission judges the schedule by these too
    if not torch.cuda.is_available():
        defaults.update(use_cpu=True, fp16=False, bf16=False)
        if "WORLD_SIZE" in os.environ:
            defaults["ddp_backend"] = "gloo"
    kwargs = {**defaults, **inputs.settings.training_args, "output_dir": scratch}
    run_name = tracking.apply(kwargs.get("report_to"), os.environ, inputs.hparams)
    if run_name:
        kwargs.setdefault("run_name", run_name)
    try:
        return TrainingArguments(**kwargs)
    except (ValueError, TypeError) as exc:
        raise RuntimeInputError(f"invalid training arguments: {str(exc).splitlines()[0]}") from None


def _lora(inputs: TrialInputs, causal: bool) -> Any:
    from peft import LoraConfig, TaskType

    kwargs = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.05,
              "task_type": TaskType.CAUSAL_LM if causal else TaskType.SEQ_CLS, **inputs.settings.lora_config}
    try:
        return LoraConfig(**kwargs)
    except (ValueError, TypeError) as exc:
        raise RuntimeInputError(f"invalid LoRA configuration: {str(exc).splitlines()[0]}") from None


def _accuracy(eval_pred: Any) -> dict[str, float]:
    import numpy as np

    preds, labels = eval_pred
    preds = preds[0] if isinstance(preds, tuple) else preds
    return {"accuracy": float((np.asarray(preds) == np.asarray(labels)).mean())}


def _token_accuracy(eval_pred: Any) -> dict[str, float]:
    """A causal LM's next-token accuracy, as transformers' run_clm.py computes it: the argmax at
    position i against the label at i+1, over the tokens the loss counts (label != -100)."""
    import numpy as np

    preds, labels = eval_pred
    preds = np.asarray(preds[0] if isinstance(preds, tuple) else preds)[:, :-1].reshape(-1)
    labels = np.asarray(labels)[:, 1:].reshape(-1)
    counted = labels != -100
    return {"accuracy": float((preds[counted] == labels[counted]).mean()) if counted.any() else 0.0}


def _argmax(logits: Any, labels: Any) -> Any:
    logits = logits[0] if isinstance(logits, tuple) else logits
    return logits.argmax(dim=-1)


def _save_adapter(model: Any, output_dir: Path, tokenizer: Any, inputs: TrialInputs) -> None:
    """Write the adapter, completed to load on another machine (tokenizer, labelled config, the
    base model by its source: :mod:`.portable`), via a temp dir so a crash never leaves a
    half-written file."""
    from .portable import complete_adapter

    output_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".adapter-", dir=output_dir))
    try:
        model.save_pretrained(str(tmp))
        id2label = getattr(model.get_base_model().config, "id2label", None) \
            if inputs.model_class != "AutoModelForCausalLM" else None
        labels = [str(id2label[i]) for i in sorted(id2label)] if id2label else None
        complete_adapter(tmp, model, tokenizer, inputs.model_dir, inputs.model_class, labels)
        (tmp / "README.md").unlink(missing_ok=True)  # peft's model card names the local base path
        for path in sorted(tmp.iterdir(), key=lambda p: p.name == "adapter_config.json"):  # the config last
            path.chmod(0o644)
            os.replace(path, output_dir / path.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def _seed(args: Any) -> None:
    """Seed every RNG before the model is built, as Trainer only seeds in its own constructor.

    The classification head and LoRA's A matrices are initialised randomly when the model is
    built, before ``Trainer(...)`` seeds; torch's initial seed differs per process, so without
    this a trial's result depended on the process it ran in (about 0.01 in eval_loss on the
    quickstart). ``seed`` and ``full_determinism`` are the TrainingArguments fields.
    """
    from transformers.trainer_utils import enable_full_determinism, set_seed

    if args.full_determinism:
        enable_full_determinism(args.seed)
    else:
        set_seed(args.seed)


def _tokenized(inputs: TrialInputs, causal: bool, tokenizer: Any) -> tuple[Any, Any, list[str]]:
    """(train, eval, the classifier's label names by id; none for a causal LM): built here, or loaded from the Experiment's shared cache
    (:mod:`.tokenized`, ``KATIB_LLM_DATA_CACHE_DIR``) where an earlier trial built them."""
    from . import data, tokenized
    from .portable import label_names

    cfg = inputs.dataset

    def build() -> tuple[Any, Any, list[str]]:
        train_raw, eval_raw = data.load_splits(inputs.dataset_dir, inputs.dataset_split, inputs.dataset_name, cfg)
        columns = [cfg.text_column] + ([] if causal else [cfg.label_column]) + \
            ([cfg.text_pair_column] if cfg.text_pair_column else [])
        data.check_columns(train_raw, columns, "training")
        data.check_columns(eval_raw, columns, "eval")
        if causal:
            return data.tokenize_causal(train_raw, tokenizer, cfg), data.tokenize_causal(eval_raw, tokenizer, cfg), []
        num_labels, mapping = data.label_mapping(train_raw, cfg)
        names = label_names(train_raw, cfg.label_column, num_labels, mapping)  # saved with the adapter
        return (data.tokenize_classification(train_raw, tokenizer, cfg, mapping),
                data.tokenize_classification(eval_raw, tokenizer, cfg, mapping), names)

    def key() -> str:
        return tokenized.cache_key(inputs.model_dir, inputs.dataset_dir, inputs.dataset_split, inputs.dataset_name,
                                   cfg, inputs.model_class)

    made, how = tokenized.prepared(tokenized.cache_dir(os.environ), key, build)
    if how != "built":
        print(f"katib-llm trainer: tokenized dataset {how} from the Experiment's cache", file=sys.stderr, flush=True)
    return made


def _prepare(inputs: TrialInputs, causal: bool) -> tuple[Any, Any, Any, Any]:
    """Dataset, tokenization and the LoRA-wrapped model: (model, train, eval, collator)."""
    import transformers
    from peft import get_peft_model
    from transformers import AutoTokenizer, DataCollatorForLanguageModeling, DataCollatorWithPadding

    from .portable import labels_kwargs

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(inputs.model_dir))
    except (OSError, ValueError) as exc:
        raise RuntimeInputError(f"cannot load a tokenizer from {inputs.model_dir}: {str(exc).splitlines()[0]}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    auto = getattr(transformers, inputs.model_class)
    model_kwargs: dict[str, Any] = {}
    train_ds, eval_ds, names = _tokenized(inputs, causal, tokenizer)
    if causal:
        collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    else:
        collator = DataCollatorWithPadding(tokenizer)
        model_kwargs = {**labels_kwargs(names), "ignore_mismatched_sizes": True}
    try:
        model = auto.from_pretrained(str(inputs.model_dir), **model_kwargs)
    except (OSError, ValueError) as exc:
        raise RuntimeInputError(f"cannot load {inputs.model_class} from {inputs.model_dir}: "
                                f"{str(exc).splitlines()[0]}") from None
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    try:
        model = get_peft_model(model, _lora(inputs, causal))
    except ValueError as exc:
        raise RuntimeInputError(f"cannot apply LoRA: {str(exc).splitlines()[0]} "
                                "(set lora_config.target_modules)") from None
    return model, train_ds, eval_ds, collator


def run(inputs: TrialInputs) -> dict[str, float]:
    """Fine-tune, evaluate, print metrics, save the adapter. Returns the final metrics."""
    from transformers import Trainer

    causal = inputs.model_class == "AutoModelForCausalLM"
    printer = MetricPrinter(inputs.metrics_file, causal)
    # One process only: a stop decided on rank 0 alone would leave the other ranks waiting.
    decisions = DecisionClient.from_env(os.environ) if int(os.environ.get("WORLD_SIZE", "1")) == 1 else None
    with tempfile.TemporaryDirectory(prefix="katib-llm-trainer-") as scratch:
        args = _training_arguments(inputs, scratch)
        _seed(args)
        # Under torchrun, rank 0 builds the datasets cache first; the others then read it.
        with args.main_process_first(desc="dataset preparation"):
            model, train_ds, eval_ds, collator = _prepare(inputs, causal)
        trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                          data_collator=collator, callbacks=[_callback(printer, decisions)],
                          compute_metrics=_token_accuracy if causal else _accuracy,
                          preprocess_logits_for_metrics=_argmax)
        result = trainer.train()
        last_eval_step = max((h.get("step", -1) for h in trainer.state.log_history if "eval_loss" in h), default=-1)
        if last_eval_step != trainer.state.global_step:
            trainer.evaluate()  # the callback prints it
        if not trainer.is_world_process_zero():
            return {}
        # What Trainer.train() reports: train_runtime, train_*_per_second, total_flos, train_loss
        # (total_flos from the state: transformers' printing callbacks pop it from result.metrics).
        reported = {**result.metrics, "total_flos": trainer.state.total_flos, "epoch": trainer.state.epoch or 0.0}
        final = {**printer.history[-1], **printer.emit(reported, history=False)}
        _save_adapter(trainer.model, inputs.output_dir, collator.tokenizer, inputs)
    _write_json(inputs.output_dir / "metrics.json",
                {"final": final, "history": printer.history, "hyperparameters": inputs.hparams,
                 "settings": {"training_args": inputs.settings.training_args,
                              "lora_config": inputs.settings.lora_config},
                 "model_class": inputs.model_class, "world_size": int(os.environ.get("WORLD_SIZE", "1"))})
    if decisions is not None:
        if decisions.stopped:  # as Katib's collector: metrics reported, then SetTrialStatus, then exit
            decisions.mark_early_stopped()
        decisions.close()
    return final


def require_requested_gpus(env: Mapping[str, str]) -> None:
    """Refuse to train on CPU when the trial asked for GPUs (``KATIB_LLM_GPUS_PER_WORKER``, set by
    the webhook from resources-per-worker) and CUDA sees none: a silent CPU run would take hours
    and report metrics of the wrong hardware."""
    raw = env.get(TrialEnv.GPUS_PER_WORKER, "").strip()
    if not raw:
        return
    if not raw.isdigit():
        raise RuntimeInputError(f"{TrialEnv.GPUS_PER_WORKER} must be a whole number, got {raw!r}")
    if int(raw) == 0:
        return
    import torch

    if not torch.cuda.is_available():
        raise RuntimeInputError(
            f"this trial requests {raw} GPU(s) per worker (resources-per-worker) but CUDA sees none "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); refusing to train on CPU. "
            "Check the node's GPU driver and device plugin, or drop gpu from resources-per-worker to run on CPU")


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run one trial: 0 on success, 2 with a one-line error on bad input.

    ``argv`` holds trainer options only (None = none: a forked worker's ``sys.argv`` belongs to
    its parent); ``environ`` defaults to ``os.environ``. ``python -m`` passes ``sys.argv[1:]``.
    """
    env = os.environ if environ is None else environ
    try:
        require_requested_gpus(env)  # first: fail at once, before any input is read
        inputs = read_inputs(argv, env)
        threads = env.get(TrialEnv.NUM_THREADS, "")
        if threads:
            if not threads.isdigit() or int(threads) < 1:
                raise RuntimeInputError(f"{TrialEnv.NUM_THREADS} must be a positive integer, got {threads!r}")
            import torch

            torch.set_num_threads(int(threads))
        run(inputs)
    except RuntimeInputError as exc:
        print(f"katib-llm trainer: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except MemoryError:
        print("katib-llm trainer: error: out of memory; lower per_device_train_batch_size or max_length",
              file=sys.stderr, flush=True)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
