"""Every file a provider writes lands inside its destination folder: one helper for all of them.

Remote names are hostile: an S3 key ``model/../../../../escaped.txt``, a hub file ``/etc/x`` or
a symlink planted in a source folder must never make the storage initializer write (or read)
outside the folder it was given. Three rules:

* :func:`relative_name` accepts only plain relative names: no empty, ``.`` or ``..`` parts, no
  absolute path, no backslash, no NUL. Providers check every listed name when they resolve, so
  a bad name fails before any download, naming the offending file.
* :func:`target_in` resolves a name under a destination and checks the result is inside it,
  creating parent folders one by one without following symlinks.
* :func:`check_tree` walks a finished download: only regular files and folders, nothing else
  (a downloader that created a symlink or a device is refused before the cache trusts it).

Symlinks are never followed: source folders (``file://``, ``pkg://``) are read with
``O_NOFOLLOW`` and a link inside one is an error.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from .errors import RuntimeInputError

MAX_NAME_BYTES = 4096


class PathEscape(RuntimeInputError):
    """A name or a file that would leave its folder."""


def relative_name(name: str, what: str) -> PurePosixPath:
    """``name`` as a safe relative path, or :class:`PathEscape` naming ``what`` it belongs to."""
    if not isinstance(name, str) or not name or len(name.encode(errors="replace")) > MAX_NAME_BYTES:
        raise PathEscape(f"{what}: file name {name!r} is empty or too long")
    if "\0" in name or "\\" in name:
        raise PathEscape(f"{what}: file name {name!r} contains NUL or a backslash")
    path = PurePosixPath(name)
    if path.is_absolute() or any(part in ("", ".", "..") for part in name.split("/")):
        raise PathEscape(f"{what}: file name {name!r} is absolute or has '.', '..' or empty parts; "
                         "refusing to write outside the download folder")
    return path


def target_in(dest: Path, name: str, what: str) -> Path:
    """The path for ``name`` under ``dest``, its parent folders created, checked to stay inside.

    Each parent component is created or checked with ``lstat``: a symlink among them (planted
    by anything else writing to the folder) is refused rather than followed.
    """
    rel = relative_name(name, what)
    root = Path(os.path.realpath(dest))
    current = root
    for part in rel.parts[:-1]:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except FileNotFoundError:
            os.mkdir(current)
            continue
        if not stat.S_ISDIR(mode):
            raise PathEscape(f"{what}: {rel}: {current.relative_to(root)} is not a folder (a symlink?)")
    target = current / rel.parts[-1]
    parent = os.path.realpath(target.parent)
    if os.path.islink(target) or (parent != str(root) and not parent.startswith(str(root) + os.sep)):
        raise PathEscape(f"{what}: {rel} resolves outside the download folder")
    return target


def check_tree(root: Path, what: str) -> None:
    """Every entry under ``root`` is a regular file or a folder (no symlinks, devices, fifos)."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = os.path.join(folder, name)
            mode = os.lstat(path).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                kind = "a symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
                raise PathEscape(f"{what}: {os.path.relpath(path, root)} is {kind}; refused")


def no_symlinks_in(path: Path, what: str) -> Path:
    """``path`` (absolute) if no component of it is a symlink; symlinks are not followed."""
    absolute = Path(os.path.abspath(path))
    if os.path.realpath(absolute) != str(absolute):
        raise PathEscape(f"{what}: {absolute} goes through a symbolic link; symlinks are not followed "
                         "(name the real folder)")
    return absolute


def open_source(root: Path, name: str, what: str) -> int:
    """A read-only descriptor for ``root/name`` that follows no symlink on the last component
    (its folders come from a walk that never follows links)."""
    rel = relative_name(name, what)
    fd = os.open(root / rel, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PathEscape(f"{what}: {rel} is not a regular file")
    return fd
