"""Shared helpers for providers whose source is a directory on this machine (file, pkg)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from .provider_base import FileEntry


def list_tree(root: Path) -> tuple[tuple[FileEntry, ...], str]:
    """Files under ``root`` and a digest of their names, sizes and mtimes (the revision)."""
    entries: list[FileEntry] = []
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        rel = path.relative_to(root).as_posix()
        stat = path.stat()
        entries.append(FileEntry(rel, stat.st_size))
        digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return tuple(entries), digest.hexdigest()


def copy_tree(root: Path, files: tuple[FileEntry, ...], dest: Path) -> None:
    for entry in files:
        target = dest / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / entry.path, target)
