"""``katib-llm provider register|list|delete``: custom provider declarations from the shell."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("provider", help="register, list or delete custom model/dataset providers",
                       description="Custom providers fetch <name>://... model and dataset URIs with your own "
                                   "init container (a ConfigMap the webhook reads).")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    r = verbs.add_parser("register", help="write (or replace) a provider declaration")
    r.add_argument("name", help="URI scheme the provider serves, e.g. lakefs for lakefs://...")
    r.add_argument("--image", required=True, help="init container image")
    r.add_argument("--command", required=True, help='command, shell-quoted, e.g. "python -m lakefs_fetch"')
    r.add_argument("--arg", action="append", default=[], dest="args",
                   help="one argument (repeatable); placeholders {kind} {uri} {target} {cache_dir} {mount_path}")
    r.add_argument("--secret", help="Secret exposed to the init container via envFrom (credentials)")
    r.add_argument("--namespace", "-n")
    r.add_argument("--dry-run", action="store_true", help="print the ConfigMap instead of writing it")
    r.set_defaults(func=_register)
    ls = verbs.add_parser("list", help="print the provider declarations in a namespace")
    ls.add_argument("--namespace", "-n")
    ls.set_defaults(func=_list)
    d = verbs.add_parser("delete", help="delete a provider declaration")
    d.add_argument("name")
    d.add_argument("--namespace", "-n")
    d.set_defaults(func=_delete)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _client(args: argparse.Namespace) -> Any:
    from katib_llm.sdk.client import KatibClient

    return KatibClient(namespace=args.namespace)


def _run(action: Any) -> int:
    from kubernetes.client.rest import ApiException

    from katib_llm.sdk.errors import TuneArgumentError
    from katib_llm.io.kube import ClusterUnavailable

    try:
        return action()
    except TuneArgumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ClusterUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ApiException as exc:
        print(f"error: the API server answered {exc.status} {exc.reason}", file=sys.stderr)
        return 1


def _register(args: argparse.Namespace) -> int:
    from katib_llm.io import dump_yaml

    def action() -> int:
        command = shlex.split(args.command)
        if args.dry_run:
            from katib_llm.core import providers
            from katib_llm.core.errors import AdmissionDenied
            from katib_llm.sdk.client import PROVIDER_CONFIGMAP_PREFIX

            decl = {"scheme": args.name, "image": args.image, "command": command, "args": args.args}
            if args.secret:
                decl["secret"] = args.secret
            try:
                body = providers.to_configmap(decl, PROVIDER_CONFIGMAP_PREFIX + args.name, args.namespace or "default")
            except AdmissionDenied as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            dump_yaml([body], sys.stdout)
            return 0
        client = _client(args)
        created = client.register_provider(args.name, args.image, command, args.args, args.secret)
        print(f"registered provider {args.name}:// in namespace {created['metadata']['namespace']} "
              f"(ConfigMap {created['metadata']['name']})")
        return 0
    return _run(action)


def _list(args: argparse.Namespace) -> int:
    from katib_llm.io import dump_yaml

    def action() -> int:
        dump_yaml([_client(args).list_providers()], sys.stdout)
        return 0
    return _run(action)


def _delete(args: argparse.Namespace) -> int:
    def action() -> int:
        _client(args).delete_provider(args.name)
        print(f"deleted provider {args.name}://")
        return 0
    return _run(action)
