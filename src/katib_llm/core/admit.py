"""The admission core: Experiment + admin configuration → admitted Experiment, or a denial.

Pure: no I/O, no API calls. The webhook, ``katib-llm mutate``, the SDK and the local runner all
call :func:`admit`. The admitted Experiment is built on a deep copy by one injector per concern;
the RFC 6902 patch is the diff between the request and the result.
"""

from __future__ import annotations


from dataclasses import dataclass, field
from typing import Any, Mapping

import yaml

from . import credentials, feasibility, inject, katib_rules, noops, numbers, params, rules, safeyaml, trainjob, trial_rules
from .patch import clone, make_patch
from .config import FUNCTION_MODULE, AdminConfig
from .contract import (DATASET, EXPERIMENT_LABEL, FUNCTION, MODEL, RESOURCES_PER_WORKER, TRIAL_TEMPLATE, WORKERS, LLMSpec,
                       annotation_path, is_labelled, parse_annotations)
from .errors import FieldError
from .jobkinds import JOB_KINDS, JobKind, job_kind

CONFIGMAP_TEMPLATE_SUFFIX = ".yaml"
# Bounded cost per request: a review's work grows with its parameters and its errors.
MAX_PARAMETERS = 100      # more are denied before any per-parameter work
MAX_ERRORS = 50           # a denial lists at most this many, then says how many more there were
MAX_SUGGESTIONS = 10      # "did you mean" hints (difflib) computed per request
MAX_DEPTH = 100           # deeper objects are denied before any recursive walk (copy, diff)
# ConfigMaps an adapter read for this request: (namespace, name) -> data (key -> text).
ConfigMaps = Mapping[tuple[str, str], Mapping[str, str]]


@dataclass
class AdmissionResult:
    """What the core decided. ``allowed`` is False exactly when ``errors`` is non-empty."""

    allowed: bool
    experiment: dict[str, Any]
    patch: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[FieldError] = field(default_factory=list)
    labelled: bool = True


def _deny(exp: dict[str, Any], errors: list[FieldError], warnings: list[str] | None = None) -> AdmissionResult:
    if len(errors) > MAX_ERRORS:
        errors = errors[:MAX_ERRORS] + [FieldError("spec", "errors.truncated",
                                                   f"{len(errors) - MAX_ERRORS} more errors not listed")]
    return AdmissionResult(False, exp, [], list(warnings or []), errors)


