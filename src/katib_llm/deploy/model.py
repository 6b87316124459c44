"""Base model + LoRA adapter, loaded for inference (torch, transformers and peft load here only)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from katib_llm.runtime.portable import labels_kwargs, read_labels

MAX_INSTANCES = 64
MAX_CHARS = 20_000
MAX_NEW_TOKENS = 256


class BadRequest(ValueError):
    """A request the model cannot answer; the message says what is accepted (HTTP 400)."""


def _num_labels(adapter_dir: Path) -> int | None:
    """The classifier's output size, read from the head the adapter saved (modules_to_save)."""
    path = adapter_dir / "adapter_model.safetensors"
    if not path.is_file():
        return None
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        heads = [k for k in f.keys() if k.endswith(("classifier.weight", "score.weight", "out_proj.weight"))]
        if heads:
            return int(f.get_slice(sorted(heads, key=len)[-1]).get_shape()[0])
    return None


def load_base(model_dir: Path, adapter_dir: Path, model_class: str) -> tuple[Any, Any]:
    """The base model shaped as the trainer shaped it (label names and classifier size from the
    adapter's katib-llm.json, else the size of the head it saved) + tokenizer."""
    import transformers
    from transformers import AutoTokenizer

    tok_dir = adapter_dir if (adapter_dir / "tokenizer_config.json").is_file() else model_dir
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    kwargs: dict[str, Any] = {}
    if model_class != "AutoModelForCausalLM":
        names = read_labels(adapter_dir)  # the dataset's label names, as the trial saved them
        if names:
            kwargs = {**labels_kwargs(names), "ignore_mismatched_sizes": True}
        elif labels := _num_labels(adapter_dir):  # an adapter saved without its labels
            kwargs = {"num_labels": labels, "ignore_mismatched_sizes": True}
    base = getattr(transformers, model_class).from_pretrained(str(model_dir), **kwargs)
    if base.config.pad_token_id is None:
        base.config.pad_token_id = tokenizer.pad_token_id
    return base, tokenizer


@dataclass
class Predictor:
    """A tuned model ready to answer KServe v1 ``predict`` and OpenAI-style completions."""

    model: Any
    tokenizer: Any
    model_class: str
    trial: dict[str, Any]

    @property
    def causal(self) -> bool:
        return self.model_class == "AutoModelForCausalLM"

    @classmethod
    def load(cls, model_dir: Path, adapter_dir: Path, model_class: str) -> "Predictor":
        from peft import PeftModel

        if not (adapter_dir / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{adapter_dir} holds no LoRA adapter (adapter_config.json)")
        base, tokenizer = load_base(model_dir, adapter_dir, model_class)
        model = PeftModel.from_pretrained(base, str(adapter_dir))
        model.eval()
        trial_file = adapter_dir / "trial.json"
        trial = json.loads(trial_file.read_text()) if trial_file.is_file() else {}
        return cls(model, tokenizer, model_class, trial)

    # -- requests --------------------------------------------------------------------------
    @staticmethod
    def _texts(instances: Any, field: str = "instances") -> list[str]:
        if not isinstance(instances, list) or not instances:
            raise BadRequest(f'"{field}" must be a non-empty list of strings, or of objects {{"text": "..."}}')
        if len(instances) > MAX_INSTANCES:
            raise BadRequest(f'"{field}" holds {len(instances)} items; at most {MAX_INSTANCES} per request')
        texts = []
        for i, item in enumerate(instances):
            text = item.get("text") if isinstance(item, dict) else item
            if not isinstance(text, str) or not text.strip():
                raise BadRequest(f'{field}[{i}] must be a non-empty string or an object {{"text": "..."}}')
            if len(text) > MAX_CHARS:
                raise BadRequest(f"{field}[{i}] is {len(text)} characters; at most {MAX_CHARS}")
            texts.append(text)
        return texts

    @staticmethod
    def _max_tokens(parameters: Any, key: str, default: int) -> int:
        value = (parameters or {}).get(key, default) if isinstance(parameters, dict) or parameters is None else None
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_NEW_TOKENS:
            raise BadRequest(f'"{key}" must be an integer between 1 and {MAX_NEW_TOKENS}')
        return value

    def predict(self, instances: Any, parameters: Any = None) -> list[Any]:
        """Class label + probabilities per text (classification) or generated text (causal LM)."""
        if parameters is not None and not isinstance(parameters, dict):
            raise BadRequest('"parameters" must be an object, e.g. {"max_new_tokens": 16}')
        texts = self._texts(instances)
        if self.causal:
            n = self._max_tokens(parameters, "max_new_tokens", 16)
            return [self.generate(t, n) for t in texts]
        return self.classify(texts)

    def classify(self, texts: list[str]) -> list[dict[str, Any]]:
        import torch

        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
        with torch.no_grad():
            probs = torch.softmax(self.model(**batch).logits.float(), dim=-1)
        id2label = getattr(self.model.config, "id2label", None) or {}
        out = []
        for row in probs.tolist():
            best = max(range(len(row)), key=row.__getitem__)
            out.append({"label": id2label.get(best, best), "label_id": best,
                        "probabilities": [round(p, 6) for p in row]})
        return out

    def generate(self, prompt: str, max_new_tokens: int) -> str:
        import torch

        batch = self.tokenizer(prompt, return_tensors="pt", truncation=True, max_length=512)
        with torch.no_grad():
            ids = self.model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                                      pad_token_id=self.tokenizer.pad_token_id)
        return self.tokenizer.decode(ids[0][batch["input_ids"].shape[1]:], skip_special_tokens=True)
