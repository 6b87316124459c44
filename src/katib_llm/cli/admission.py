"""``katib-llm mutate`` and ``katib-llm validate``: the admission core as a dry run.

By default both answer exactly as the cluster's webhook with the chart's default values (or
``--values``, the chart's values.yaml form): the same core call with the same admin configuration,
so a relative ``file://`` URI or a folder outside ``config.fileRoots`` is denied here as there.
``--local`` answers as ``katib-llm tune --local`` admits instead: the local runner's own
configuration (``file://`` anywhere on this machine, relative URIs resolved against FILE's
directory, the local-only ``warm-start`` and ``objectives`` annotations allowed).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

import yaml

from katib_llm.core.admit import AdmissionResult, admit
from katib_llm.core.errors import AdmissionDenied, format_errors

VALUES_HELP = ("admin values in the chart's values.yaml form (its config section is read; a bare config map "
               "works too); default: the chart's default values")
LOCAL_HELP = ("answer as `katib-llm tune --local` admits on this machine instead of as the cluster's webhook: "
              "relative file:// model/dataset URIs resolved against FILE's directory, file:// anywhere on "
              "this machine, the local-only warm-start and objectives annotations allowed")
CLUSTER_HELP = "answer exactly as the cluster's webhook (the default; kept for scripts that say so)"


def _add_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--values", help=VALUES_HELP)
    parser.add_argument("--configmap", action="append", default=[], metavar="FILE",
                        help="YAML with ConfigMaps that trialTemplate.configMap references may name (repeatable; "
                             "the webhook reads them from the Experiment's namespace)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--local", action="store_true", help=LOCAL_HELP)
    target.add_argument("--cluster", action="store_true", help=CLUSTER_HELP)


def register(sub: Any) -> None:
    p = sub.add_parser("mutate", help="print the Experiment as the cluster's webhook would admit it",
                       description="Print each Experiment in FILE exactly as katib-llm's webhook admits it with "
                                   "the chart's default values (or --values), or exit 1 with the denial naming "
                                   "the field. --local: as `katib-llm tune --local` admits it instead.")
    p.add_argument("file", help="YAML file with one or more Experiments ('-' for stdin)")
    p.add_argument("--patch", action="store_true", help="print the RFC 6902 patch instead of the Experiment")
    _add_target(p)
    p.set_defaults(func=_mutate)
    v = sub.add_parser("validate", help="check Experiments as the cluster's validating webhook would",
                       description="Exit 0 when the cluster's webhook (with the chart's default values, or "
                                   "--values) admits every Experiment in FILE, 1 otherwise. --local: when "
                                   "`katib-llm tune --local` would admit them.")
    v.add_argument("file", help="YAML file with one or more Experiments ('-' for stdin)")
    _add_target(v)
    v.set_defaults(func=_validate)
    from katib_llm.cli import providers as provider_cli  # provider register|list|delete

    provider_cli.register(sub)


Admit = Callable[[Any], AdmissionResult]


def _load(args: argparse.Namespace) -> tuple[Admit, list[Any]] | None:
    """The admission to apply (the webhook's, or with --local the local runner's) and the
    Experiments of FILE; None after printing why when the inputs do not load."""
    from katib_llm.io import configmaps_from, read_documents

    if args.local and args.configmap:
        print("error: --configmap: the local runner reads no ConfigMaps (trialTemplate.configMap is a "
              "cluster reference); drop --local to preview the webhook's answer", file=sys.stderr)
        return None
    try:
        docs = read_documents(args.file)
        configmaps = configmaps_from([d for f in args.configmap for d in read_documents(f)])
        configmaps.update(configmaps_from(docs))
        decide = _local_admission(args) if args.local else _webhook_admission(args, configmaps)
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
    if args.local:
        experiments = [_resolved(doc, args.file) for doc in experiments]
    return decide, experiments


def _webhook_admission(args: argparse.Namespace, configmaps: Any) -> Admit:
    """What the webhook's /mutate runs: the core with the admin configuration the chart mounts."""
    from katib_llm.io import admin_config

    config = admin_config(args.values)
    return lambda doc: admit(doc, config, configmaps=configmaps)


def _local_admission(args: argparse.Namespace) -> Admit:
    """What ``tune --local`` runs before its first trial (local.runner), verdict and warnings kept."""
    from katib_llm.local.runner import admit_for_local, admit_local, local_config

    config = local_config(args.values)

    def decide(doc: Any) -> AdmissionResult:
        result = admit_local(doc, config) if isinstance(doc, dict) else admit(doc, config)
        if result.allowed and not result.labelled:
            try:  # the runner's own refusal of an unlabelled Experiment, with its message
                admit_for_local(doc, args.values)
            except AdmissionDenied as exc:
                return AdmissionResult(False, doc, [], result.warnings, exc.errors, False)
        return result

    return decide


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
              "the cluster's webhook denies them (drop --local to check exactly that)", file=sys.stderr)
    return resolved


def _name(doc: Any) -> str:
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    return str((meta or {}).get("name") or (meta or {}).get("generateName") or "<unnamed>")


def _verdict(doc: Any, result: AdmissionResult, local: bool) -> bool:
    """Print the warnings and any denial of ``doc`` on stderr; True when it was admitted."""
    for w in result.warnings:
        print(f"warning: {_name(doc)}: {w}", file=sys.stderr)
    if result.allowed:
        return True
    print(f"denied: {_name(doc)}: {format_errors(result.errors)}", file=sys.stderr)
    if not local and _names_file_uri(doc):
        print(f"note: {_name(doc)}: `--local` previews `katib-llm tune --local` instead, which resolves relative "
              "file:// URIs and reads any folder of this machine", file=sys.stderr)
    return False


def _names_file_uri(doc: Any) -> bool:
    """Whether ``doc``'s model or dataset annotation is a file:// URI (the webhook and the local
    runner differ only there and in the local-only annotations)."""
    from katib_llm.core.contract import DATASET, MODEL, annotation_key

    annotations = ((doc.get("metadata") or {}).get("annotations") or {}) if isinstance(doc, dict) else {}
    annotations = annotations if isinstance(annotations, dict) else {}
    return any(str(annotations.get(annotation_key(kind), "")).startswith("file://") for kind in (MODEL, DATASET))


def _mutate(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return 2
    decide, docs = loaded
    out, status = [], 0
    for doc in docs:
        result = decide(doc)
        if not _verdict(doc, result, args.local):
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
    decide, docs = loaded
    status = 0
    for doc in docs:
        result = decide(doc)
        if _verdict(doc, result, args.local):
            print(f"valid: {_name(doc)}" + ("" if result.labelled else " (not labelled for katib-llm; untouched)"))
        else:
            status = 1
    return status