def _resolve_template(spec: dict[str, Any], llm: LLMSpec, config: AdminConfig,
                      errors: list[FieldError], configmaps: ConfigMaps | None,
                      namespace: str = "") -> tuple[dict[str, Any] | None, bool]:
    """Return (trialTemplate dict, ours). Supplies or inlines our templates."""
    tt = spec.get("trialTemplate")
    known = ", ".join(sorted(config.templates)) or "(none loaded)"
    if tt is None:
        name = llm.trial_template or (("function-pytorchjob" if llm.workers > 1 else "function-job")
                                      if llm.function else config.default_template)
        path = annotation_path(TRIAL_TEMPLATE) if llm.trial_template else "config.defaultTemplate"
        if name not in config.templates:
            errors.append(FieldError(path, "template.unknown", f"unknown trial template {name!r}; shipped: {known}"))
            return None, False
        return {"trialSpec": config.template_copy(name), "trialParameters": []}, True
    if not isinstance(tt, dict):
        errors.append(FieldError("spec.trialTemplate", "template.type", "must be an object"))
        return None, False
    cm = tt.get("configMap")
    if cm is not None and tt.get("trialSpec") is None:
        ours_cm = config.values["templatesConfigMap"]
        if isinstance(cm, dict) and cm.get("configMapName") == ours_cm["name"] and \
                cm.get("configMapNamespace") == ours_cm["namespace"]:
            name = str(cm.get("templatePath", "")).removesuffix(CONFIGMAP_TEMPLATE_SUFFIX)
            if name not in config.templates:
                errors.append(FieldError("spec.trialTemplate.configMap.templatePath", "template.unknown",
                                         f"unknown template path {cm.get('templatePath')!r}; shipped: "
                                         + ", ".join(f"{n}.yaml" for n in sorted(config.templates))))
                return None, False
            # A reference cannot carry per-experiment injection (model, dataset, volume): inline it.
            inlined = {k: v for k, v in tt.items() if k != "configMap"}  # tt is already our copy
            inlined["trialSpec"] = config.template_copy(name)
            return inlined, True
        key = (str(cm.get("configMapNamespace")), str(cm.get("configMapName"))) if isinstance(cm, dict) else None
        if key and namespace and key[0] != namespace:
            # Reading another namespace's ConfigMaps would let any user read (and run) what a
            # namespace they cannot access holds; only theirs and our shipped templates.
            errors.append(FieldError("spec.trialTemplate.configMap.configMapNamespace", "template.configmap-namespace",
                                     f"a template ConfigMap must be in the Experiment's namespace {namespace!r} "
                                     f"(or be {ours_cm['name']} in {ours_cm['namespace']}); got {key[0]!r}"))
            return None, False
        data = (configmaps or {}).get(key) if key else None
        text = data.get(str(cm.get("templatePath"))) if isinstance(data, Mapping) else None
        if text is None:
            errors.append(FieldError("spec.trialTemplate.configMap", "template.configmap-unavailable",
                                     f"ConfigMap {key[1] if key else '?'} in namespace {key[0] if key else '?'} "
                                     f"with key {cm.get('templatePath') if isinstance(cm, dict) else '?'} could "
                                     "not be read; inline the template as spec.trialTemplate.trialSpec or "
                                     f"reference configMapName {ours_cm['name']} in namespace {ours_cm['namespace']}"))
            return None, False
        try:
            trial_spec = safeyaml.load(text)  # no aliases, capped size and depth
        except safeyaml.UnsafeYAMLError as exc:
            trial_spec = None
            errors.append(FieldError("spec.trialTemplate.configMap.templatePath", "template.yaml-refused",
                                     f"the referenced template is refused: {exc}"))
        except yaml.YAMLError as exc:
            trial_spec = None
            errors.append(FieldError("spec.trialTemplate.configMap.templatePath", "template.yaml",
                                     f"the referenced template is not valid YAML: {exc}"))
        if not isinstance(trial_spec, dict):
            if not errors:
                errors.append(FieldError("spec.trialTemplate.configMap.templatePath", "template.yaml",
                                         "the referenced template must be a job manifest"))
            return None, False
        # Inlined so per-experiment injection (model, dataset, volume) can be carried.
        inlined = {k: v for k, v in tt.items() if k != "configMap"}  # tt is already our copy
        inlined["trialSpec"] = trial_spec
        return inlined, False
    return tt, False


def _wire_parameters(spec: dict[str, Any], tt: dict[str, Any], trainer: bool, function: bool,
                     errors: list[FieldError]) -> dict[str, str]:
    """Give every parameter a trialParameter and map it to its place in KATIB_LLM_HPARAMS."""
    tps = tt.setdefault("trialParameters", [])
    if not isinstance(tps, list):
        errors.append(FieldError("spec.trialTemplate.trialParameters", "template.type", "must be a list"))
        return {}
    by_ref = {tp.get("reference"): tp.get("name") for tp in tps if isinstance(tp, dict)}
    taken = {str(tp.get("name")) for tp in tps if isinstance(tp, dict)}
    hparams: dict[str, str] = {}
    parameters = spec.get("parameters")
    for i, p in enumerate(parameters if isinstance(parameters, list) else []):  # malformed: Katib's rules report it
        if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not p["name"]:
            continue
        name = p["name"]
        ref = params.resolve(name)
        if trainer and not function and ref is None and name not in by_ref:
            hints_left = MAX_SUGGESTIONS - sum(e.code == "parameter.unknown" for e in errors)
            hint = params.suggest_names(name) if hints_left > 0 else []
            errors.append(FieldError(f"spec.parameters[{i}].name", "parameter.unknown",
                                     f"{name!r} maps to no TrainingArguments field and no lora_config.<field>"
                                     + (f"; did you mean {', '.join(hint)}?" if hint else
                                        "; use a TrainingArguments field name (learning_rate) or lora_config.<field> (lora_config.r)")))
            continue
        if trainer and not function and ref is not None:
            errors.extend(params.check_parameter(i, p, ref))
        tp_name = by_ref.get(name)
        if tp_name is None:
            tp_name = params.trial_parameter_name(name, taken)
            taken.add(tp_name)
            by_ref[name] = tp_name
            tps.append({"name": tp_name, "reference": name,
                        "description": f"{ref.section}.{ref.field}" if ref else f"hyperparameter {name}"})
        hparams[name] = "${trialParameters.%s}" % tp_name
    return hparams


