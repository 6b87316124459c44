"""Which optional extra a command (or SDK call) needs, and one line naming it when it is not installed.

A plain ``pip install katib-llm`` is the SDK and the admission CLI; the webhook server, the trial
runtime and the local backend come with extras. A command that needs one checks for it first,
so a missing extra is one line (``pip install 'katib-llm[local]'``), not a traceback.
"""

from __future__ import annotations

import importlib.util

# Import name -> the extra that installs it (see pyproject.toml).
EXTRA_OF = {
    "torch": "train", "transformers": "train", "peft": "train", "accelerate": "train", "datasets": "train",
    "huggingface_hub": "train", "boto3": "train", "filelock": "train", "safetensors": "train",
    "matplotlib": "local", "cmaes": "local", "scipy": "local",
    "flask": "webhook", "gunicorn": "webhook", "cryptography": "webhook", "prometheus_client": "webhook",
}


class MissingExtra(RuntimeError):
    """A command's optional dependencies are not installed; ``str()`` is the one line to print."""


def missing(modules: tuple[str, ...]) -> list[str]:
    """The modules of ``modules`` that cannot be imported here (found without importing them)."""
    out = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules
            found = False
        if not found:
            out.append(name)
    return out


def require(command: str, modules: tuple[str, ...]) -> None:
    """Raise :class:`MissingExtra` naming the extra when one of ``modules`` is missing."""
    absent = missing(modules)
    if absent:
        extra = EXTRA_OF.get(absent[0], "local")
        raise MissingExtra(f"katib-llm {command}: needs the [{extra}] extra (missing: {', '.join(absent)}); "
                           f"install it with: pip install 'katib-llm[{extra}]'")


def message_for(exc: ModuleNotFoundError, command: str) -> str | None:
    """The one line for an import of an extra's module that failed mid-command, else None."""
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return None
    return (f"katib-llm {command}: needs the [{extra}] extra (missing: {top}); "
            f"install it with: pip install 'katib-llm[{extra}]'")
