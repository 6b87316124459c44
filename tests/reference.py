"""Where the byte-identical upstream reference files are, if anywhere.

A few checks compare katib-llm with upstream's own files rather than with facts the installed
packages carry: Katib v0.19's swagger (``pkg/apis/v1beta1/swagger.json``), its example
Experiments (``examples/v1beta1``), its trial-templates ConfigMap and webhook configuration
(``manifests/v1beta1``), and the training-operator PyTorchJob CRD. The repository holds none of
them (they are upstream's files); CI keeps a verbatim copy beside its checkout. The directory is:

* ``$KATIB_LLM_REFERENCE`` when that variable is set (any path that does not hold the files,
  e.g. ``/nonexistent``, means "absent": this is how ``.ci/run`` runs the suite as a bare clone);
* otherwise ``<repo>/../shared/reference``.

Its layout: ``katib/crds/swagger.json``, ``katib/examples/<area>/<name>.yaml``,
``katib/trial-templates/{trial-templates,webhooks,katib-config}.yaml``,
``training-operator/crds/kubeflow.org_pytorchjobs.yaml`` (each file a verbatim copy of the
upstream file named above at Katib tag v0.19.0 and training-operator tag v1.9.4).

Tests needing these files carry the ``reference`` marker; without the directory they are skipped
with one summary line (tests/conftest.py). Everything else takes upstream facts from the
installed packages (kubeflow-katib's and kubeflow-training's API models, kubernetes-validate's
schemas) or from the project's own fixtures.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "KATIB_LLM_REFERENCE"
REPO = Path(__file__).resolve().parent.parent
DEFAULT = REPO.parent / "shared" / "reference"
# The files whose presence makes the directory usable (a partial copy counts as absent).
REQUIRED = ("katib/crds/swagger.json", "katib/examples", "training-operator/crds/kubeflow.org_pytorchjobs.yaml")
WHAT = "Katib swagger, upstream example Experiments, CRDs, trial-templates ConfigMap, webhook configuration"


def _locate() -> tuple[Path, bool]:
    where = Path(os.environ[ENV]) if os.environ.get(ENV) is not None else DEFAULT
    return where, all((where / part).exists() for part in REQUIRED)


LOCATION, AVAILABLE = _locate()
REFERENCE: Path | None = LOCATION if AVAILABLE else None


def describe() -> str:
    """One line: where the reference directory was looked for and whether it was found."""
    source = f"${ENV}={os.environ[ENV]}" if os.environ.get(ENV) is not None else "<repo>/../shared/reference"
    if AVAILABLE:
        return f"upstream reference files: {LOCATION} (from {source}): found"
    return f"upstream reference files: not found at {LOCATION} (from {source})"


def file(*parts: str) -> Path:
    """A reference file; only for tests marked ``reference`` (they are skipped when it is absent)."""
    if REFERENCE is None:
        raise LookupError(f"{describe()}; mark the test with @pytest.mark.reference")
    return REFERENCE.joinpath(*parts)