def _check_caps(llm: LLMSpec, config: AdminConfig, errors: list[FieldError]) -> None:
    if llm.workers > config.max_workers:
        errors.append(FieldError(annotation_path(WORKERS), "workers.cap",
                                 f"at most {config.max_workers} workers per trial (admin cap)"))
    gpu = llm.resources.gpu if llm.resources else 0
    path = annotation_path(RESOURCES_PER_WORKER)
    if gpu > config.max_gpu_per_worker:
        errors.append(FieldError(f"{path}.gpu", "gpu.cap",
                                 f"{gpu} GPUs per worker exceeds the admin cap of {config.max_gpu_per_worker}; "
                                 f"accepted: 0 to {config.max_gpu_per_worker}"))
    elif gpu * llm.workers > config.max_gpu_per_trial:
        errors.append(FieldError(f"{path}.gpu", "gpu.trial-cap",
                                 f"{gpu} GPUs x {llm.workers} workers = {gpu * llm.workers} GPUs per trial exceeds "
                                 f"the admin cap of {config.max_gpu_per_trial}"))
    if llm.resources:
        errors.extend(trial_rules.annotation_resource_errors(llm.resources.cpu, llm.resources.memory, path, config))
    for kind, uri in ((MODEL, llm.model), (DATASET, llm.dataset)):
        if uri is not None:
            errors.extend(trial_rules.source_errors(uri, annotation_path(kind), config))


def _check_trial(ctx: inject.Context, job: dict[str, Any], spec: dict[str, Any], trainer: bool) -> None:
    """What the trial itself needs: its function, model and dataset, GPU memory, metrics it prints."""
    llm, errors = ctx.llm, ctx.errors
    if inject.runs_module(job, ctx.kind, FUNCTION_MODULE) and not llm.function:
        errors.append(FieldError(annotation_path(FUNCTION), "function.required",
                                 "this trial template runs a Python objective function: set the function annotation "
                                 "(the SDK's tune(objective=fn) does), or pick an hf-lora-* template"))
    if trainer:  # peak GPU memory vs. what the admin declares per GPU (core/feasibility.py)
        feasibility.check(llm, spec, ctx.config, errors, ctx.warnings)
    if trainer and not llm.function:  # tuned values and rules that cannot act (core/noops.py)
        ctx.warnings.extend(noops.noop_warnings(spec, llm))
    if ctx.ours and not llm.function:  # our shipped trainer prints a known set of metrics
        errors.extend(rules.metric_errors(spec, llm))
    if trainer and not llm.function and not llm.model:
        errors.append(FieldError(annotation_path(MODEL), "model.required",
                                 "the trainer needs a model: set hf://<repo>[@<revision>], s3://<bucket>/<prefix> "
                                 "or <provider>://..."))
    if trainer and not llm.function and not llm.dataset:
        errors.append(FieldError(annotation_path(DATASET), "dataset.required",
                                 "the trainer needs a dataset: set hf://<repo>[?split=train[:3000]] or s3://<bucket>/<prefix>"))


def _front_errors(exp: dict[str, Any], config: AdminConfig) -> LLMSpec | list[FieldError]:
    """The checks that stop admission before anything is built: the object's shape, credentials
    (first, so no later message can repeat a value), the annotations, the Experiment's name."""
    if not isinstance(exp.get("metadata"), dict):
        return [FieldError("metadata", "experiment.type", "must be an object")]
    if exp.get("kind", "Experiment") != "Experiment":
        return [FieldError("kind", "experiment.kind", "must be Experiment (kubeflow.org/v1beta1)")]
    if not isinstance(exp.get("spec"), dict):
        return [FieldError("spec", "katib.required", "must be specified")]
    llm, errors = parse_annotations(exp, set(config.providers), config.max_workers)
    leaked = rules.credential_errors(exp)
    if leaked or errors:
        return [e for e in errors if e.code.startswith("credential.") or e.code == "env.credential"] + leaked \
            if leaked else errors
    return rules.name_errors(exp, llm) or llm


