#!/usr/bin/env python3
"""Write the generated sections of docs/contract.md from the code.

    PYTHONPATH=src python scripts/gen_contract_doc.py          # rewrite the sections
    PYTHONPATH=src python scripts/gen_contract_doc.py --check  # exit 1 if the doc is stale

Sections sit between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` markers: the annotations
(``katib_llm.core.contract.ANNOTATIONS``), the denial codes
(``katib_llm.core.codes.DENIAL_CODES``), the credential rules (``katib_llm.core.credentials``) and
the metrics the shipped trainer prints (``katib_llm.core.metrics``). ``tests/core/test_denial_codes.py``
runs ``--check``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "contract.md"


def _annotations() -> str:
    from katib_llm.core.contract import ANNOTATIONS

    rows = [f"| `{a.name}` | {a.doc} | {a.form} | {a.default} | "
            + (f"`{a.argument}`" if a.argument else "—") + f" | {a.kind}, `{a.code}` |"
            for a in ANNOTATIONS if a.attr is not None]
    return "\n".join(["| annotation | meaning | accepted form | default | `tune()` argument | value kind, denial code |",
                      "|---|---|---|---|---|---|", *rows])


def _codes() -> str:
    from katib_llm.core.codes import DENIAL_CODES

    rows = [f"| `{code}` | {rule.replace('|', '/')} |" for code, rule in sorted(DENIAL_CODES.items())]
    return "\n".join(["| code | denied when |", "|---|---|", *rows])


def _credentials() -> str:
    from katib_llm.core import credentials as cr

    return "\n".join([
        "- environment variables (the `env` annotation; the `env` of every container of a user's own",
        "  `trialSpec` when set to a literal `value`) whose name has a part (split on `_`, `-`, `.`) ending in",
        "  `TOKEN`, `SECRET(S)`, `KEY(S)`, `CREDENTIAL(S)`, or containing `PASSW`, in any case — e.g.",
        "  `GITHUB_TOKEN`, `AWS_ACCESS_KEY_ID`, `HUGGING_FACE_HUB_TOKEN`, `WANDB_API_KEY`, `db-password`",
        "  (`TOKENIZERS_PARALLELISM` is not one): code `env.credential`. `valueFrom.secretKeyRef` is the",
        "  accepted form in a user's own container;",
        f"- `{cr.RESERVED_ENV_PREFIX}*` names in the `env` annotation: code `env.reserved`;",
        "- keys named the same way in `training-args`, `lora-config`, `dataset-config` (`hub_token`, `token`,",
        "  `use_auth_token`, ...; known non-string fields such as `trainable_token_indices` excepted) and the",
        "  SDK's provider parameters (`access_token`, `secret_key`, ...): code `credential.key`;",
        f"- `{cr.RESERVED_ENV_PREFIX}*` variables a user's trial template sets that admission does not set itself:",
        "  code `env.reserved-in-template`;",
        "- values anywhere in our annotations (the `function` annotation's decoded source and every string",
        "  of a JSON annotation included), in any string of a user's trial template (env values, commands,",
        "  args, URIs, runtime patches) or in the parameters' values, shaped like " + ", ".join(cr.SHAPES)
        + ": code `credential.value` (found in time linear in the text).",
        "",
        "The message names the annotation, key or variable and never repeats the value; when a credential",
        "is found, only the credential errors are returned, so no other message can repeat it either.",
    ])


def _metrics() -> str:
    from katib_llm.core.metrics import CAUSAL_LM, trainer_metrics

    return "\n".join([
        f"- `{CAUSAL_LM}`: " + ", ".join(f"`{m}`" for m in trainer_metrics(CAUSAL_LM)),
        "- every other model class: " + ", ".join(f"`{m}`" for m in trainer_metrics("AutoModel")),
    ])


SECTIONS = {"annotations": _annotations, "denial-codes": _codes, "credential-rules": _credentials, "trainer-metrics": _metrics}


def render(text: str) -> str:
    for name, make in SECTIONS.items():
        pattern = re.compile(rf"(<!-- BEGIN {name} -->\n)(?:.*?\n)?(<!-- END {name} -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{DOC}: no <!-- BEGIN {name} --> ... <!-- END {name} --> section")
        text = pattern.sub(lambda m: m.group(1) + make() + "\n" + m.group(2), text)
    return text


def main(argv: list[str]) -> int:
    current = DOC.read_text()
    wanted = render(current)
    if "--check" in argv:
        if wanted != current:
            print(f"{DOC} is stale: run scripts/gen_contract_doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
