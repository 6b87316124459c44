"""Typing of hyperparameters: Katib hands every value over as a string."""

from __future__ import annotations

import pytest

from katib_llm.runtime.errors import RuntimeInputError
from katib_llm.runtime.hparams import parse_json_object, settings_from


def test_values_are_typed_by_field():
    s = settings_from({"learning_rate": "1e-05", "per_device_train_batch_size": "16", "bf16": "false",
                       "optim": "adamw_torch", "lora_config.r": "16", "lora_config.lora_dropout": "0.1",
                       "lora_config.target_modules": "query, value", "num_train_epochs": "2"}, {}, {})
    assert s.training_args == {"learning_rate": 1e-05, "per_device_train_batch_size": 16, "bf16": False,
                               "optim": "adamw_torch", "num_train_epochs": 2.0}
    assert isinstance(s.training_args["per_device_train_batch_size"], int)
    assert s.lora_config == {"r": 16, "lora_dropout": 0.1, "target_modules": ["query", "value"]}


def test_target_modules_as_json_list_and_fixed_settings_merge():
    s = settings_from({"lora_config.target_modules": '["q_proj","v_proj"]', "weight_decay": "0.5"},
                      {"save_strategy": "no", "weight_decay": 0.0, "disable_tqdm": "true"},
                      {"lora_alpha": 8, "bias": "none"})
    assert s.lora_config == {"lora_alpha": 8, "bias": "none", "target_modules": ["q_proj", "v_proj"]}
    assert s.training_args == {"save_strategy": "no", "weight_decay": 0.5, "disable_tqdm": True}


def test_warmup_ratio_becomes_fractional_warmup_steps():
    assert settings_from({"warmup_ratio": "0.1"}, {}, {}).training_args == {"warmup_steps": 0.1}
    # The tuned value wins over a fixed one, whichever of the two names each uses.
    assert settings_from({"warmup_ratio": "0.2"}, {"warmup_steps": 10}, {}).training_args == {"warmup_steps": 0.2}
    assert settings_from({"warmup_steps": "5"}, {"warmup_ratio": 0.1}, {}).training_args == {"warmup_steps": 5.0}
    with pytest.raises(RuntimeInputError, match=r"warmup_ratio must be in \[0, 1\)"):
        settings_from({"warmup_ratio": "1.5"}, {}, {})


@pytest.mark.parametrize("hparams, message", [
    ({"learning_rat": "1e-5"}, "unknown hyperparameter 'learning_rat'.*did you mean learning_rate"),
    ({"lora_config.rank": "8"}, "unknown hyperparameter 'lora_config.rank'"),
    ({"per_device_train_batch_size": "8.5"}, "per_device_train_batch_size takes an integer"),
    ({"learning_rate": "fast"}, "learning_rate takes a number"),
    ({"bf16": "maybe"}, "bf16 takes true or false"),
    ({"optim": "sgd-ish"}, "'sgd-ish' is not accepted; accepted: adamw_torch"),
    ({"output_dir": "/tmp/x"}, "unknown hyperparameter 'output_dir'"),
    ({"learning_rate": "${trialParameters.learning_rate}"}, "learning_rate takes a number"),
])
def test_bad_values_name_the_field(hparams, message):
    with pytest.raises(RuntimeInputError, match=message):
        settings_from(hparams, {}, {})


def test_bad_json_names_the_variable():
    with pytest.raises(RuntimeInputError, match="KATIB_LLM_HPARAMS is not valid JSON"):
        parse_json_object('{"learning_rate": ', "KATIB_LLM_HPARAMS")
    with pytest.raises(RuntimeInputError, match="must be a JSON object, got list"):
        parse_json_object("[1]", "KATIB_LLM_HPARAMS")
