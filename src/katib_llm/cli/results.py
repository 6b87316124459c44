"""``katib-llm report NAME|WORKDIR``: the Experiment's report and trials table as files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="write an Experiment's report (HTML) and trials table (CSV)",
                       description="Write report.html (best so far over trials and compute, parameter slices "
                                   "and importance, parallel coordinates, intermediate curves with stopped "
                                   "trials marked) and trials.csv for a local run (its work dir, or NAME "
                                   "under runs/) or a cluster Experiment NAME.")
    p.add_argument("target", metavar="NAME|WORKDIR", help="a local run's work dir, or an Experiment name")
    p.add_argument("--out", metavar="DIR",
                   help="where to write (default: the work dir for a local run, ./<NAME>-report for a cluster one)")
    p.add_argument("--namespace", help="the Experiment's namespace (cluster; default: the kubeconfig's)")
    p.add_argument("--cluster", action="store_true", help="read NAME from the cluster even if runs/NAME exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from katib_llm.local.status import NoLocalRun, default_workdir, run_name
    from katib_llm.sdk.client import KatibClient

    target = str(args.target)
    local_dir = None
    if not args.cluster:
        for candidate in (Path(target), default_workdir(target)):
            if run_name(candidate) is not None:
                local_dir = candidate
                break
    try:
        if local_dir is not None:
            name = str(run_name(local_dir))
            client = KatibClient(backend="local", workdir=str(local_dir))
            out = Path(args.out or local_dir)
        else:
            name = target
            client = KatibClient(namespace=args.namespace)
            out = Path(args.out or f"{name}-report")
        report = client.report(name, args.namespace)
        frame = client.trials_dataframe(name, args.namespace)
    except NoLocalRun as exc:
        print(f"katib-llm report: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - cluster/transport errors: one line, no traceback
        print(f"katib-llm report: cannot read Experiment {target!r}: {exc}", file=sys.stderr)
        return 1
    paths = report.save(out)
    csv = out / "trials.csv"
    frame.to_csv(csv, index=False)
    print(f"{report.title}\n  report: {paths['html']}\n  trials: {csv}")
    return 0