def _trial_kind(tt: dict[str, Any], job: Any, ours: bool, config: AdminConfig,
                errors: list[FieldError]) -> JobKind | None:
    """The trial job's kind, with Katib's fields for it set on the template (conditions, primary
    container and pod labels); None (errors added) when the job cannot be admitted."""
    kind = job_kind(job) if isinstance(job, dict) else None
    if kind is None:
        errors.append(FieldError("spec.trialTemplate.trialSpec.kind", "template.kind",
                                 f"unsupported trial job kind {job.get('kind') if isinstance(job, dict) else None!r}; "
                                 "accepted: " + ", ".join(sorted(JOB_KINDS))))
        return None
    if not kind.has_pod_templates:
        errors.extend(trainjob.shape_errors(job))
        if tt.get("primaryContainerName") not in (None, "", trainjob.NODE):
            errors.append(FieldError("spec.trialTemplate.primaryContainerName", "template.primary",
                                     f"a TrainJob's training container is always {trainjob.NODE!r} (Kubeflow Trainer "
                                     f"names it), got {tt['primaryContainerName']!r}"))
        if errors:
            return None
        trainjob.set_runtime(job, config.trainer_runtime, ours)
    if ours or not tt.get("primaryContainerName"):
        tt["primaryContainerName"] = tt.get("primaryContainerName") if not ours and tt.get(
            "primaryContainerName") else kind.primary_container
    tt.setdefault("successCondition", kind.success_condition)
    tt.setdefault("failureCondition", kind.failure_condition)
    if kind.primary_pod_labels and not tt.get("primaryPodLabels"):
        tt["primaryPodLabels"] = dict(kind.primary_pod_labels)
    return kind


def _inject(ctx: inject.Context, job: dict[str, Any], exp: dict[str, Any], hparams: dict[str, str],
            trainer: bool) -> None:
    """One injector per concern, in order, then the checks of the injected result."""
    inject.inject_images(ctx, job)
    inject.inject_workers(ctx, job)
    inject.inject_env(ctx, job, hparams)
    inject.inject_storage(ctx, job)
    inject.inject_resources(ctx, job)
    inject.inject_placement(ctx, job)
    inject.inject_queue(ctx, job)
    inject.inject_metrics_collector(ctx, exp, trainer)
    inject.inject_deadline(ctx, job)
    inject.inject_budget_metric(ctx, exp)
    katib_rules.apply_katib_defaults(exp)  # defaults for anything we added (idempotent)
    inject.check_rewrite_safe(ctx, job, exp)
    inject.check_explicit_commands(ctx, job)


def admit(experiment: dict[str, Any], config: AdminConfig, old: dict[str, Any] | None = None,
          configmaps: ConfigMaps | None = None, katib_checks: bool = True) -> AdmissionResult:
    """Admit a Katib Experiment: inject what an LLM tuning Experiment needs, or deny.

    Unlabelled Experiments are returned untouched with no patch. Admitting an admitted
    Experiment changes nothing, so reinvocation is safe. ``configmaps`` holds ConfigMaps the
    caller read for a ``trialTemplate.configMap`` reference to a template that is not ours
    (the core does no I/O); such a reference is inlined.

    ``katib_checks=False`` leaves out Katib's own Experiment rules (``katib_rules``), for the
    mutating webhook: on a cluster they are enforced by the validating webhooks (Katib's and
    ours, which calls :func:`validate`), which judge the final object after every mutating
    webhook ran. Everything katib-llm itself checks still denies here, and a denial still
    lists Katib's errors too, so one round shows the user every problem.
    """
    if not isinstance(experiment, dict):
        return _deny({}, [FieldError("object", "experiment.type", "must be a Katib Experiment object")])
    if not is_labelled(experiment):
        denied = rules.label_errors(experiment)
        return _deny(experiment, denied) if denied else AdmissionResult(True, experiment, [], [], [], labelled=False)
    too_costly = _cost_error(experiment)
    if too_costly is not None:
        return _deny(experiment, [too_costly])
    exp = clone(experiment)
    front = _front_errors(exp, config)
    if isinstance(front, list):
        return _deny(experiment, front)
    llm, errors = front, list[FieldError]()
    _check_caps(llm, config, errors)
    errors.extend(numbers.check_spec_numbers(exp["spec"]))

    # Katib's defaulter runs before us on a cluster; apply the same here so the result is complete.
    katib_rules.apply_katib_defaults(exp)
    spec = exp["spec"]
    inline = isinstance(spec.get("trialTemplate"), dict) and spec["trialTemplate"].get("trialSpec") is not None
    tt, ours = _resolve_template(spec, llm, config, errors, configmaps,
                                 str(exp["metadata"].get("namespace") or ""))
    if tt is None:
        return _deny(experiment, errors)
    if not ours and not inline:  # a user's ConfigMap template is copied into the Experiment too
        leaked = credentials.check_trial_spec(tt.get("trialSpec"), "spec.trialTemplate.configMap.templatePath")
        if leaked:
            return _deny(experiment, leaked)
    spec["trialTemplate"] = tt
    if llm.retain_trials:
        tt["retain"] = True
    job = tt.get("trialSpec")
    kind = _trial_kind(tt, job, ours, config, errors)
    if kind is None or not isinstance(job, dict):  # a kind is only found for a dict
        return _deny(experiment, errors)

    ctx = inject.Context(config=config, llm=llm, kind=kind,
                         experiment_name=str((exp.get("metadata") or {}).get("name") or ""),
                         ours=ours, primary=tt["primaryContainerName"], errors=errors)
    trainer = ours or inject.uses_trainer(job, kind, config.trainer_runtime)
    reserved = credentials.ReservedEnv(job, "spec.trialTemplate.trialSpec") if not ours else None
    hparams = _wire_parameters(spec, tt, trainer, bool(llm.function), errors)
    _check_trial(ctx, job, spec, trainer)
    _inject(ctx, job, exp, hparams, trainer)
    if reserved is not None:
        errors.extend(reserved.errors(job))
    # The admin's rules on what the trial will really run, whoever wrote it.
    trial_rules.check(kind, job, config, errors, ctx.warnings,
                      {k: u.raw for k, u in (("model", llm.model), ("dataset", llm.dataset)) if u is not None}, spec)
    if katib_checks or errors:  # a denial names every error at once, Katib's included
        errors.extend(katib_rules.validate_experiment(exp, old, config.early_stopping_algorithms))
    if errors:
        return _deny(experiment, _unique(errors), ctx.warnings)
    patch = make_patch(experiment, exp)
    return AdmissionResult(True, exp, patch, _unique(ctx.warnings), [])


