"""The ``katib-llm`` command: one console script, subcommands contributed by each layer.

Each layer module listed in ``COMMAND_MODULES`` exposes ``register(subparsers)`` which adds its
subcommands and sets ``func`` (returning an exit code). Modules import heavy libraries only
inside their ``func``, so ``katib-llm --help`` stays fast and torch-free.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

COMMAND_MODULES = (
    "katib_llm.cli.admission",     # mutate, validate, submit-side of tune, providers
    "katib_llm.cli.webhook",      # webhook, certs
    "katib_llm.cli.tune",        # tune --local
    "katib_llm.cli.runtime",      # initialize, train (trial runtime entrypoints)
    "katib_llm.cli.deploy",       # deploy
    "katib_llm.cli.earlystopping",  # earlystopping (Katib early-stopping service)
    "katib_llm.cli.katib_config",   # katib-config register|unregister (the chart's hook)
    "katib_llm.cli.results",      # report
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="katib-llm",
        description="Hyperparameter tuning of LLM fine-tuning for Kubeflow Katib.")
    from katib_llm import __version__
    parser.add_argument("--version", action="version", version=f"katib-llm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that layer is not built (or not installed) here
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from katib_llm.io.extras import MissingExtra, message_for

    try:
        return int(args.func(args) or 0)
    except MissingExtra as exc:  # one line naming the extra, no traceback
        print(exc, file=sys.stderr)
        return 1
    except ModuleNotFoundError as exc:
        line = message_for(exc, str(args.command))
        if line is None:
            raise
        print(line, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error of ours.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
