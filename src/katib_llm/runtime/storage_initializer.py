"""Storage initializer: fetch a model or dataset once into the shared cache, link it for the trial.

``python -m katib_llm.runtime.storage_initializer {model|dataset} URI --target DIR --cache-dir DIR``

``python -m katib_llm.runtime.storage_initializer --from-env`` takes the same from the environment
(the initializer steps of katib-llm's Kubeflow Trainer runtime, see ``katib_llm.core.trainjob``):
``KATIB_LLM_INIT_KIND``, ``STORAGE_URI`` (Trainer sets it from the TrainJob's
``spec.initializer.<kind>.storageUri``), ``KATIB_LLM_INIT_TARGET`` and ``KATIB_LLM_CACHE_DIR``.
An empty or unset ``STORAGE_URI`` means the TrainJob asked for nothing: exit 0.

The admin's storage allow-lists are enforced here again, at run time, when given:
``--allowed-sources JSON`` (``config.allowedModelSources``: URI prefixes, empty allows all) and
``--file-roots JSON`` (``config.fileRoots``: folders ``file://`` may name, empty: none). They are
arguments, not environment: the init container the admission core injects and the initializer
steps of the chart's ClusterTrainingRuntime carry them, and a TrainJob can set its initializers'
env but never their command or args.

This is the init container the admission core injects. URIs: ``hf://repo[@rev][?split=...]``,
``s3://bucket/prefix``, ``file:///abs/dir``, ``pkg://package/subdir``. On success ``--target`` is
a symlink to the cached copy and the last stdout line is a JSON summary. On failure: exit code 2
and one line on stderr naming the URI and the cause.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence

from katib_llm.core import trainjob
from katib_llm.core.errors import FieldError
from katib_llm.core.trainjob import BUILTIN_SCHEMES
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
    _policy_arguments(p)
    return p


def _policy_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allowed-sources", type=_json_list, default=None,
                   help="JSON list of URI prefixes the admin allows (config.allowedModelSources); [] allows all")
    p.add_argument("--file-roots", type=_json_list, default=None,
                   help="JSON list of folders file:// URIs may name (config.fileRoots); [] allows none")


def _json_list(text: str) -> list[str]:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise argparse.ArgumentTypeError("must be a JSON list of strings")
    return value


def check_policy(kind: str, uri: str, allowed: list[str] | None, roots: list[str] | None) -> None:
    """The admin's allow-lists on ``uri`` (those given); raises RuntimeInputError naming the URI."""
    from katib_llm.core.trial_rules import policy_errors

    errors: list[FieldError] = []
    parsed = parse_uri(uri, "uri", kind, set(BUILTIN_SCHEMES), errors)
    if parsed is None:
        raise RuntimeInputError(f"{kind} URI {uri[:200]!r}: {errors[0].message}")
    found = policy_errors(parsed, "uri", allowed or [], roots if roots is not None else ["/"])
    if allowed is None:
        found = [e for e in found if e.code != "uri.not-allowed"]
    if found:
        raise RuntimeInputError(f"{kind} URI refused by the admin's allow-list: {found[0].message}")


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


def argv_from_env(env: Mapping[str, str]) -> list[str] | None:
    """The argv ``--from-env`` stands for, or None when no URI was given (nothing to fetch)."""
    uri = env.get(trainjob.ENV_URI, "").strip()
    if not uri:
        return None
    out = [env.get(trainjob.ENV_KIND, ""), uri]
    for flag, name in (("--target", trainjob.ENV_TARGET), ("--cache-dir", trainjob.ENV_CACHE)):
        if env.get(name):
            out += [flag, env[name]]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entrypoint: 0 on success, 2 with a one-line error naming the URI otherwise."""
    argv = list(argv) if argv is not None else sys.argv[1:]
    if argv[:1] == ["--from-env"]:
        from_env = argv_from_env(os.environ)
        if from_env is None:
            print(json.dumps({"kind": os.environ.get(trainjob.ENV_KIND, ""), "uri": None,
                              "skipped": f"{trainjob.ENV_URI} is not set"}), flush=True)
            return 0
        argv = from_env + argv[1:]  # the policy arguments stay
    try:
        args = _parser().parse_args(argv)
        check_policy(args.kind, args.uri, args.allowed_sources, args.file_roots)
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
