"""The admin's rules, applied to the effective trial (core/effective.py) after injection.

One set of rules, each applied to every pod shape the walker yields, whatever wrote it (our
annotations, the user's own ``trialSpec``, a ConfigMap template, a TrainJob's runtime patches):

* host access (core/podsecurity.py): warn or deny per ``config.privilegedTemplates``;
* GPUs per pod (``gpu.maxPerWorker``: app containers and sidecars summed, or the largest init
  container, as the scheduler counts them), GPUs per trial (``gpu.maxPerTrial``: per pod x pods),
  worker pods per trial (``maxWorkers``), processes per pod (:data:`MAX_PROCS_PER_WORKER`);
* the storage allow-lists (``allowedModelSources``, ``fileRoots``) on a TrainJob's own
  ``spec.initializer`` URIs, as on the model and dataset annotations (:func:`source_errors`).

A limit the annotations already broke is reported once, at the annotation (codes stay stable:
``gpu.cap``, ``gpu.trial-cap``, ``workers.cap``, ``uri.not-allowed``, ``uri.file-not-allowed``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable

from . import podsecurity
from .config import AdminConfig
from .effective import Container, PodShape, initializer_uris, pod_shapes, procs_fields
from .errors import FieldError
from .jobkinds import JobKind
from .quantity import quantity, split
from .substitute import METADATA_PLACEHOLDER, PARAMETER_PLACEHOLDER
from .uris import StorageURI, parse_uri

# Processes one pod may start (torchrun --nproc-per-node, MPI slots, numProcPerNode): the same
# bound as the procs-per-worker annotation's.
MAX_PROCS_PER_WORKER = 64
# Named values of a PyTorchJob's nprocPerNode (training-operator v1.9: "auto", "cpu", "gpu").
_NAMED_PROCS = ("auto", "cpu", "gpu")
_GPU_CODES = {"gpu.cap", "gpu.trial-cap"}
# What a quantity holding a placeholder counts as when its parameter does not bound it.
UNBOUNDED = Fraction(2**63)


@dataclass(frozen=True)
class _Gpus:
    """GPUs one pod shape asks for, and the field that asks for the most."""

    amount: Fraction
    path: str | None


def check(kind: JobKind, job: dict[str, Any], config: AdminConfig, errors: list[FieldError],
          warnings: list[str], annotated: dict[str, str], spec: dict[str, Any]) -> None:
    """Every rule on every pod shape of the admitted ``job``. ``annotated`` maps model/dataset
    to the annotation URI admission wrote into a TrainJob's initializer (checked there);
    ``spec`` is the Experiment's spec (its parameters bound a placeholder in a URI)."""
    shapes = list(pod_shapes(kind, job))
    podsecurity.check(shapes, config.values["privilegedTemplates"], errors, warnings)
    reported = {e.code for e in errors}
    if reported & _GPU_CODES:  # one GPU limit broken by the annotation: the trial's follow from it
        reported |= _GPU_CODES
    found = _cap_errors(shapes, config, spec) + _procs_errors(kind, job)
    errors.extend(e for e in found if e.code not in reported)
    errors.extend(_initializer_errors(job, config, annotated, spec))  # the annotations' own are skipped there


def _amount(value: Any, spec: dict[str, Any] | None = None) -> Fraction:
    """A quantity's amount; a placeholder's largest value (:data:`UNBOUNDED` when its parameter
    does not bound it); 0 for what is no quantity (the API server refuses it)."""
    if isinstance(value, str) and "${" in value and spec is not None:
        candidates = uri_candidates(value, spec, ranges=True)
        if candidates is None:
            return UNBOUNDED
        return max((_amount(c) for c in candidates), default=Fraction(0))
    text = quantity(value)
    return split(text)[0] if text is not None else Fraction(0)


def _container_amount(c: Container, resource: str, spec: dict[str, Any] | None) -> _Gpus:
    resources = c.obj.get(c.resources_key)
    best = _Gpus(Fraction(0), None)
    for key in ("limits", "requests"):
        values = resources.get(key) if isinstance(resources, dict) else None
        if isinstance(values, dict) and resource in values:
            amount = _amount(values[resource], spec)
            if amount > best.amount:
                best = _Gpus(amount, f"{c.path}.{c.resources_key}.{key}[{resource}]")
    return best


