"""``file:///abs/dir``: a directory visible to the initializer (hostPath, baked into an image)."""

from __future__ import annotations

from pathlib import Path

from katib_llm.core.uris import StorageURI

from .errors import RuntimeInputError
from .provider_base import Provider, Source
from .provider_localtree import copy_tree, list_tree


class FileProvider(Provider):
    scheme = "file"

    def root(self, uri: StorageURI, kind: str) -> tuple[Path, str]:
        """The local directory ``uri`` names, and how to call it in an error message."""
        root = Path(uri.location)
        if not root.is_dir():
            raise RuntimeInputError(f"{kind} {uri.raw}: {root} is not a directory")
        return root, f"directory {root}"

    def resolve(self, uri: StorageURI, kind: str) -> Source:
        root, what = self.root(uri, kind)
        files, revision = list_tree(root)
        if not files:
            raise RuntimeInputError(f"{kind} {uri.raw}: {what} is empty")
        return Source(uri, kind, revision, files, {"root": str(root)})

    def fetch(self, source: Source, dest: Path) -> None:
        copy_tree(Path(source.details["root"]), source.files, dest)
