"""The example of the Katib LLM tuning proposal (kubeflow/katib#2291) as a script: its imports
changed to katib_llm's, nothing else; ``--dry-run`` adds ``dry_run=True``. Prints the result's
one-line repr, then the modules of katib-llm's extras that got imported."""

import sys

import transformers
from peft import LoraConfig

from kubeflow.storage_initializer.hugging_face import (
    HuggingFaceModelParams,
    HuggingFaceDatasetParams,
    HuggingFaceTrainerParams,
)
from katib_llm import TrainingClient
import katib_llm as katib
from katib_llm import KatibClient

# Create a Katib client
katib_client = KatibClient(namespace='kubeflow')


# Define an objective function leveraging the train API
def objective(exp_name):
    result = TrainingClient().train(
        name=exp_name,
        model_provider_parameters=HuggingFaceModelParams(
            model_uri="hf://google-bert/bert-base-cased",
            transformer_type=transformers.AutoModelForSequenceClassification,
        ),
        dataset_provider_parameters=HuggingFaceDatasetParams(
            repo_id="yelp_review_full",
            split="train[:3000]",
        ),
        trainer_parameters=HuggingFaceTrainerParams(
            training_parameters=transformers.TrainingArguments(
                output_dir="test_trainer",
                save_strategy="no",
                eval_strategy="epoch",
                disable_tqdm=True,
                log_level="info",
            ),
            lora_config=LoraConfig(
                r=8,
                lora_alpha=8,
                lora_dropout=0.1,
                bias="none",
            ),
        ),
    )
    return result.metrics


hp_space = {
    "learning_rate": katib.search.double(min=1e-05, max=5e-05),
    "per_device_train_batch_size": katib.search.int(min=8, max=64),
    "num_train_epochs": katib.search.int(min=1, max=10),
    "weight_decay": katib.search.double(min=0.0, max=1.0),
    "lora_config.r": katib.search.int(min=8, max=32)
}

exp_name = "llm-hp-optimization-test"
result = katib_client.tune(
    name=exp_name,
    hp_space=hp_space,
    objective=objective(exp_name),
    objective_metric_name="eval_accuracy",
    objective_type="maximize",
    algorithm_name="random",
    max_trial_count=50,
    parallel_trial_count=2,
    resources_per_trial={
        "gpu": 8,
        "cpu": 20,
        "memory": "40G",
    },
    num_workers=4,
    num_procs_per_worker=2,
    resources_per_worker={
        "gpu": 2,
        "cpu": 5,
        "memory": "10G",
    },
    **({"dry_run": True} if "--dry-run" in sys.argv else {}),
)

best_hps = katib_client.get_optimal_hyperparameters(exp_name) if "--dry-run" not in sys.argv else None
print(repr(result), best_hps)
print(sorted(m for m in ("datasets", "matplotlib", "optuna_dashboard", "flask", "boto3") if m in sys.modules))
