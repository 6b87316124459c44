"""Where the webhook's inputs come from: the admin config file and (optionally) the Kubernetes API.

Kept out of the Flask views so they only translate between HTTP and the pure core.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any, Callable, Protocol

from katib_llm.core.admit import ConfigMaps
from katib_llm.core.config import AdminConfig
from katib_llm.core.contract import DATASET, MODEL, annotation_key
from katib_llm.core.providers import PROVIDER_LABEL, from_configmap

log = logging.getLogger("katib_llm.webhook")


class ConfigSource:
    """The admin configuration, re-read when its file changes (a ConfigMap remount replaces it).

    A changed file that does not load keeps the last good configuration (and logs why), so a
    bad ``helm upgrade`` cannot take admission down.
    """

    def __init__(self, path: str | None, loader: Callable[[Any], AdminConfig] | None = None):
        from katib_llm.io import admin_config

        self.path = path
        self._load = loader or admin_config
        self._digest = ""
        self._checked = 0.0
        self._lock = threading.Lock()
        self.error: str | None = None
        self._config = self._load(path)  # fail at start on a bad file
        self._digest = self._file_digest() or ""

    def _file_digest(self) -> str | None:
        if self.path is None:
            return None
        try:
            return hashlib.sha256(Path(self.path).read_bytes()).hexdigest()
        except OSError:
            return None

    def get(self, min_interval: float = 1.0) -> AdminConfig:
        """The current config; checks the file at most every ``min_interval`` seconds."""
        now = time.monotonic()
        if self.path is None or now - self._checked < min_interval:
            return self._config
        with self._lock:
            self._checked = now
            digest = self._file_digest()
            if digest is None or digest == self._digest:
                return self._config
            try:
                self._config = self._load(self.path)
                self.error = None
                log.info("reloaded admin config from %s", self.path)
            except Exception as exc:  # any bad values: keep serving with the last good config
                self.error = f"{self.path}: {exc}"
                log.error("admin config %s not reloaded, keeping the previous one: %s", self.path, exc)
            self._digest = digest
        return self._config


class ClusterLookup(Protocol):
    """Reads the webhook may do per request; ``timeout`` is the remaining request budget."""

    def provider_configmaps(self, namespace: str, timeout: float) -> list[dict[str, Any]]: ...

    def configmap(self, namespace: str, name: str, timeout: float) -> dict[str, str] | None: ...


class KubeLookup:
    """:class:`ClusterLookup` through the Kubernetes API with a short TTL cache per key."""

    def __init__(self, api: Any = None, ttl: float = 10.0):
        if api is None:
            from kubernetes import client, config

            try:
                config.load_incluster_config()
            except config.ConfigException:
                config.load_kube_config()
            api = client.CoreV1Api()
        self.api, self.ttl = api, ttl
        self._cache: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _cached(self, key: tuple[str, ...], fetch: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit and now - hit[0] < self.ttl:
            return hit[1]
        value = fetch()
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def provider_configmaps(self, namespace: str, timeout: float) -> list[dict[str, Any]]:
        def fetch() -> list[dict[str, Any]]:
            items = self.api.list_namespaced_config_map(
                namespace, label_selector=f"{PROVIDER_LABEL}=true", _request_timeout=timeout).items
            return [{"metadata": {"name": cm.metadata.name, "namespace": namespace}, "data": dict(cm.data or {})}
                    for cm in items]
        return self._cached(("providers", namespace), fetch)

    def configmap(self, namespace: str, name: str, timeout: float) -> dict[str, str] | None:
        from kubernetes.client.rest import ApiException

        def fetch() -> dict[str, str] | None:
            try:
                return dict(self.api.read_namespaced_config_map(name, namespace, _request_timeout=timeout).data or {})
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise
        return self._cached(("configmap", namespace, name), fetch)


def cluster_inputs(lookup: ClusterLookup | None, experiment: dict[str, Any], namespace: str,
                   config: AdminConfig, timeout: float) -> tuple[AdminConfig, ConfigMaps, list[str]]:
    """Provider declarations and a foreign template ConfigMap the core needs for this Experiment.

    Policy when the API cannot be reached (never a 5xx): admit without the extra providers and
    say so in a warning (an Experiment that needs one is then denied by the core, naming its
    model/dataset annotation); a foreign ``trialTemplate.configMap`` that cannot be read is
    denied by the core naming ``spec.trialTemplate.configMap``. Only ConfigMaps in the
    Experiment's own namespace are read.
    """
    if lookup is None or not namespace:
        return config, {}, []
    warnings: list[str] = []
    annotations = ((experiment.get("metadata") or {}).get("annotations")) or {}
    schemes = {str(annotations.get(annotation_key(k), "")).partition("://")[0]
               for k in (MODEL, DATASET)} - {""}
    if isinstance(annotations, dict) and schemes - set(config.providers):
        try:
            declarations = []
            for cm in lookup.provider_configmaps(namespace, timeout):
                decl, errors = from_configmap(cm)
                if decl is not None:
                    declarations.append(decl)
                else:
                    warnings.append("ignored provider ConfigMap " + "; ".join(str(e) for e in errors))
            config = config.with_providers(declarations)
        except Exception as exc:  # API unreachable, RBAC, timeout: degrade, never 5xx
            warnings.append(f"custom provider ConfigMaps in namespace {namespace} could not be read "
                            f"({type(exc).__name__}); only admin-configured providers were used")
    configmaps: dict[tuple[str, str], dict[str, str]] = {}
    tt = (experiment.get("spec") or {}).get("trialTemplate") if isinstance(experiment.get("spec"), dict) else None
    cm = tt.get("configMap") if isinstance(tt, dict) else None
    ours = config.values["templatesConfigMap"]
    if isinstance(cm, dict) and isinstance(cm.get("configMapName"), str) and \
            isinstance(cm.get("configMapNamespace"), str) and \
            (cm["configMapName"], cm["configMapNamespace"]) != (ours["name"], ours["namespace"]) and \
            cm["configMapNamespace"] == namespace:  # never another namespace's (the core denies those)
        cm_ns = cm["configMapNamespace"]
        try:
            data = lookup.configmap(cm_ns, cm["configMapName"], timeout)
        except Exception as exc:
            data = None
            warnings.append(f"ConfigMap {cm['configMapName']} in namespace {cm_ns} could not be read "
                            f"({type(exc).__name__})")
        if data is not None:
            configmaps[(cm_ns, cm["configMapName"])] = data
    return config, configmaps, warnings
