"""Shared helpers for providers whose source is a directory on this machine (file, pkg).

Symlinks are not followed: a link anywhere in the source folder is an error naming it (it
could point at any file the initializer can read), and files are opened with ``O_NOFOLLOW``
so a file swapped for a link after listing is refused too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from pathlib import Path

from .provider_base import FileEntry
from .safepath import PathEscape, open_source, target_in


def list_tree(root: Path, what: str = "source") -> tuple[tuple[FileEntry, ...], str]:
    """Files under ``root`` and a digest of their names, sizes and mtimes (the revision)."""
    entries: list[FileEntry] = []
    digest = hashlib.sha256()
    found: list[tuple[str, os.stat_result]] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = [d for d in dirs if d != "__pycache__"]  # bytecode caches are not content
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            rel = Path(os.path.relpath(path, root)).as_posix()
            if stat.S_ISLNK(st.st_mode):
                raise PathEscape(f"{what}: {rel} is a symbolic link; symlinks are not followed "
                                 "(copy the files it points to into the folder)")
            if stat.S_ISREG(st.st_mode) and not name.endswith(".pyc"):
                found.append((rel, st))
    for rel, st in sorted(found):
        entries.append(FileEntry(rel, st.st_size))
        digest.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return tuple(entries), digest.hexdigest()


def copy_tree(root: Path, files: tuple[FileEntry, ...], dest: Path, what: str = "source") -> None:
    """Copy the listed files from ``root`` to ``dest``: read without following links, written
    only inside ``dest`` (new files, never through an existing name)."""
    for entry in files:
        target = target_in(dest, entry.path, what)
        src = open_source(root, entry.path, what)
        try:
            out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(src, "rb", closefd=False) as reader, os.fdopen(out, "wb") as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)
        finally:
            os.close(src)
