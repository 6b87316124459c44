"""KServe ``InferenceService`` for an Experiment's best trial (Hugging Face serving runtime).

KServe's huggingfaceserver (``python/huggingfaceserver/huggingfaceserver/__main__.py``) reads
``--model_name``, ``--model_dir`` (a local path or storage URI, default ``/mnt/models``),
``--task``, ``--backend`` and ``--return_probabilities``; its Hugging Face backend has **no LoRA
option**. LoRA adapters are served by its vLLM backend, which takes vLLM's own engine flags
(``--enable-lora``, ``--lora-modules NAME=PATH``, ``--max-lora-rank``). So:

* ``AutoModelForCausalLM``: vLLM backend, base model from the shared volume, the promoted
  adapter as LoRA module ``<experiment>-lora`` (OpenAI ``/openai/v1/completions`` with
  ``"model": "<experiment>-lora"``);
* other classes (sequence classification…): Hugging Face backend on the merged model
  ``best/merged`` that the promotion Job writes (``--merge``), with ``--return_probabilities``.

The shared volume is mounted whole through ``storageUri: pvc://<claim>`` (KServe mounts a
``pvc://`` URI at ``/mnt/models``), so ``<mount>/X`` of the trials is ``/mnt/models/X`` here.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from katib_llm.core.contract import BEST_PARAMETERS, BEST_TRIAL, EXPERIMENT_LABEL, LABEL, LORA_CONFIG, MODEL, annotation_key

KSERVE_GROUP = "serving.kserve.io"
KSERVE_VERSION = "v1beta1"
KSERVE_PLURAL = "inferenceservices"
MODELS_MOUNT = "/mnt/models"
LABEL_EXPERIMENT = EXPERIMENT_LABEL
ANNOTATION_TRIAL = BEST_TRIAL
# vLLM accepts these LoRA ranks for --max-lora-rank.
_VLLM_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
_TASKS = {
    "AutoModelForSequenceClassification": "sequence_classification",
    "AutoModelForTokenClassification": "token_classification",
    "AutoModelForCausalLM": "text_generation",
    "AutoModelForSeq2SeqLM": "text2text_generation",
    "AutoModelForQuestionAnswering": "question_answering",
}
_DNS1035 = re.compile(r"[^a-z0-9-]")


class DeployError(ValueError):
    """The Experiment cannot be deployed (yet); the message says why and what to do."""


@dataclass
class ExperimentFacts:
    """What deploying needs from an Experiment: identity, model, best trial."""

    name: str
    namespace: str
    model_class: str
    model_uri: str | None
    model_key: str | None
    best_trial: str
    parameters: dict[str, str] = field(default_factory=dict)
    objective_type: str = "maximize"
    trials: list[str] = field(default_factory=list)

    @property
    def model_dir(self) -> str | None:
        return f"inputs/{self.model_key}" if self.model_key else None


def experiment_facts(experiment: dict[str, Any], config: Any) -> ExperimentFacts:
    """Read an Experiment's annotations and ``status.currentOptimalTrial``; DeployError if unusable."""
    from katib_llm.core.contract import is_labelled, parse_annotations
    from katib_llm.core.errors import format_errors

    if not isinstance(experiment, dict) or experiment.get("kind", "Experiment") != "Experiment":
        raise DeployError("expected a Katib Experiment object")
    meta = experiment.get("metadata") or {}
    name = str(meta.get("name") or "")
    if not is_labelled(experiment):
        raise DeployError(f"Experiment {name!r} is not an LLM tuning Experiment (label {LABEL} "
                          "is not \"true\"): katib-llm does not know its model or adapters")
    llm, errors = parse_annotations(experiment, set(config.providers), config.max_workers)
    if errors:
        raise DeployError(f"Experiment {name!r} has bad annotations: {format_errors(errors)}")
    status = experiment.get("status") or {}
    optimal = status.get("currentOptimalTrial") or {}
    best = str(optimal.get("bestTrialName") or "")
    assignments = {str(a.get("name")): str(a.get("value")) for a in optimal.get("parameterAssignments") or []
                   if isinstance(a, dict)}
    trials = sorted({str(t) for key in ("succeededTrialList", "failedTrialList", "killedTrialList",
                                        "earlyStoppedTrialList", "metricsUnavailableTrialList")
                     for t in status.get(key) or []})
    objective = ((experiment.get("spec") or {}).get("objective") or {}).get("type") or "maximize"
    return ExperimentFacts(name=name, namespace=str(meta.get("namespace") or "default"), model_class=llm.model_class,
                           model_uri=llm.model.raw if llm.model else None, model_key=llm.model.key if llm.model else None,
                           best_trial=best, parameters=assignments, objective_type=objective,
                           trials=trials or ([best] if best else []))


