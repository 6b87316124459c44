"""Katib's own Experiment rules and defaults, ported from Katib v0.19's Go webhook.

``validate_experiment`` mirrors ``ValidateExperiment`` (one check per spec section, every error
returned with its field path); ``apply_katib_defaults`` mirrors ``Experiment.SetDefault`` so the
admitted Experiment is the one Katib will store. Cluster lookups (algorithm and collector
config) are replaced by the names Katib's default katib-config ships.
"""

from __future__ import annotations

import re
from typing import Any

from . import jsontext, values
from .early_stopping import settings_errors as early_stopping_settings_errors
from .errors import FieldError
from .jobkinds import JOB_FAILURE, JOB_SUCCESS, JOB_KINDS

# Algorithm names Katib's default katib-config declares (reference/katib/trial-templates).
ALGORITHMS = ("random", "tpe", "grid", "hyperband", "bayesianoptimization", "cmaes", "sobol",
              "multivariate-tpe", "enas", "darts", "pbt")
EARLY_STOPPING = ("medianstop",)
# Early-stopping services katib-llm ships; Katib accepts one only when the admin registered it in
# katib-config (the chart does: config.earlyStoppingAlgorithms lists what it registered).
OUR_EARLY_STOPPING = ("successivehalving",)
PARAMETER_TYPES = ("int", "double", "categorical", "discrete", "unknown")
DISTRIBUTIONS = ("uniform", "logUniform", "normal", "logNormal", "unknown")
RESUME_POLICIES = ("", "Never", "LongRunning", "FromVolume")
COLLECTORS = ("StdOut", "File", "TensorFlowEvent", "PrometheusMetric", "Custom", "None", "Push")
META_KEYS = ("Name", "Namespace", "Kind", "APIVersion", "Annotations", "Labels")
DEFAULT_PARALLEL = 3
DEFAULT_FILE_PATH = "/var/log/katib/metrics.log"
DEFAULT_TFEVENT_DIR = "/var/log/katib/tfevent/"
# Katib checks the name with an unanchored end (pkg/webhook/v1beta1/experiment/validator); we anchor it.
_NAME = re.compile(r"[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?")  # matched whole (fullmatch)
# Katib matches these with Go's linear RE2; Python backtracks, so every repeat here is bounded
# (a parameter or metadata name is at most 253 characters) and searching stays linear.
_PLACEHOLDER = re.compile(r"\$\{trialParameters\.[^}\n]{1,253}\}")
_META = re.compile(r"\$\{trialSpec\.([^}\n]{1,253})\}")
_META_INDEX = re.compile(r"([^\[]{1,253})\[([^\]]{1,253})\]")
MAX_METRICS_FORMAT = 1024


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _err(path: str, code: str, msg: str) -> FieldError:
    return FieldError(path, f"katib.{code}", msg)


def trial_template_text(trial_spec: dict[str, Any]) -> str:
    """The JSON text Katib substitutes placeholders into (it marshals the unstructured spec)."""
    return jsontext.dumps(trial_spec).decode()


def _two_groups(fmt: str) -> bool:
    """Katib's ``.*\\(.*\\).*\\(.*\\).*`` (two top subexpressions) in one linear scan: some line holds
    '(' ... ')' ... '(' ... ')' in that order (the earliest of each leaves the most room for the next)."""
    for line in fmt.split("\n"):
        pos = 0
        for char in "()()":
            pos = line.find(char, pos)
            if pos < 0:
                break
            pos += 1
        else:
            return True
    return False


def _is_meta_reference(reference: str) -> bool:
    m = _META.search(reference)
    if not m:
        return False
    key = m.group(1)
    if key in META_KEYS:
        return True
    sub = _META_INDEX.match(key)
    return bool(sub and sub.group(1) in META_KEYS)


