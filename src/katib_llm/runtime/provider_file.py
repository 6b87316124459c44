"""``file:///abs/dir``: a directory visible to the initializer (a volume, baked into an image).

On a cluster the admission core admits a ``file://`` URI only under a folder the admin lists
in ``config.fileRoots`` (none by default). Here the folder's path must not go through a
symlink, and nothing inside it may be one: symlinks are not followed, so the lexical check
at admission is also where the files really are.
"""

from __future__ import annotations

from pathlib import Path

from katib_llm.core.uris import StorageURI

from .errors import RuntimeInputError
from .provider_base import Provider, Source
from .provider_localtree import copy_tree, list_tree
from .safepath import no_symlinks_in


class FileProvider(Provider):
    scheme = "file"

    def root(self, uri: StorageURI, kind: str) -> tuple[Path, str]:
        """The local directory ``uri`` names, and how to call it in an error message."""
        root = no_symlinks_in(Path(uri.location), f"{kind} {uri.raw}")
        if not root.is_dir():
            raise RuntimeInputError(f"{kind} {uri.raw}: {root} is not a directory")
        return root, f"directory {root}"

    def resolve(self, uri: StorageURI, kind: str) -> Source:
        root, what = self.root(uri, kind)
        files, revision = list_tree(root, f"{kind} {uri.raw}")
        if not files:
            raise RuntimeInputError(f"{kind} {uri.raw}: {what} is empty")
        return Source(uri, kind, revision, files, {"root": str(root)})

    def fetch(self, source: Source, dest: Path) -> None:
        copy_tree(Path(source.details["root"]), source.files, dest, f"{source.kind} {source.uri.raw}")