def claim_for(experiment: dict[str, Any], config: Any) -> str:
    """The PersistentVolumeClaim the Experiment's trials wrote to (as the core names it)."""
    from katib_llm.core.contract import parse_annotations

    llm, _ = parse_annotations(experiment, set(config.providers), config.max_workers)
    if llm.volume_claim:
        return llm.volume_claim
    name = str((experiment.get("metadata") or {}).get("name") or "katib-llm")
    return f"{name}{config.storage['claimSuffix']}"


def service_name(experiment_name: str) -> str:
    """A DNS-1035 name KServe accepts (it derives longer names from it, so keep it <= 45)."""
    base = _DNS1035.sub("-", experiment_name.lower()).strip("-") or "llm"
    if not base[0].isalpha():
        base = "m-" + base
    if len(base) <= 45:
        return base
    digest = hashlib.sha256(experiment_name.encode()).hexdigest()[:6]
    return f"{base[:38].rstrip('-')}-{digest}"


def _vllm_rank(rank: int) -> int:
    return next((r for r in _VLLM_RANKS if r >= rank), _VLLM_RANKS[-1])


def inference_service(experiment: dict[str, Any], config: Any, *, namespace: str | None = None,
                      from_trial: bool = False, resources: dict[str, Any] | None = None) -> dict[str, Any]:
    """The KServe InferenceService serving an Experiment's best trial (pure).

    ``experiment`` must carry ``status.currentOptimalTrial`` (Katib fills it as trials report).
    The adapter is read from ``<mount>/experiments/<exp>/best`` (promoted) or, with
    ``from_trial``, from the best trial's own directory.

    >>> isvc = inference_service(experiment, admin_config())  # doctest: +SKIP
    >>> isvc["spec"]["predictor"]["model"]["modelFormat"]
    {'name': 'huggingface'}
    """
    facts = experiment_facts(experiment, config)
    if not facts.best_trial:
        raise DeployError(f"Experiment {facts.name!r} has no best trial yet (status.currentOptimalTrial is empty): "
                          "wait until a trial reports the objective metric")
    if not facts.model_dir:
        raise DeployError(f"Experiment {facts.name!r} names no model (annotation {annotation_key(MODEL)})")
    adapter = f"{MODELS_MOUNT}/experiments/{facts.name}/{facts.best_trial if from_trial else 'best'}"
    model_name = service_name(facts.name)
    args = [f"--model_name={model_name}"]
    if facts.model_class == "AutoModelForCausalLM":
        rank = int(float(facts.parameters.get("lora_config.r") or _lora_r(experiment) or 8))
        args += ["--backend=vllm", f"--model_dir={MODELS_MOUNT}/{facts.model_dir}", "--enable-lora",
                 f"--max-lora-rank={_vllm_rank(rank)}", f"--lora-modules={model_name}-lora={adapter}"]
    else:
        if from_trial:
            raise DeployError("KServe's Hugging Face backend cannot apply a LoRA adapter: a "
                              f"{facts.model_class} is served merged from best/merged; run the promotion Job "
                              "(katib-llm deploy --promotion-job) and deploy without --from-trial")
        args += ["--backend=huggingface", f"--model_dir={adapter}/merged", "--return_probabilities"]
        if facts.model_class in _TASKS:
            args.append(f"--task={_TASKS[facts.model_class]}")
    limits = _resources(experiment, config, resources)
    annotations = {ANNOTATION_TRIAL: facts.best_trial}
    if facts.parameters:
        import json

        annotations[BEST_PARAMETERS] = json.dumps(facts.parameters, sort_keys=True)
    return {
        "apiVersion": f"{KSERVE_GROUP}/{KSERVE_VERSION}",
        "kind": "InferenceService",
        "metadata": {"name": model_name, "namespace": namespace or facts.namespace,
                     "labels": {LABEL_EXPERIMENT: facts.name}, "annotations": annotations},
        "spec": {"predictor": {"model": {
            "modelFormat": {"name": "huggingface"},
            "storageUri": f"pvc://{claim_for(experiment, config)}",
            "args": args,
            "resources": {"requests": dict(limits), "limits": dict(limits)},
        }}},
    }


