"""Hostile values, per kind of value, shared by every test that drives them through an entry point.

``ANNOTATION_CASES`` are annotation values each entry point (core admission, the webhook, the
``katib-llm mutate`` CLI, the local runner's admission, the SDK) must deny with the same code at
the same field path, quickly, without a traceback. ``SDK_CASES`` are the same rules reached
through ``tune()`` arguments. ``adversarial_texts`` are the long strings the parsers' property
tests add to Hypothesis' own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HUGE = 100 * 1024  # characters of the long hostile strings the parsers get
# Long values driven through every entry point. Shorter than HUGE: the credential scan that runs
# before the parsers is still quadratic in a value's length (test_admission_cost.py holds it to
# the body cap separately).
LONG = 8 * 1024
NON_ASCII_DIGITS = "³²١٢٣٤٥٦٧٨٩٠०१२३४५६७८९০১২৩৪৫৬৭৮৯๑๒๓๔๕๖๗๘๙０１２３４５６７８９"


@dataclass(frozen=True)
class Case:
    """One hostile annotation value: the code it is denied with and the key inside the annotation
    (for JSON annotations) the denial names."""

    id: str
    annotation: str
    value: str
    code: str
    key: str | None = None
    sdk: dict[str, Any] = field(default_factory=dict)  # tune() arguments that reach the same rule


ANNOTATION_CASES: list[Case] = [
    # decimal integers: ASCII digits only, in range, no exponent, no sign
    Case("deadline-superscript", "trial-active-deadline-seconds", "³", "trial-deadline.invalid",
         sdk={"trial_active_deadline_seconds": "³"}),
    Case("deadline-arabic-indic", "trial-active-deadline-seconds", "٣٦٠٠", "trial-deadline.invalid"),
    Case("deadline-exponent", "trial-active-deadline-seconds", "1e3", "trial-deadline.invalid"),
    Case("deadline-huge", "trial-active-deadline-seconds", "9" * LONG, "trial-deadline.invalid",
         sdk={"trial_active_deadline_seconds": 10 ** 30}),
    Case("deadline-inner-newline", "trial-active-deadline-seconds", "60\n0", "trial-deadline.invalid"),
    Case("workers-superscript", "workers", "²", "annotation.int", sdk={"num_workers": "²"}),
    Case("workers-nan", "workers", "nan", "annotation.int"),
    Case("procs-fullwidth", "procs-per-worker", "２", "annotation.int"),
    # numbers inside JSON: finite, bounded, typed, in range
    Case("dataset-config-eval-fraction", "dataset-config", '{"eval_fraction": 2.0}', "dataset-config.type",
         "eval_fraction", sdk={"dataset_config": {"eval_fraction": 2.0}}),
    Case("dataset-config-max-length-string", "dataset-config", '{"max_length": "128"}', "dataset-config.type",
         "max_length"),
    Case("dataset-config-seed-negative", "dataset-config", '{"seed": -1}', "dataset-config.type", "seed"),
    Case("dataset-config-split-newline", "dataset-config", '{"eval_split": "test\\n"}', "dataset-config.type",
         "eval_split"),
    Case("resources-gpu-superscript", "resources-per-worker", '{"gpu": "²"}', "resources.gpu", "gpu",
         sdk={"resources_per_worker": {"gpu": "²"}}),
    Case("resources-memory-huge", "resources-per-worker", '{"memory": "1' + "0" * LONG + 'Gi"}',
         "resources.quantity", "memory"),
    Case("resources-memory-exponent", "resources-per-worker", '{"memory": "1e999"}', "resources.quantity", "memory"),
    Case("budget-arabic-duration", "budget", '{"wall_clock": "١h"}', "budget.invalid",
         sdk={"budget": {"wall_clock": "١h"}}),
    Case("budget-gpu-hours-zero", "budget", '{"gpu_hours": 0}', "budget.invalid", sdk={"budget": {"gpu_hours": 0}}),
    Case("budget-nan", "budget", '{"gpu_hours": NaN}', "annotation.json"),
    Case("budget-deep", "budget", "[" * 5000 + "]" * 5000, "annotation.json"),
    Case("model-parameters-devanagari", "model-parameters", "७B", "model-parameters.format"),
    Case("retain-trials-yes", "retain-trials", "yes", "annotation.bool"),
    # names: DNS-1123 labels and subdomains matched whole, environment variable names
    Case("queue-inner-newline", "queue", "team-a\nteam-b", "queue.name", sdk={"queue": "team-a\nteam-b"}),
    Case("queue-huge", "queue", "a" * LONG, "queue.name"),
    Case("queue-upper", "queue", "Team-A", "queue.name"),
    Case("volume-claim-nul", "volume-claim", "claim\x00", "volume-claim.name"),
    Case("tracking-secret-space", "tracking-secret", "mlflow creds", "tracking-secret.name",
         sdk={"tracking_secret": "mlflow creds"}),
    Case("tracking-secret-huge", "tracking-secret", "a." * (LONG // 2), "tracking-secret.name"),
    Case("env-name-space", "env", '{"A B": "1"}', "env.invalid", "A B", sdk={"env_per_trial": {"A B": "1"}}),
    Case("base-image-newline", "base-image", "image:1\nRUN x", "annotation.image"),
    # URIs per scheme
    Case("hf-revision-dotdot", "model", "hf://org/repo@v1..2", "uri.hf-repo"),
    Case("hf-repo-double-dash", "model", "hf://org/re--po", "uri.hf-repo"),
    Case("hf-huge", "model", "hf://" + "a" * LONG, "uri.form"),
    Case("split-encoded-newline", "dataset", "hf://org/data?split=train%0a", "uri.query"),
    Case("split-garbage", "dataset", "hf://org/data?split=train[:3000](x)", "uri.query"),
    Case("s3-encoded-dotdot", "dataset", "s3://my-bucket/a/%2e%2e/etc", "uri.chars"),
    Case("s3-ip-bucket", "dataset", "s3://192.168.0.1/data", "uri.s3-bucket"),
    Case("s3-prefix-dotdot", "dataset", "s3://my-bucket/a/../../b", "uri.s3-bucket"),
    Case("file-dotdot", "model", "file:///models/../etc", "uri.file-path"),
]


def adversarial_texts() -> list[str]:
    """Long strings built to hurt backtracking parsers: digit runs with no unit, near-misses
    repeated, non-ASCII digits, trailing newlines, separators without end."""
    return [
        "9" * HUGE,
        "9" * HUGE + "x",
        "1." * (HUGE // 2),
        "1h" * (HUGE // 2),
        "a-" * (HUGE // 2) + "\n",
        "a" * HUGE + "\n",
        "-" * HUGE,
        "." * HUGE,
        "${trialParameters." * (HUGE // 18),
        "${trialSpec." * (HUGE // 12),
        "(" * HUGE,
        "()" * (HUGE // 2) + "(",
        "a:" * (HUGE // 2),
        "hf://" + "a/" * (HUGE // 2),
        "s3://" + "a." * (HUGE // 2),
        "%2e" * (HUGE // 3),
        "[" * HUGE,
        '{"a":' * (HUGE // 5),
        (NON_ASCII_DIGITS * (HUGE // len(NON_ASCII_DIGITS) + 1))[:HUGE],
        "1e" + "9" * HUGE,
        " " * HUGE + "1",
        "\u2028" * HUGE,
    ]
