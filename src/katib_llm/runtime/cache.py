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

Trials mount the cache read-write (it is on the Experiment's volume), so an entry is verified
before it is trusted, every time: exactly the listed files, no symlinks or other special
files, each with its size, the checksum its source publishes (hub LFS sha256, S3 MD5 ETag;
checked against the freshly resolved source, which no trial can write) and the sha256 the
manifest recorded when the entry was made. An entry that fails is removed and downloaded again.
Reuse therefore reads the files once more (about as costly as a local copy), never the network.
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
from .safepath import check_tree

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


def _file_digests(path: Path, names: tuple[str, ...]) -> dict[str, str]:
    digests = {name: hashlib.new(name) for name in names}
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            for digest in digests.values():
                digest.update(block)
    return {name: digest.hexdigest() for name, digest in digests.items()}


def _verify(source: Source, data: Path, manifest: dict[str, str] | None = None) -> dict[str, str]:
    """Exactly the listed files, regular, with their sizes and published checksums (and the
    manifest's sha256 when given); returns every file's sha256 (the manifest to record)."""
    what = f"{source.kind} {source.uri.raw}"
    check_tree(data, what)
    listed = {entry.path for entry in source.files}
    present = {p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file()}
    if present - listed:
        raise RuntimeInputError(f"{what}: unexpected file(s) in the download: {sorted(present - listed)[:5]}")
    sha256s: dict[str, str] = {}
    for entry in source.files:
        path = data / entry.path
        if not path.is_file():
            raise RuntimeInputError(f"{what}: download incomplete: {entry.path} missing")
        size = path.stat().st_size
        if size != entry.size:
            raise RuntimeInputError(f"{what}: {entry.path} has {size} bytes, expected {entry.size}")
        expected = {"sha256": entry.sha256, "md5": entry.md5}
        if manifest is not None:
            expected["sha256"] = expected["sha256"] or manifest.get(entry.path)
            if manifest.get(entry.path) != expected["sha256"]:
                raise RuntimeInputError(f"{what}: {entry.path} is not what the cache recorded")
        got = _file_digests(path, ("sha256", "md5") if entry.md5 else ("sha256",))
        for name, value in expected.items():
            if value and got[name] != value:
                raise RuntimeInputError(f"{what}: {entry.path} fails its {name} check")
        sha256s[entry.path] = got["sha256"]
    return sha256s


def _trusted(source: Source, entry: Path) -> bool:
    """Whether a complete entry still holds what it was made with (see the module docstring)."""
    if entry.is_symlink() or (entry / DATA_DIR).is_symlink() or (entry / ENTRY_FILE).is_symlink():
        return False
    try:
        record = json.loads((entry / ENTRY_FILE).read_text())
        manifest = record.get("sha256")
        if not isinstance(manifest, dict):
            return False
        _verify(source, entry / DATA_DIR, manifest)
        return True
    except (OSError, ValueError, RuntimeInputError):
        return False


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


def _download(provider: Provider, source: Source, partial: Path, entry: Path, entries: Path) -> None:
    """Fetch into ``partial``, verify, record the manifest, then rename it to ``entry``."""
    (partial / DATA_DIR).mkdir(parents=True)
    try:
        provider.fetch(source, partial / DATA_DIR)
        sha256s = _verify(source, partial / DATA_DIR)
        record = {"uri": source.uri.raw, "scheme": source.uri.scheme, "kind": source.kind,
                  "location": source.uri.location, "revision": source.revision,
                  "files": [[f.path, f.size] for f in source.files], "sha256": sha256s,
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


def ensure(provider: Provider, source: Source, cache_dir: Path, lock_timeout: float = -1) -> CacheResult:
    """The cache entry for ``source``, downloading it first unless another initializer did
    (and it still verifies: see the module docstring)."""
    from filelock import FileLock, Timeout

    key = cache_key(source)
    entries, partial_root, locks = cache_dir / "entries", cache_dir / "partial", cache_dir / "locks"
    entry = entries / key
    if (entry / ENTRY_FILE).is_file() and _trusted(source, entry):
        return CacheResult(entry, entry / DATA_DIR, downloaded=False)
    for folder in (entries, partial_root, locks):
        folder.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(locks / f"{key}.lock"), timeout=lock_timeout):
            if (entry / ENTRY_FILE).is_file() and _trusted(source, entry):  # finished while we waited
                return CacheResult(entry, entry / DATA_DIR, downloaded=False)
            _sweep_partials(partial_root, key)
            if entry.exists() or entry.is_symlink():  # no marker, or it fails verification: not trusted
                _remove(entry)
            _download(provider, source, partial_root / f"{key}.{os.getpid()}.{uuid.uuid4().hex[:8]}", entry, entries)
    except Timeout:
        raise RuntimeInputError(f"{source.kind} {source.uri.raw}: timed out after {lock_timeout}s waiting for "
                                "another initializer to finish downloading it") from None
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise RuntimeInputError(f"{source.kind} {source.uri.raw}: no space left on device in {cache_dir} "
                                    f"(needs {sum(f.size for f in source.files)} bytes); enlarge the volume") from None
        raise
    return CacheResult(entry, entry / DATA_DIR, downloaded=True)


def _remove(path: Path) -> None:
    """Remove an untrusted entry; a symlink is unlinked, never followed."""
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)


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