def validate_experiment(exp: dict[str, Any], old: dict[str, Any] | None = None,
                        early_stopping: tuple[str, ...] = EARLY_STOPPING) -> list[FieldError]:
    """Katib's ``ValidateExperiment``: returns every error with its field path.

    ``early_stopping``: the early-stopping algorithms katib-config declares (Katib's own plus
    those the admin registered)."""
    errors: list[FieldError] = []
    meta = exp.get("metadata") or {}
    spec = exp.get("spec")
    name = meta.get("name") or ""
    if not meta.get("generateName") or name:
        if not isinstance(name, str) or len(name) > 40 or not _NAME.fullmatch(name):
            errors.append(_err("metadata.name", "name",
                               "must consist of lower case alphanumeric characters or '-', start with an "
                               "alphabetic character, end with an alphanumeric character (regex "
                               "'^[a-z]([-a-z0-9]*[a-z0-9])?$') and be at most 40 characters"))
    if not isinstance(spec, dict):
        errors.append(_err("spec", "required", "must be specified"))
        return errors
    counts = {}
    for key in ("maxFailedTrialCount", "maxTrialCount", "parallelTrialCount"):
        value = spec.get(key)
        if value is not None and _int(value) is None:
            errors.append(_err(f"spec.{key}", "count", "must be an integer"))
        counts[key] = _int(value)
    mf, mt, pt = counts["maxFailedTrialCount"], counts["maxTrialCount"], counts["parallelTrialCount"]
    if mf is not None and mf < 0:
        errors.append(_err("spec.maxFailedTrialCount", "count", "should not be less than 0"))
    if mt is not None and mt <= 0:
        errors.append(_err("spec.maxTrialCount", "count", "must be greater than 0"))
    if pt is not None and pt <= 0:
        errors.append(_err("spec.parallelTrialCount", "count", "must be greater than 0"))
    if mf is not None and mt is not None and mf > mt:
        errors.append(_err("spec.maxFailedTrialCount", "count", "should be less than or equal to spec.maxTrialCount"))
    if pt is not None and mt is not None and pt > mt:
        errors.append(_err("spec.parallelTrialCount", "count", "should be less than or equal to spec.maxTrialCount"))
    if old is not None:
        errors += _validate_update(exp, old)

    objective_errors = _validate_objective(spec.get("objective"))
    if objective_errors:
        return errors + objective_errors
    errors += _validate_algorithm(spec.get("algorithm"))
    errors += _validate_early_stopping(spec.get("earlyStopping"), early_stopping)
    if spec.get("resumePolicy", "") not in RESUME_POLICIES:
        errors.append(_err("spec.resumePolicy", "resume-policy",
                           "invalid ResumePolicyType; accepted: Never, LongRunning, FromVolume"))
    errors += _validate_trial_template(spec)
    params = spec.get("parameters")
    if not params and not spec.get("nasConfig"):
        errors.append(_err("spec", "parameters", "spec.parameters or spec.nasConfig must be specified"))
    if params and spec.get("nasConfig"):
        errors.append(_err("spec", "parameters", "only one of spec.parameters and spec.nasConfig can be specified"))
    if params:
        errors += _validate_parameters(params)
    errors += _validate_metrics_collector(spec.get("metricsCollectorSpec"))
    return errors


