"""The provider interface: how the storage initializer learns what to fetch and fetches it.

A provider does two things, called by ``katib_llm.runtime.cache`` in this order:

1. ``resolve(uri, kind)`` — cheap metadata calls only: pin the URI to an immutable revision
   (a commit sha, a digest of ETags, a digest of names/sizes/mtimes) and list the files with
   their sizes (and sha256 when the source publishes one). The revision keys the cache.
2. ``fetch(source, dest)`` — download exactly those files under ``dest``; called at most once
   per cache key across all concurrent initializers, with the cache's lock held.

Errors a user must fix (missing repo or bucket, bad token) are raised as ``RuntimeInputError``
naming the URI.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from katib_llm.core.uris import StorageURI


@dataclass(frozen=True)
class FileEntry:
    """One file the fetched tree must contain: relative path, size, optional sha256 / md5."""

    path: str
    size: int
    sha256: str | None = None
    md5: str | None = None  # S3 single-part uploads publish the body's MD5 as their ETag


@dataclass(frozen=True)
class Source:
    """A URI pinned to one immutable revision, with the files that revision holds."""

    uri: StorageURI
    kind: str  # model | dataset
    revision: str
    files: tuple[FileEntry, ...]
    details: dict[str, Any] = field(default_factory=dict, compare=False)


class Provider(ABC):
    """One storage scheme (``hf``, ``s3``, ``file``, ``pkg``)."""

    scheme: ClassVar[str]

    @abstractmethod
    def resolve(self, uri: StorageURI, kind: str) -> Source:
        """Pin ``uri`` to a revision and list its files (metadata only, no file bodies)."""

    @abstractmethod
    def fetch(self, source: Source, dest: Path) -> None:
        """Write every file of ``source`` under ``dest`` (an empty directory)."""
