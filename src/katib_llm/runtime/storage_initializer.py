"""Storage initializer: fetch a model or dataset once into the shared cache, link it for the trial.

``python -m katib_llm.runtime.storage_initializer {model|dataset} URI --target DIR --cache-dir DIR``

This is the init container the admission core injects. URIs: ``hf://repo[@rev][?split=...]``,
``s3://bucket/prefix``, ``file:///abs/dir``, ``pkg://package/subdir``. On success ``--target`` is
a symlink to the cached copy and the last stdout line is a JSON summary. On failure: exit code 2
and one line on stderr naming the URI and the cause.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
import time
from pathlib import Path
from typing import Sequence

from katib_llm.core.errors import FieldError
from katib_llm.core.uris import parse_uri

from .errors import OneLineArgumentParser, RuntimeInputError

KINDS = ("model", "dataset")


def _parser() -> argparse.ArgumentParser:
    p = OneLineArgumentParser(prog="python -m katib_llm.runtime.storage_initializer",
                              hint="usage: {model|dataset} URI --target DIR --cache-dir DIR",
                              description="Download a model or dataset once into a shared cache and link it for a trial.")
    p.add_argument("kind", choices=KINDS)
    p.add_argument("uri")
    p.add_argument("--target", required=True, help="directory the trainer reads (becomes a symlink)")
    p.add_argument("--cache-dir", required=True, help="content-addressed cache shared by all trials")
    p.add_argument("--lock-timeout", type=float, default=-1,
                   help="seconds to wait for another initializer's download (default: forever)")
    return p


def initialize(kind: str, uri: str, target: Path, cache_dir: Path, lock_timeout: float = -1) -> dict[str, object]:
    """Resolve, download once, link. Returns a summary; raises RuntimeInputError on bad input."""
    from .cache import ensure, link_target
    from .providers import PROVIDERS, provider_for

    errors: list[FieldError] = []
    parsed = parse_uri(uri, "uri", kind, set(PROVIDERS), errors)
    if parsed is None:
        raise RuntimeInputError(f"{kind} URI {uri!r}: {errors[0].message}")
    provider = provider_for(parsed.scheme)
    started = time.monotonic()
    source = provider.resolve(parsed, kind)
    result = ensure(provider, source, cache_dir, lock_timeout)
    try:
        link_target(target, result.data)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise RuntimeInputError(f"{kind} {uri}: no space left on device linking {target}") from None
        raise RuntimeInputError(f"{kind} {uri}: cannot link {target}: {exc.strerror}") from None
    return {"kind": kind, "uri": uri, "revision": source.revision, "target": str(target),
            "entry": str(result.entry), "downloaded": result.downloaded,
            "bytes": sum(f.size for f in source.files), "seconds": round(time.monotonic() - started, 3)}


def main(argv: Sequence[str] | None = None) -> int:
    """Entrypoint: 0 on success, 2 with a one-line error naming the URI otherwise."""
    try:
        args = _parser().parse_args(list(argv) if argv is not None else None)
        summary = initialize(args.kind, args.uri, Path(args.target), Path(args.cache_dir), args.lock_timeout)
    except RuntimeInputError as exc:
        print(f"katib-llm storage-initializer: error: {exc}", file=sys.stderr, flush=True)
        return 2
    except OSError as exc:
        what = "no space left on device" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        print(f"katib-llm storage-initializer: error: {what} ({exc.filename or ''})", file=sys.stderr, flush=True)
        return 2
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
