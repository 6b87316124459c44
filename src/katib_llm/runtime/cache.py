"""Download once: a content-addressed cache shared by every trial of an experiment.

Layout under ``--cache-dir``::

    entries/<key>/entry.json   what the entry holds (written last, before the rename)
    entries/<key>/data/        the files; trial inputs are symlinks to this folder
    partial/<key>.<pid>.<id>/  downloads in flight (same layout as an entry)
    locks/<key>.lock           one exclusive lock per key

``key`` = sha256(scheme, kind, location, resolved revision). An entry only ever appears by an
atomic ``rename`` of a verified partial folder, so a killed download is never served: its
partial folder is swept by the next initializer that takes the lock, which downloads again.
Initializers that find the lock taken wait, then find the entry complete and download nothing.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from .errors import RuntimeInputError
from .providers import Provider, Source

ENTRY_FILE = "entry.json"
DATA_DIR = "data"


@dataclass(frozen=True)
class CacheResult:
    """Where the content lives and whether this call downloaded it."""

    entry: Path
    data: Path
    downloaded: bool


def cache_key(source: Source) -> str:
    text = "\0".join([source.uri.scheme, source.kind, source.uri.location, source.revision])
    return hashlib.sha256(text.encode()).hexdigest()


def _verify(source: Source, data: Path) -> None:
    """Every listed file present with its size (and sha256 when the source published one)."""
    for entry in source.files:
        path = data / entry.path
        if not path.is_file():
            raise RuntimeInputError(f"{source.kind} {source.uri.raw}: download incomplete: {entry.path} missing")
        size = path.stat().st_size
        if size != entry.size:
            raise RuntimeInputError(f"{source.kind} {source.uri.raw}: {entry.path} has {size} bytes, "
                                    f"expected {entry.size}")
        checks = [(name, expected) for name, expected in (("sha256", entry.sha256), ("md5", entry.md5)) if expected]
        if checks:
            digests = {name: hashlib.new(name) for name, _ in checks}
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    for digest in digests.values():
                        digest.update(block)
            for name, expected in checks:
                if digests[name].hexdigest() != expected:
                    raise RuntimeInputError(f"{source.kind} {source.uri.raw}: {entry.path} fails its {name} check")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sweep_partials(partial_root: Path, key: str) -> None:
    """Remove downloads of ``key`` left by killed initializers (we hold the key's lock)."""
    for stale in partial_root.glob(f"{key}.*"):
        shutil.rmtree(stale, ignore_errors=True)


def ensure(provider: Provider, source: Source, cache_dir: Path, lock_timeout: float = -1) -> CacheResult:
    """The cache entry for ``source``, downloading it first unless another initializer did."""
    from filelock import FileLock, Timeout

    key = cache_key(source)
    entries, partial_root, locks = cache_dir / "entries", cache_dir / "partial", cache_dir / "locks"
    entry = entries / key
    if (entry / ENTRY_FILE).is_file():
        return CacheResult(entry, entry / DATA_DIR, downloaded=False)
    for folder in (entries, partial_root, locks):
        folder.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(locks / f"{key}.lock"), timeout=lock_timeout):
            if (entry / ENTRY_FILE).is_file():  # another initializer finished while we waited
                return CacheResult(entry, entry / DATA_DIR, downloaded=False)
            _sweep_partials(partial_root, key)
            if entry.exists():  # no marker: not ours to trust
                shutil.rmtree(entry)
            partial = partial_root / f"{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
            (partial / DATA_DIR).mkdir(parents=True)
            try:
                provider.fetch(source, partial / DATA_DIR)
                _verify(source, partial / DATA_DIR)
                record = {"uri": source.uri.raw, "scheme": source.uri.scheme, "kind": source.kind,
                          "location": source.uri.location, "revision": source.revision,
                          "files": [[f.path, f.size] for f in source.files],
                          "bytes": sum(f.size for f in source.files)}
                marker = partial / ENTRY_FILE
                with marker.open("w") as fh:  # the completion marker, last
                    json.dump(record, fh, indent=1)
                    fh.flush()
                    os.fsync(fh.fileno())
                _fsync_dir(partial)
                os.rename(partial, entry)
                _fsync_dir(entries)
            except BaseException:
                shutil.rmtree(partial, ignore_errors=True)
                raise
    except Timeout:
        raise RuntimeInputError(f"{source.kind} {source.uri.raw}: timed out after {lock_timeout}s waiting for "
                                "another initializer to finish downloading it") from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise RuntimeInputError(f"{source.kind} {source.uri.raw}: no space left on device in {cache_dir} "
                                    f"(needs {sum(f.size for f in source.files)} bytes); enlarge the volume") from None
        raise
    return CacheResult(entry, entry / DATA_DIR, downloaded=True)


def link_target(target: Path, data: Path) -> None:
    """Point ``target`` at ``data`` with a relative symlink, swapped in atomically by rename.

    Relative so the link resolves wherever the volume is mounted (trainer pod, local runner).
    """
    target = Path(os.path.abspath(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir() and not target.is_symlink():
        if any(target.iterdir()):
            raise RuntimeInputError(f"--target {target} is a non-empty directory; refusing to replace it")
        target.rmdir()
    relative = os.path.relpath(os.path.abspath(data), target.parent)
    tmp = target.parent / f".{target.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    os.symlink(relative, tmp)
    try:
        os.replace(tmp, target)
    except OSError:
        os.unlink(tmp)
        raise