def _validate_update(exp: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    spec, old_spec = dict(exp.get("spec") or {}), dict(old.get("spec") or {})
    editable = ("parallelTrialCount", "maxTrialCount", "maxFailedTrialCount")
    errors = []
    status_trials = (old.get("status") or {}).get("trials") or 0
    if spec != old_spec and isinstance(spec.get("maxTrialCount"), int) and spec["maxTrialCount"] <= status_trials:
        errors.append(_err("spec.maxTrialCount", "update", "must be greater than status.trials count"))
    for key in editable:
        spec.pop(key, None)
        old_spec.pop(key, None)
    if spec != old_spec:
        errors.append(_err("spec", "update",
                           "only spec.parallelTrialCount, spec.maxTrialCount and spec.maxFailedTrialCount are editable"))
    return errors


def _validate_objective(obj: Any) -> list[FieldError]:
    if not isinstance(obj, dict):
        return [_err("spec.objective", "objective", "must be specified")]
    errors = []
    if obj.get("type") not in ("minimize", "maximize"):
        errors.append(_err("spec.objective.type", "objective", "must be minimize or maximize"))
    if not obj.get("objectiveMetricName"):
        errors.append(_err("spec.objective.objectiveMetricName", "objective", "must be specified"))
    extra = obj.get("additionalMetricNames") or []
    if isinstance(extra, list) and obj.get("objectiveMetricName") in extra:
        errors.append(_err("spec.objective.additionalMetricNames", "objective",
                           "should not contain spec.objective.objectiveMetricName"))
    return errors


def _validate_algorithm(algo: Any) -> list[FieldError]:
    if not isinstance(algo, dict):
        return [_err("spec.algorithm", "algorithm", "must be specified")]
    name = algo.get("algorithmName")
    if not name:
        return [_err("spec.algorithm.algorithmName", "algorithm", "must be specified")]
    if name not in ALGORITHMS:
        return [_err("spec.algorithm.algorithmName", "algorithm",
                     f"unknown algorithm {name!r}; accepted: " + ", ".join(ALGORITHMS))]
    return []


def _validate_early_stopping(es: Any, registered: tuple[str, ...]) -> list[FieldError]:
    if es is None:
        return []
    if not isinstance(es, dict) or not es.get("algorithmName"):
        return [_err("spec.earlyStopping.algorithmName", "early-stopping", "must be specified")]
    if es["algorithmName"] not in registered:
        hint = ""
        if es["algorithmName"] in OUR_EARLY_STOPPING:
            hint = (f"; {es['algorithmName']} is not registered in this cluster's katib-config: ask your admin "
                    "to enable the katib-llm chart's earlyStopping.successivehalving")
        return [_err("spec.earlyStopping.algorithmName", "early-stopping",
                     f"unknown early stopping algorithm {es['algorithmName']!r}; accepted: "
                     + ", ".join(registered) + hint)]
    # Katib asks the service's ValidateEarlyStoppingSettings only when the Suggestion starts;
    # the same check here denies bad settings at admission with the field named.
    return early_stopping_settings_errors(es)


def _validate_parameters(params: Any) -> list[FieldError]:
    if not isinstance(params, list):
        return [_err("spec.parameters", "parameters", "must be a list")]
    errors = []
    for i, p in enumerate(params):
        path = f"spec.parameters[{i}]"
        if not isinstance(p, dict):
            errors.append(_err(path, "parameters", "must be an object with name, parameterType, feasibleSpace"))
            continue
        if not isinstance(p.get("name"), str) or not p.get("name"):
            errors.append(_err(f"{path}.name", "parameters", "must be specified"))
        ptype = p.get("parameterType")
        if ptype not in PARAMETER_TYPES:
            errors.append(_err(f"{path}.parameterType", "parameters",
                               f"parameterType: {ptype} is not supported; accepted: int, double, categorical, discrete"))
        space = p.get("feasibleSpace")
        if not isinstance(space, dict) or not any(space.get(k) not in (None, "", []) for k in space):
            errors.append(_err(f"{path}.feasibleSpace", "parameters", "feasibleSpace must be specified"))
            continue
        dist = space.get("distribution")
        if dist not in (None, "") and dist not in DISTRIBUTIONS:
            errors.append(_err(f"{path}.feasibleSpace.distribution", "parameters",
                               f"distribution: {dist} is not supported; accepted: " + ", ".join(DISTRIBUTIONS[:4])))
        if ptype in ("double", "int"):
            if space.get("list"):
                errors.append(_err(f"{path}.feasibleSpace.list", "parameters",
                                   f"feasibleSpace.list is not supported for parameterType: {ptype}"))
            if space.get("max") in (None, "") or space.get("min") in (None, ""):
                errors.append(_err(f"{path}.feasibleSpace.max", "parameters",
                                   f"feasibleSpace.max or feasibleSpace.min must be specified for parameterType: {ptype}"))
            else:
                errors += check_bounds(path, ptype, space)
        elif ptype in ("categorical", "discrete"):
            if any(space.get(k) not in (None, "") for k in ("max", "min", "step")):
                errors.append(_err(f"{path}.feasibleSpace", "parameters",
                                   f"feasibleSpace .max, .min and .step is not supported for parameterType: {ptype}"))
            if not isinstance(space.get("list"), list) or not space.get("list"):
                errors.append(_err(f"{path}.feasibleSpace.list", "parameters",
                                   f"feasibleSpace.list must be a non-empty list for parameterType: {ptype}"))
    return errors


def check_bounds(path: str, ptype: str, space: dict[str, Any]) -> list[FieldError]:
    """Stricter than Katib (whose suggestion services fail later): numeric, min <= max."""
    errors = []
    parsed = {}
    for key in ("min", "max", "step"):
        if space.get(key) in (None, ""):
            continue
        if not isinstance(space[key], str):
            errors.append(_err(f"{path}.feasibleSpace.{key}", "parameters",
                               f"must be a string holding a number (Katib's schema), e.g. \"{space[key]}\""))
            continue
        try:
            value = values.number(space[key]) if ptype == "double" else values.go_int(space[key])
        except values.Invalid:
            errors.append(_err(f"{path}.feasibleSpace.{key}", "parameters",
                               f"must be {'a number' if ptype == 'double' else 'an integer'} as a string, got {values.shown(space[key])}"))
            continue
        if value != value or value in (float("inf"), float("-inf")):
            errors.append(_err(f"{path}.feasibleSpace.{key}", "parameters", "must be finite"))
            continue
        parsed[key] = value
    if "min" in parsed and "max" in parsed and parsed["min"] > parsed["max"]:
        # min == max is Katib's way to fix a value (its hyperband example's resource parameter).
        errors.append(_err(f"{path}.feasibleSpace.min", "parameters", "must be less than or equal to feasibleSpace.max"))
    if "step" in parsed and parsed["step"] <= 0:
        errors.append(_err(f"{path}.feasibleSpace.step", "parameters", "must be greater than 0"))
    elif "step" in parsed and "min" in parsed and "max" in parsed and parsed["step"] > parsed["max"] - parsed["min"]:
        errors.append(_err(f"{path}.feasibleSpace.step", "parameters",
                           "must be at most feasibleSpace.max - feasibleSpace.min"))
    if space.get("distribution") in ("logUniform", "logNormal") and parsed.get("min", 1) <= 0:
        errors.append(_err(f"{path}.feasibleSpace.min", "parameters", "must be greater than 0 for a log distribution"))
    return errors


def _validate_trial_template(spec: dict[str, Any]) -> list[FieldError]:
    path = "spec.trialTemplate"
    tt = spec.get("trialTemplate")
    if not isinstance(tt, dict):
        return [_err(path, "trial-template", "must be specified")]
    errors = []
    if not tt.get("primaryContainerName"):
        errors.append(_err(f"{path}.primaryContainerName", "trial-template", "must be specified"))
    if not tt.get("successCondition") or not tt.get("failureCondition"):
        errors.append(_err(path, "trial-template", "successCondition and failureCondition must be specified"))
    if tt.get("trialParameters") is None:
        return errors + [_err(f"{path}.trialParameters", "trial-template", "must be specified")]
    has_spec, has_cm = tt.get("trialSpec") is not None, tt.get("configMap") is not None
    if not has_spec and not has_cm:
        return errors + [_err(f"{path}.trialSpec", "trial-template",
                              "spec.trialTemplate.trialSpec or spec.trialTemplate.configMap must be specified")]
    if has_spec and has_cm:
        return errors + [_err(path, "trial-template",
                              "only one of spec.trialTemplate.trialSpec or spec.trialTemplate.configMap can be specified")]
    if has_cm:
        cm = tt["configMap"]
        if not isinstance(cm, dict) or not all(cm.get(k) for k in ("configMapName", "configMapNamespace", "templatePath")):
            errors.append(_err(f"{path}.configMap", "trial-template",
                               "configMapName, configMapNamespace and templatePath must be specified"))
        # The ConfigMap's content needs a cluster read: Katib checks it, we cannot here.
        return errors
    trial_spec = tt["trialSpec"]
    if not isinstance(trial_spec, dict):
        return errors + [_err(f"{path}.trialSpec", "trial-template", "must be an object (a job manifest)")]
    text = trial_template_text(trial_spec)
    found = set(_PLACEHOLDER.findall(text))
    names: set[str] = set()
    refs: set[str] = set()
    param_names = {p.get("name") for p in spec.get("parameters") or []
                   if isinstance(p, dict) and isinstance(p.get("name"), str)}
    tps = tt["trialParameters"]
    if not isinstance(tps, list):
        return errors + [_err(f"{path}.trialParameters", "trial-template", "must be a list")]
    for i, tp in enumerate(tps):
        ipath = f"{path}.trialParameters[{i}]"
        if not isinstance(tp, dict) or not tp.get("name") or not tp.get("reference") or \
                "{" in str(tp.get("name")) or "}" in str(tp.get("name")):
            errors.append(_err(ipath, "trial-parameters",
                               "name and reference must be specified and name must not contain '{' or '}'"))
            continue
        if tp["name"] in names:
            errors.append(_err(f"{ipath}.name", "trial-parameters",
                               f"parameter name {tp['name']} can't be duplicated in spec.trialTemplate.trialParameters"))
            continue
        if tp["reference"] in refs:
            errors.append(_err(f"{ipath}.reference", "trial-parameters",
                               f"parameter reference {tp['reference']} can't be duplicated in spec.trialTemplate.trialParameters"))
            continue
        names.add(tp["name"])
        refs.add(tp["reference"])
        if param_names and not _is_meta_reference(tp["reference"]) and tp["reference"] not in param_names:
            errors.append(_err(f"{ipath}.reference", "trial-parameters",
                               f"parameter reference {tp['reference']} does not exist in spec.parameters"))
        placeholder = "${trialParameters.%s}" % tp["name"]
        if placeholder not in found and placeholder not in text:
            errors.append(_err(f"{ipath}.name", "trial-parameters",
                               f"parameter name: {tp['name']} in spec.trialParameters not found in spec.trialTemplate"))
            return errors
        if placeholder in found:
            found.discard(placeholder)
        else:  # only inside a longer match: substitute as Katib does and scan again
            text = text.replace(placeholder, "test-value")
            found = set(_PLACEHOLDER.findall(text)) - {"${trialParameters.%s}" % n for n in names}
    leftover = sorted(found, key=text.find)
    if leftover:
        errors.append(_err(path, "trial-parameters",
                           f"parameters: {leftover} in spec.trialTemplate not found in spec.trialParameters"))
    tmeta = trial_spec.get("metadata") or {}
    if isinstance(tmeta, dict) and (tmeta.get("name") or tmeta.get("namespace")):
        errors.append(_err(f"{path}.trialSpec.metadata", "trial-template",
                           "metadata.name and metadata.namespace in spec.trialTemplate must be omitted"))
    if not trial_spec.get("apiVersion") or not trial_spec.get("kind"):
        errors.append(_err(f"{path}.trialSpec", "trial-template",
                           "APIVersion and Kind in spec.trialTemplate must be specified"))
    return errors


def _validate_metrics_collector(mc: Any) -> list[FieldError]:
    path = "spec.metricsCollectorSpec"
    if mc is None:
        return []
    if not isinstance(mc, dict):
        return [_err(path, "metrics-collector", "must be an object")]
    kind = (mc.get("collector") or {}).get("kind", "StdOut")
    source = mc.get("source") or {}
    fsp = source.get("fileSystemPath") or {}
    errors = []
    if kind not in COLLECTORS:
        return [_err(f"{path}.collector.kind", "metrics-collector",
                     f"invalid metrics collector kind: {kind}; accepted: " + ", ".join(COLLECTORS))]
    if kind == "File":
        if fsp.get("kind") != "File" or not str(fsp.get("path", "")).startswith("/"):
            errors.append(_err(f"{path}.source.fileSystemPath.path", "metrics-collector",
                               "file path where metrics file exists is required"))
        if fsp.get("format") not in ("TEXT", "JSON"):
            errors.append(_err(f"{path}.source.fileSystemPath.format", "metrics-collector",
                               "format of metrics file is required for metrics collector (TEXT or JSON)"))
        if fsp.get("format") == "JSON" and source.get("filter"):
            errors.append(_err(f"{path}.source.filter", "metrics-collector",
                               "filter must be nil when format of metrics file is json"))
    elif kind == "TensorFlowEvent":
        if fsp.get("kind") != "Directory" or not str(fsp.get("path", "")).startswith("/"):
            errors.append(_err(f"{path}.source", "metrics-collector",
                               "directory path where tensorflow event files exist is required"))
        if fsp.get("format"):
            errors.append(_err(f"{path}.source.fileSystemPath.format", "metrics-collector", "must be empty"))
    elif kind == "PrometheusMetric":
        http = source.get("httpGet") or {}
        port = http.get("port")
        if not (isinstance(port, int) and port > 0) and not (isinstance(port, str) and port.isascii() and port.isdigit() and int(port) > 0):
            errors.append(_err(f"{path}.source.httpGet.port", "metrics-collector", "must be a positive integer value"))
        if not str(http.get("path", "")).startswith("/"):
            errors.append(_err(f"{path}.source.httpGet.path", "metrics-collector", "path is invalid"))
    elif kind == "Custom":
        if not (mc.get("collector") or {}).get("customCollector"):
            errors.append(_err(f"{path}.collector.customCollector", "metrics-collector",
                               "metrics collector kind: Custom is required"))
    formats = ((source.get("filter") or {}).get("metricsFormat")) or []
    for j, fmt in enumerate(formats if isinstance(formats, list) else []):
        if len(str(fmt)) > MAX_METRICS_FORMAT:
            errors.append(_err(f"{path}.source.filter.metricsFormat[{j}]", "metrics-collector",
                               f"a filter of at most {MAX_METRICS_FORMAT} characters"))
            continue
        try:
            re.compile(str(fmt))
        except (re.error, RecursionError, OverflowError) as exc:
            errors.append(_err(f"{path}.source.filter.metricsFormat[{j}]", "metrics-collector", f"invalid filter: {exc}"))
            continue
        if not _two_groups(str(fmt)):
            errors.append(_err(f"{path}.source.filter.metricsFormat[{j}]", "metrics-collector",
                               "two top subexpressions are required"))
    return errors


def apply_katib_defaults(exp: dict[str, Any]) -> None:
    """Katib's ``SetDefault``, in place. Idempotent."""
    spec = exp.setdefault("spec", {})
    if spec.get("parallelTrialCount") is None:
        spec["parallelTrialCount"] = DEFAULT_PARALLEL
    if not spec.get("resumePolicy"):
        spec["resumePolicy"] = "Never"
    obj = spec.get("objective")
    if isinstance(obj, dict):
        strategies = obj.setdefault("metricStrategies", [])
        named = {s.get("name") for s in strategies if isinstance(s, dict) and isinstance(s.get("name"), str)} \
            if isinstance(strategies, list) else set()
        otype = obj.get("type")
        value = {"minimize": "min", "maximize": "max"}.get(otype if isinstance(otype, str) else "", "latest")
        extra = obj.get("additionalMetricNames")
        metrics = [obj.get("objectiveMetricName")] + (list(extra) if isinstance(extra, list) else [])
        for metric in metrics if isinstance(strategies, list) else []:  # malformed: the validator reports it
            if isinstance(metric, str) and metric and metric not in named:
                strategies.append({"name": metric, "value": value})
                named.add(metric)
    tt = spec.get("trialTemplate")
    if isinstance(tt, dict) and isinstance(tt.get("trialSpec"), dict):
        job_kind_name = tt["trialSpec"].get("kind", "")
        kind = JOB_KINDS.get(job_kind_name) if isinstance(job_kind_name, str) else None
        if kind is not None and kind.kind == "Job":
            tt.setdefault("successCondition", JOB_SUCCESS)
            tt.setdefault("failureCondition", JOB_FAILURE)
        elif kind is not None and kind.kind in ("TFJob", "PyTorchJob", "XGBoostJob", "MPIJob", "TrainJob"):
            tt.setdefault("successCondition", kind.success_condition)
            tt.setdefault("failureCondition", kind.failure_condition)
            if not tt.get("primaryPodLabels"):
                tt["primaryPodLabels"] = dict(kind.primary_pod_labels)
    mc = spec.setdefault("metricsCollectorSpec", {})
    collector = mc.setdefault("collector", {"kind": "StdOut"})
    kind = collector.get("kind")
    if kind == "File":
        fsp = mc.setdefault("source", {}).setdefault("fileSystemPath", {})
        fsp.setdefault("kind", "File")
        fsp.setdefault("path", DEFAULT_FILE_PATH)
        fsp.setdefault("format", "TEXT")
    elif kind == "TensorFlowEvent":
        fsp = mc.setdefault("source", {}).setdefault("fileSystemPath", {})
        fsp.setdefault("kind", "Directory")
        fsp.setdefault("path", DEFAULT_TFEVENT_DIR)
    elif kind == "PrometheusMetric":
        http = mc.setdefault("source", {}).setdefault("httpGet", {})
        http.setdefault("path", "/metrics")
        if not http.get("port"):
            http["port"] = 8080
    parameters = spec.get("parameters")
    for p in parameters if isinstance(parameters, list) else []:
        if isinstance(p, dict) and isinstance(p.get("feasibleSpace"), dict):
            if not p["feasibleSpace"].get("distribution"):
                p["feasibleSpace"]["distribution"] = "uniform"
