"""Run a Python objective function as a Katib trial (``python -m katib_llm.runtime.function_trial``).

Inputs arrive as environment variables the webhook injects (they survive Katib's ``sh -c``
rewrite of the primary container):

* ``KATIB_LLM_FUNCTION``: base64 of ``{"name": ..., "source": ...}`` (``tune(objective=fn)``);
* ``KATIB_LLM_HPARAMS``: JSON object name → value as a string (Katib substitutes them);
* ``KATIB_LLM_PACKAGES`` / ``KATIB_LLM_PIP_INDEX_URLS``: JSON lists, installed first if any.

The function gets the hyperparameters with numeric-looking strings cast to int/float; the
dict it returns is printed one metric per line in the format the metrics collector filters.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from typing import Any, Callable

from katib_llm.core.metrics import metric_lines
from katib_llm.core.trialenv import TrialEnv

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")


class TrialError(Exception):
    """A problem with the trial's inputs or its function: reported on stderr, exit 2."""


def typed(value: str) -> Any:
    """``"16"`` → 16, ``"3e-05"`` → 3e-05, anything else unchanged."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return value


def _json_env(env: dict[str, str], name: str, kind: type, default: Any) -> Any:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise TrialError(f"{name} is not valid JSON ({exc})") from None
    if not isinstance(value, kind):
        raise TrialError(f"{name} must be a JSON {kind.__name__}, got {type(value).__name__}")
    return value


def load_function(encoded: str) -> Callable[..., Any]:
    """Decode and define the shipped function; return it."""
    try:
        data = json.loads(base64.b64decode(encoded.encode(), validate=True).decode())
        name, source = data["name"], data["source"]
    except (ValueError, KeyError, TypeError) as exc:
        raise TrialError(f'KATIB_LLM_FUNCTION must be base64 of {{"name": ..., "source": ...}} ({exc})') from None
    namespace: dict[str, Any] = {"__name__": "__katib_llm_objective__"}
    try:
        exec(compile(source, f"<objective {name}>", "exec"), namespace)  # noqa: S102 - the user's own function
    except Exception as exc:  # noqa: BLE001 - report any definition failure clearly
        raise TrialError(f"defining objective {name!r} failed: {type(exc).__name__}: {exc}") from None
    fn = namespace.get(name)
    if not callable(fn):
        raise TrialError(f"the shipped source defines no function named {name!r}")
    return fn


def pip_command(packages: list[str], index_urls: list[str]) -> list[str]:
    """The pip invocation for the trial's extra packages (first URL is the index, others extra)."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if index_urls:
        cmd += ["--index-url", index_urls[0]]
        for url in index_urls[1:]:
            cmd += ["--extra-index-url", url]
    return cmd + list(packages)


def run(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    encoded = env.get(TrialEnv.FUNCTION)
    if not encoded:
        raise TrialError("KATIB_LLM_FUNCTION is not set: this entrypoint runs tune(objective=<function>) trials")
    hparams = _json_env(env, TrialEnv.HPARAMS, dict, {})
    packages = _json_env(env, TrialEnv.PACKAGES, list, [])
    urls = _json_env(env, TrialEnv.PIP_INDEX_URLS, list, [])
    if packages:
        done = subprocess.run(pip_command(packages, urls), check=False)
        if done.returncode != 0:
            raise TrialError(f"installing {', '.join(packages)} failed (pip exit {done.returncode})")
    fn = load_function(encoded)
    arguments = {str(k): typed(v) for k, v in hparams.items()}
    metrics = fn(arguments)
    if metrics is None:
        return 0  # the function printed its own metrics
    if not isinstance(metrics, dict):
        raise TrialError(f"the objective must return a dict of metric name -> number, got {type(metrics).__name__}")
    numbers = {}
    for name, value in metrics.items():
        try:
            numbers[str(name)] = float(value)
        except (TypeError, ValueError):
            raise TrialError(f"metric {name!r} must be a number, got {value!r}") from None
    print("\n".join(metric_lines(numbers)), flush=True)  # NaN/inf left out (core.metrics)
    return 0


def main() -> int:
    try:
        return run()
    except TrialError as exc:
        print(f"katib-llm function trial: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - the user's function failed: show where, fail the trial
        import traceback

        traceback.print_exc()
        print(f"katib-llm function trial: the objective raised {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