def validate(experiment: dict[str, Any], config: AdminConfig, old: dict[str, Any] | None = None,
             configmaps: ConfigMaps | None = None) -> AdmissionResult:
    """The validating webhook's view: admit, and keep only the verdict.

    A labelled Experiment is valid when it is already in admitted form (the mutating webhook
    ran) or can be admitted; unlabelled ones are Katib's business and always pass.
    """
    result = admit(experiment, config, old, configmaps)
    return AdmissionResult(result.allowed, experiment, [], result.warnings, result.errors, result.labelled)


def volume_claim(experiment: dict[str, Any], config: AdminConfig) -> dict[str, Any] | None:
    """The PersistentVolumeClaim an admitted labelled Experiment's trials mount.

    Returns None when the Experiment is unlabelled or names an existing claim. The claim is
    owned by the Experiment (garbage-collected with it) unless it asks to retain the volume.
    """
    if not is_labelled(experiment):
        return None
    llm, errors = parse_annotations(experiment, set(config.providers), config.max_workers)
    if errors or llm.volume_claim:
        return None
    meta = experiment.get("metadata") or {}
    name = str(meta.get("name") or "")
    if not name:
        return None
    storage = config.storage
    modes = list(storage["accessModes"])
    claim: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": f"{name}{storage['claimSuffix']}",
            "namespace": meta.get("namespace"),
            "labels": {"app.kubernetes.io/managed-by": "katib-llm", EXPERIMENT_LABEL: name},
        },
        "spec": {"accessModes": modes, "resources": {"requests": {"storage": storage["size"]}}},
    }
    if storage.get("storageClassName"):
        claim["spec"]["storageClassName"] = storage["storageClassName"]
    if not llm.retain_volume and meta.get("uid"):
        claim["metadata"]["ownerReferences"] = [{
            "apiVersion": experiment.get("apiVersion", "kubeflow.org/v1beta1"), "kind": "Experiment",
            "name": name, "uid": meta["uid"], "controller": False, "blockOwnerDeletion": False}]
    return claim


def _cost_error(experiment: dict[str, Any]) -> FieldError | None:
    """Refuse, before any per-field work, what would make one review cost seconds or recurse
    without bound: deep nesting, thousands of parameters."""
    if _too_deep(experiment, MAX_DEPTH):
        return FieldError("object", "experiment.depth", f"nested deeper than {MAX_DEPTH} levels; an Experiment never is")
    spec = experiment.get("spec")
    parameters = spec.get("parameters") if isinstance(spec, dict) else None
    if isinstance(parameters, list) and len(parameters) > MAX_PARAMETERS:
        return FieldError("spec.parameters", "parameters.too-many",
                          f"{len(parameters)} parameters; at most {MAX_PARAMETERS} are accepted")
    return None


def _too_deep(obj: Any, limit: int) -> bool:
    """Whether ``obj`` nests dicts/lists deeper than ``limit`` (iterative: no recursion limit)."""
    stack = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _unique(items: list[Any]) -> list[Any]:
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
