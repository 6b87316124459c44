"""The SDK stays light: no torch/transformers/peft/optuna at import (heavy dependencies load lazily)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "transformers", "peft", "optuna", "datasets")


def _loaded(code: str) -> list[str]:
    probe = f"import sys; {code}; print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return eval(out.strip())  # noqa: S307 - our own printed list


def test_import_katib_llm_and_search_is_light():
    assert _loaded("import katib_llm; from katib_llm import search; search.double(0.1, 1.0)") == []
    out = subprocess.run([sys.executable, "-c", "import sys, katib_llm; from katib_llm import search; "
                          "print('kubernetes' in sys.modules)"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_tune_dry_run_loads_no_ml_library():
    code = ("from katib_llm import KatibClient, TrainingClient, search; "
            "KatibClient().tune(name='x', hp_space={'learning_rate': search.double(1e-5, 1e-4)}, "
            "objective=TrainingClient().train(model_provider_parameters='hf://a/b', "
            "dataset_provider_parameters='hf://c/d').metrics, objective_metric_name='eval_loss', "
            "objective_type='minimize', max_trial_count=2, dry_run=True)")
    assert _loaded(code) == []
