"""katib-llm: hyperparameter tuning of LLM fine-tuning for Kubeflow Katib."""

__version__ = "0.1.0"