def pod_amount(shape: PodShape, resource: str, spec: dict[str, Any] | None = None) -> _Gpus:
    """How much of ``resource`` the scheduler reserves for one pod: app containers plus sidecars,
    or the largest one-shot init container plus the sidecars, whichever is more (a trial
    parameter in a quantity counts as its largest value)."""
    per = [(c, _container_amount(c, resource, spec)) for c in shape.containers if c.group != "ephemeralContainers"]
    sidecars = sum((g.amount for c, g in per if c.restartable_init), Fraction(0))
    running = sum((g.amount for c, g in per if c.group in ("containers", "trainer")), Fraction(0)) + sidecars
    init = max((g.amount for c, g in per if c.group == "initContainers" and not c.restartable_init),
               default=Fraction(0)) + sidecars
    top = max((g for _, g in per), key=lambda g: g.amount, default=_Gpus(Fraction(0), None))
    return _Gpus(max(running, init), top.path or shape.path)


def _cap_errors(shapes: list[PodShape], config: AdminConfig, spec: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    per_pod, trial_total, biggest = config.max_gpu_per_worker, Fraction(0), _Gpus(Fraction(0), None)
    for shape in shapes:
        gpus = pod_amount(shape, config.gpu_resource, spec)
        if gpus.amount > per_pod:
            errors.append(FieldError(gpus.path or shape.path, "gpu.cap",
                                     f"{_fmt(gpus.amount)} GPUs in one pod exceeds the admin cap of {per_pod} per "
                                     f"worker; accepted: 0 to {per_pod}"))
        contribution = gpus.amount * shape.replicas
        trial_total += contribution
        if contribution > biggest.amount:
            biggest = _Gpus(contribution, gpus.path)
    if trial_total > config.max_gpu_per_trial:
        errors.append(FieldError(biggest.path or "spec.trialTemplate.trialSpec", "gpu.trial-cap",
                                 f"the trial's pods ask for {_fmt(trial_total)} GPUs in all, over the admin cap of "
                                 f"{config.max_gpu_per_trial} per trial"))
    errors += _resource_errors(shapes, config, spec)
    workers = [s for s in shapes if s.worker and s.replicas_path]
    total = sum(s.replicas for s in workers)
    if total > config.max_workers:
        largest = max(workers, key=lambda s: s.replicas)
        errors.append(FieldError(str(largest.replicas_path), "workers.cap",
                                 f"the trial makes {total} worker pods; at most {config.max_workers} workers per "
                                 "trial (admin cap)"))
    return errors


def _resource_errors(shapes: list[PodShape], config: AdminConfig, spec: dict[str, Any]) -> list[FieldError]:
    """CPU and memory per pod against ``maxResourcesPerWorker`` (an empty cap: none)."""
    errors = []
    for key, cap in sorted(config.values["maxResourcesPerWorker"].items()):
        if not cap:
            continue
        limit = _amount(cap)
        for shape in shapes:
            used = pod_amount(shape, key, spec)
            if used.amount > limit:
                errors.append(FieldError(used.path or shape.path, "resources.cap",
                                         f"one pod asks for {_fmt(used.amount)} {key}, over the admin cap of "
                                         f"{cap} per worker (config.maxResourcesPerWorker.{key})"))
    return errors


def annotation_resource_errors(cpu: str | None, memory: str | None, path: str, config: AdminConfig) -> list[FieldError]:
    """The resources-per-worker annotation's cpu and memory against ``maxResourcesPerWorker``."""
    errors = []
    for key, value in (("cpu", cpu), ("memory", memory)):
        cap = config.values["maxResourcesPerWorker"].get(key)
        if cap and value and _amount(value) > _amount(cap):
            errors.append(FieldError(f"{path}.{key}", "resources.cap",
                                     f"{value} of {key} per worker exceeds the admin cap of {cap} "
                                     f"(config.maxResourcesPerWorker.{key})"))
    return errors


def _fmt(amount: Fraction) -> str:
    if amount >= UNBOUNDED:
        return "an unbounded number (a trial parameter whose values are not bounded) of"
    return str(amount.numerator) if amount.denominator == 1 else f"{float(amount):g}"


def _procs_errors(kind: JobKind, job: dict[str, Any]) -> list[FieldError]:
    errors = []
    for path, raw in procs_fields(kind, job):
        text = str(raw).strip() if isinstance(raw, (int, str)) and not isinstance(raw, bool) else ""
        if text in _NAMED_PROCS or not (text.isascii() and text.isdigit()):
            continue  # named values, placeholders and wrong types: the operator's own rules
        if len(text) > 7 or int(text) > MAX_PROCS_PER_WORKER:
            errors.append(FieldError(path, "procs.cap", f"at most {MAX_PROCS_PER_WORKER} processes per worker; "
                                                        f"got {text[:20]}"))
    return errors


def _initializer_errors(job: dict[str, Any], config: AdminConfig, annotated: dict[str, str],
                        spec: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []
    for kind, path, raw in initializer_uris(job):
        if annotated.get(kind) == raw:
            continue  # written from the annotation, which was checked there
        if not isinstance(raw, str) or not raw:
            errors.append(FieldError(path, "uri.form", "must be a storage URI string"))
            continue
        candidates = uri_candidates(raw, spec)
        if candidates is None:
            errors.append(FieldError(path, "uri.form", "a storageUri may hold at most one ${trialParameters.<name>} "
                                                       "and only of a categorical parameter, whose every value is "
                                                       "checked against the admin's allow-lists"))
            continue
        for uri_text in candidates:
            found: list[FieldError] = []
            uri = parse_uri(uri_text, path, kind, set(config.providers), found)
            found += source_errors(uri, path, config) if uri is not None else []
            if found:
                errors.extend(found)
                break
    return errors


def uri_candidates(raw: str, spec: dict[str, Any], ranges: bool = False) -> list[str] | None:
    """Every value Katib may make of ``raw``: itself without placeholders; one per value of the
    categorical (or discrete) parameter a single ``${trialParameters.<name>}`` stands for, and with
    ``ranges`` the two ends of an int or double parameter (for a quantity, which grows with its
    number); None otherwise. ``${trialSpec.Name}``-like placeholders stand for the trial's own
    (DNS label) metadata."""
    text = METADATA_PLACEHOLDER.sub("trial", raw)
    names = set(PARAMETER_PLACEHOLDER.findall(text))
    if not names:
        return [text]
    if len(names) != 1:
        return None
    (name,) = names
    tt = spec.get("trialTemplate")
    tps = tt.get("trialParameters") if isinstance(tt, dict) else None
    refs = {tp.get("name"): tp.get("reference") for tp in (tps if isinstance(tps, list) else []) if isinstance(tp, dict)}
    params = spec.get("parameters")
    for p in params if isinstance(params, list) else []:
        space = p.get("feasibleSpace") if isinstance(p, dict) else None
        if not isinstance(space, dict) or p.get("name") != refs.get(name):
            continue
        values = space.get("list")
        if p.get("parameterType") in ("categorical", "discrete") and isinstance(values, list) and values:
            return [text.replace("${trialParameters.%s}" % name, str(v)) for v in values]
        if ranges and p.get("parameterType") in ("int", "double") and "min" in space and "max" in space:
            return [text.replace("${trialParameters.%s}" % name, str(space[k])) for k in ("min", "max")]
    return None


def source_errors(uri: StorageURI, path: str, config: AdminConfig) -> list[FieldError]:
    """The admin's allow-lists on one storage URI: ``allowedModelSources`` (prefixes; empty
    allows all) and, for ``file://``, ``fileRoots`` (folders; empty: file:// is off).

    ``fileRoots`` is lexical: the URI parser refused '..', and the storage initializer follows
    no symlink, so the folder read is the folder named."""
    return policy_errors(uri, path, config.values["allowedModelSources"], config.values["fileRoots"])


def policy_errors(uri: StorageURI, path: str, allowed: Iterable[str], roots_raw: Iterable[str]) -> list[FieldError]:
    """:func:`source_errors` from the two lists themselves (the storage initializer gets them as
    arguments its pod's user cannot change)."""
    errors = []
    if uri.scheme == "file":
        roots = file_roots(roots_raw)
        if not under_roots("/" + uri.location.strip("/"), roots):
            errors.append(FieldError(path, "uri.file-not-allowed",
                                     f"file:// URIs are off on this cluster; the admin allows folders listed in "
                                     f"config.fileRoots ({', '.join(roots) or 'none'})"
                                     if not roots else
                                     f"{uri.raw[:200]!r} is not under an allowed folder: " + ", ".join(roots)))
    allowed = list(allowed)
    if allowed and not any(uri.raw.startswith(prefix) for prefix in allowed):
        errors.append(FieldError(path, "uri.not-allowed",
                                 f"{uri.raw[:200]!r} is not an allowed source; the admin allows: " + ", ".join(allowed)))
    return errors


def policy_args(config: AdminConfig, scheme: str) -> list[str]:
    """Arguments that make the storage initializer enforce the admin's allow-lists at run time:
    ``--allowed-sources`` when the admin restricts sources, ``--file-roots`` for a ``file://`` URI
    (an empty list there means file:// is off)."""
    args = []
    if config.values["allowedModelSources"]:
        args += ["--allowed-sources", json.dumps(list(config.values["allowedModelSources"]))]
    if scheme == "file":
        args += ["--file-roots", json.dumps(list(config.values["fileRoots"]))]
    return args


def file_roots(raw: Iterable[str]) -> list[str]:
    """``fileRoots`` as folder paths without a trailing slash ("/" stays "/")."""
    return [r.rstrip("/") or "/" for r in raw]


def under_roots(path: str, roots: Iterable[str]) -> bool:
    """Whether absolute ``path`` is one of ``roots`` or inside one (lexically)."""
    return any(root == "/" or path == root or path.startswith(root + "/") for root in roots)
