"""``katib-llm katib-config``: register our early-stopping service in Katib's katib-config.

The chart runs ``register`` in a post-install/post-upgrade hook (the entry comes from the chart's
values); ``unregister`` removes it. Both read the ConfigMap, change only our entry
(:mod:`katib_llm.core.katib_config`) and write it back with its resourceVersion, retrying when
another writer was first.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

RETRIES = 5


def register(sub: Any) -> None:
    p = sub.add_parser("katib-config", help="add or remove our earlyStoppings entry in Katib's katib-config")
    p.add_argument("action", choices=("register", "unregister"))
    p.add_argument("--entry", required=True,
                   help='JSON entry, e.g. {"algorithmName": "successivehalving", "image": "..."} '
                        "(unregister reads only algorithmName)")
    p.add_argument("--namespace", default="kubeflow", help="Katib's namespace")
    p.add_argument("--name", default="katib-config", help="Katib's ConfigMap")
    p.add_argument("--kubeconfig", default=None)
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import yaml
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    from katib_llm.core import katib_config as kc
    from katib_llm.io.kube import load_configuration

    try:
        entry = json.loads(args.entry)
        if args.action == "register":
            kc.check_entry(entry)
        elif not isinstance(entry, dict) or not entry.get("algorithmName"):
            raise kc.KatibConfigError("the entry must be an object with algorithmName")
    except (ValueError, kc.KatibConfigError) as exc:
        print(f"katib-config: --entry: {exc}", file=sys.stderr)
        return 2
    core = client.CoreV1Api(client.ApiClient(load_configuration(args.kubeconfig)))
    for _ in range(RETRIES):
        try:
            cm = core.read_namespaced_config_map(args.name, args.namespace)
        except ApiException as exc:
            hint = " (is Katib installed there? set earlyStopping.katibConfig.namespace)" if exc.status == 404 else ""
            print(f"katib-config: reading ConfigMap {args.namespace}/{args.name}: {exc.status} {exc.reason}{hint}",
                  file=sys.stderr)
            return 1
        try:
            current = yaml.safe_load((cm.data or {}).get(kc.KEY) or "") or {}
            new = kc.with_early_stopping(current, entry) if args.action == "register" else \
                kc.without_early_stopping(current, entry["algorithmName"])
        except (yaml.YAMLError, kc.KatibConfigError) as exc:
            print(f"katib-config: {args.namespace}/{args.name} key {kc.KEY}: {exc}", file=sys.stderr)
            return 1
        if new == current:
            print(f"katib-config: {entry['algorithmName']} already {args.action}ed")
            return 0
        cm.data = {**(cm.data or {}), kc.KEY: yaml.safe_dump(new, sort_keys=False)}
        try:
            core.replace_namespaced_config_map(args.name, args.namespace, cm)  # carries resourceVersion
        except ApiException as exc:
            if exc.status == 409:
                continue  # someone else wrote in between: read again
            print(f"katib-config: writing ConfigMap {args.namespace}/{args.name}: {exc.status} {exc.reason}",
                  file=sys.stderr)
            return 1
        print(f"katib-config: {entry['algorithmName']} {args.action}ed in {args.namespace}/{args.name}; "
              f"earlyStoppings: {', '.join(kc.early_stopping_names(new))}")
        return 0
    print(f"katib-config: {args.namespace}/{args.name} kept changing; gave up after {RETRIES} tries", file=sys.stderr)
    return 1