def _lora_r(experiment: dict[str, Any]) -> Any:
    import json

    raw = ((experiment.get("metadata") or {}).get("annotations") or {}).get(annotation_key(LORA_CONFIG))
    try:
        return json.loads(raw).get("r") if raw else None
    except (ValueError, AttributeError):
        return None


def _resources(experiment: dict[str, Any], config: Any, override: dict[str, Any] | None) -> dict[str, str]:
    """Serving resources: ``override`` (gpu/cpu/memory) or one worker's trial resources."""
    from katib_llm.core.contract import parse_annotations, parse_resources

    errors: list[Any] = []
    if override is not None:
        res = parse_resources(override, "resources", errors)
        if errors or res is None:
            raise DeployError("; ".join(str(e) for e in errors) or "bad resources")
    else:
        llm, _ = parse_annotations(experiment, set(config.providers), config.max_workers)
        res = llm.resources or parse_resources(config.values["defaultResourcesPerWorker"] or {}, "config", errors)
    limits: dict[str, str] = {}
    if res is not None:
        if res.cpu:
            limits["cpu"] = res.cpu
        if res.memory:
            limits["memory"] = res.memory
        if res.gpu:
            limits[config.gpu_resource] = "1"  # one replica serves on one GPU
    return limits


def deploy_best(client: Any, name: str, namespace: str | None = None, *, values: Any = None,
                dry_run: bool = False, from_trial: bool = False) -> dict[str, Any]:
    """Create the InferenceService for Experiment ``name``'s best trial; return the manifest.

    ``client`` is a ``KatibClient`` (its ``get_experiment_dict`` reads the Experiment and its
    Kubernetes configuration is reused) or anything with ``get_experiment_dict(name, ns)``.
    With ``dry_run`` nothing is created.
    """
    from katib_llm.io import admin_config

    from kubernetes.client.rest import ApiException

    ns = namespace or getattr(client, "namespace", None) or "default"
    try:
        experiment = client.get_experiment_dict(name, ns)
    except ApiException as exc:
        if exc.status == 404:
            raise DeployError(f"Experiment {ns}/{name} not found") from None
        raise DeployError(f"reading Experiment {ns}/{name} failed: {exc.status} {exc.reason}") from None
    manifest = inference_service(experiment, admin_config(values), namespace=ns, from_trial=from_trial)
    if dry_run:
        return manifest
    return create_inference_service(manifest, _configuration(client))


def _configuration(client: Any) -> Any:
    api = getattr(client, "_api", None)
    kube = api() if callable(api) else None
    api_client = getattr(kube, "_api_client", None)
    return getattr(api_client, "configuration", None)


def create_inference_service(manifest: dict[str, Any], configuration: Any = None) -> dict[str, Any]:
    """Create (or replace, when it exists) the InferenceService through ``CustomObjectsApi``."""
    from kubernetes import client as k8s
    from kubernetes.client.rest import ApiException

    if configuration is None:
        from katib_llm.io.kube import load_configuration

        configuration = load_configuration()
    api = k8s.CustomObjectsApi(k8s.ApiClient(configuration))
    ns, name = manifest["metadata"]["namespace"], manifest["metadata"]["name"]
    try:
        return api.create_namespaced_custom_object(KSERVE_GROUP, KSERVE_VERSION, ns, KSERVE_PLURAL, manifest)
    except ApiException as exc:
        if exc.status == 404:
            raise DeployError("the cluster has no InferenceService resource: install KServe "
                              "(serving.kserve.io/v1beta1) first") from None
        if exc.status != 409:
            raise DeployError(f"creating InferenceService {ns}/{name} failed: {exc.status} {exc.reason}") from None
    current = api.get_namespaced_custom_object(KSERVE_GROUP, KSERVE_VERSION, ns, KSERVE_PLURAL, name)
    manifest = {**manifest, "metadata": {**manifest["metadata"],
                                         "resourceVersion": current["metadata"]["resourceVersion"]}}
    return api.replace_namespaced_custom_object(KSERVE_GROUP, KSERVE_VERSION, ns, KSERVE_PLURAL, name, manifest)
