"""``katib-llm deploy``: the best trial as a KServe InferenceService, or served here with ``--local``."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "deploy", help="serve the tuned model (KServe InferenceService, or locally with --local)",
        description="Build a KServe InferenceService (Hugging Face runtime) for EXPERIMENT's best trial and "
                    "create it, or print it with --dry-run. With --local WORKDIR, serve a local run's best "
                    "adapter over HTTP on 127.0.0.1 (KServe v1 predict; OpenAI completions for causal LMs).")
    p.add_argument("experiment", nargs="?", help="name of the Experiment on the cluster")
    p.add_argument("-n", "--namespace", help="namespace of the Experiment (default: the kubeconfig's)")
    p.add_argument("-f", "--file", help="read the Experiment (with its status) from this YAML file instead")
    p.add_argument("--values", help="admin values (the chart's values.yaml or its config section)")
    p.add_argument("--dry-run", action="store_true", help="print the manifest; create nothing")
    p.add_argument("--from-trial", action="store_true",
                   help="read the adapter from the best trial's directory instead of the promoted best/")
    p.add_argument("--promotion-job", action="store_true",
                   help="the Job that promotes the best adapter (and merges it for non-causal models) instead")
    p.add_argument("--local", metavar="WORKDIR", help="serve the best adapter of a local run's work dir")
    p.add_argument("--port", type=int, default=8080, help="with --local: port on 127.0.0.1 (0 = any free port)")
    p.add_argument("--model-dir", help="with --local: the base model directory (default: the run's own)")
    p.add_argument("--cache-dir", help="with --local: storage initializer cache (default: $KATIB_LLM_CACHE_DIR)")
    p.add_argument("--name", help="with --local: model name in the URLs (default: from the Experiment)")
    p.set_defaults(func=_deploy)


def _deploy(args: argparse.Namespace) -> int:
    if args.local:
        return _local(args)
    if not args.experiment and not args.file:
        print("error: give EXPERIMENT (a name on the cluster), -f FILE, or --local WORKDIR", file=sys.stderr)
        return 2
    from katib_llm.core.errors import AdmissionDenied
    from katib_llm.io import admin_config, dump_yaml, read_documents

    from katib_llm.deploy.adapters import promotion_job
    from katib_llm.deploy.kserve import DeployError, create_inference_service, inference_service

    try:
        config = admin_config(args.values)
        if args.file:
            docs = [d for d in read_documents(args.file) if isinstance(d, dict) and d.get("kind") == "Experiment"]
            if not docs:
                raise DeployError(f"{args.file}: no Experiment in it")
            experiment = docs[0]
        else:
            experiment = _read_experiment(args.experiment, args.namespace)
        if args.promotion_job:
            manifest = promotion_job(experiment, config)
        else:
            manifest = inference_service(experiment, config, namespace=args.namespace, from_trial=args.from_trial)
        if args.dry_run:
            print(dump_yaml([manifest]), end="")
            return 0
        if args.promotion_job:
            print("error: creating the promotion Job is the reconciler's job; use --dry-run and kubectl apply",
                  file=sys.stderr)
            return 2
        created = create_inference_service(manifest)
        meta = created.get("metadata", {})
        print(f"inferenceservice.serving.kserve.io/{meta.get('name')} created in {meta.get('namespace')}")
        return 0
    except (DeployError, AdmissionDenied, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _read_experiment(name: str, namespace: str | None) -> dict[str, Any]:
    from kubernetes.client.rest import ApiException

    from katib_llm.io.kube import ClusterUnavailable, KubeApi, load_configuration

    from katib_llm.deploy.kserve import DeployError

    try:
        configuration = load_configuration()
    except ClusterUnavailable as exc:
        raise DeployError(f"{exc}; or pass -f FILE with the Experiment") from None
    ns = namespace or "default"
    try:
        return KubeApi(configuration).get("experiments", ns, name)
    except ApiException as exc:
        if exc.status == 404:
            raise DeployError(f"Experiment {ns}/{name} not found") from None
        raise DeployError(f"reading Experiment {ns}/{name} failed: {exc.status} {exc.reason}") from None


def _local(args: argparse.Namespace) -> int:
    from katib_llm.deploy.server import LocalDeployError, serve

    if not 0 <= args.port <= 65535:
        print(f"error: --port must be between 0 and 65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        return serve(args.local, args.port, model_dir=args.model_dir, cache_dir=args.cache_dir, name=args.name)
    except (LocalDeployError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
