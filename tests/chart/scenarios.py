"""Values sets the chart is rendered with: the defaults plus every file in charts/katib-llm/ci/.

The ci/ files (chart-testing convention) are the single source: each certificate mode and a file
that turns every knob, so `ct lint`, `helm lint -f` and these tests use the same values.
"""

from __future__ import annotations

import base64

import yaml

from .helpers import CHART

SCENARIOS: dict[str, dict] = {"defaults": {}}
for _path in sorted((CHART / "ci").glob("*-values.yaml")):
    SCENARIOS[_path.name.removesuffix("-values.yaml")] = yaml.safe_load(_path.read_text())

ADMIN_CA_PEM = base64.b64decode(
    SCENARIOS["existing-secret"]["certificates"]["existingSecret"]["caBundle"]).decode()
