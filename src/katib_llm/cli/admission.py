"""``katib-llm mutate`` and ``katib-llm validate``: the admission core as a dry run."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import yaml

from katib_llm.core.admit import admit, validate
from katib_llm.core.errors import AdmissionDenied, format_errors


CLUSTER_HELP = ("exactly as the cluster's webhook: do not resolve relative file:// model/dataset URIs "
                "(by default they are resolved against FILE's directory, as `tune --local` does)")


def register(sub: Any) -> None:
    p = sub.add_parser("mutate", help="print the Experiment as the webhook would admit it",
                       description="Print each Experiment in FILE as katib-llm's webhook would admit it, "
                                   "or exit 1 with the denial naming the field.")
    p.add_argument("file", help="YAML file with one or more Experiments ('-' for stdin)")
    p.add_argument("--values", help="admin values (the chart's values.yaml or its config section)")
    p.add_argument("--patch", action="store_true", help="print the RFC 6902 patch instead of the Experiment")
    p.add_argument("--configmap", action="append", default=[], metavar="FILE",
                   help="YAML with ConfigMaps that trialTemplate.configMap references may name (repeatable)")
    p.add_argument("--cluster", action="store_true", help=CLUSTER_HELP)
    p.set_defaults(func=_mutate)
    v = sub.add_parser("validate", help="check Experiments as the validating webhook would",
                       description="Exit 0 when every Experiment in FILE would be admitted, 1 otherwise.")
    v.add_argument("file")
    v.add_argument("--values")
    v.add_argument("--configmap", action="append", default=[], metavar="FILE")
    v.add_argument("--cluster", action="store_true", help=CLUSTER_HELP)
    v.set_defaults(func=_validate)
    from katib_llm.cli import providers as provider_cli  # provider register|list|delete

    provider_cli.register(sub)


def _load(args: argparse.Namespace) -> tuple[Any, list[dict[str, Any]], Any] | None:
    from katib_llm.io import admin_config, configmaps_from, local_values, read_documents

    try:
        # Without --cluster, as `tune --local` admits: relative file:// resolved, any local folder.
        config = admin_config(args.values if args.cluster else local_values(args.values))
        docs = read_documents(args.file)
        configmaps = configmaps_from([d for f in args.configmap for d in read_documents(f)])
    except AdmissionDenied as exc:
        print(f"error: bad admin values: {exc}", file=sys.stderr)
        return None
    except (OSError, ValueError, yaml.YAMLError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    if not docs:
        print(f"error: {args.file}: no YAML documents", file=sys.stderr)
        return None
    experiments = [d for d in docs if not (isinstance(d, dict) and d.get("kind") == "ConfigMap")]
    configmaps.update(configmaps_from(docs))
    if not args.cluster:
        experiments = [_resolved(doc, args.file) for doc in experiments]
    return config, experiments, configmaps


def _resolved(doc: Any, path: str) -> Any:
    """``doc`` with relative file:// URIs resolved against ``path``'s directory (as ``tune --local``),
    saying so on stderr; unchanged when none (or when they do not exist: the denial then names them)."""
    from pathlib import Path

    from katib_llm.local.files import resolve_file_uris

    if not isinstance(doc, dict):
        return doc
    base = Path.cwd() if path == "-" else Path(path).resolve().parent
    try:
        resolved = resolve_file_uris(doc, base)
    except ValueError:
        return doc
    if resolved != doc:
        print(f"note: {_name(doc)}: relative file:// URIs resolved against {base} as `tune --local` does; "
              "the cluster's webhook denies them (use --cluster to check exactly that)", file=sys.stderr)
    return resolved


def _name(doc: Any) -> str:
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    return str((meta or {}).get("name") or (meta or {}).get("generateName") or "<unnamed>")


def _mutate(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return 2
    config, docs, configmaps = loaded
    out, status = [], 0
    for doc in docs:
        result = admit(doc, config, configmaps=configmaps)
        for w in result.warnings:
            print(f"warning: {_name(doc)}: {w}", file=sys.stderr)
        if not result.allowed:
            print(f"denied: {_name(doc)}: {format_errors(result.errors)}", file=sys.stderr)
            status = 1
            continue
        out.append(result.patch if args.patch else result.experiment)
    if out:
        from katib_llm.io import dump_yaml

        dump_yaml(out, sys.stdout)
    return status


def _validate(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return 2
    config, docs, configmaps = loaded
    status = 0
    for doc in docs:
        result = validate(doc, config, configmaps=configmaps)
        for w in result.warnings:
            print(f"warning: {_name(doc)}: {w}", file=sys.stderr)
        if result.allowed:
            print(f"valid: {_name(doc)}" + ("" if result.labelled else " (not labelled for katib-llm; untouched)"))
        else:
            print(f"denied: {_name(doc)}: {format_errors(result.errors)}", file=sys.stderr)
            status = 1
    return status
