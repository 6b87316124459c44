"""The SDK's only Kubernetes I/O: Katib custom objects, ConfigMaps and PVCs.

A thin wrapper over the official ``kubernetes`` client so the rest of the SDK deals in plain
dicts. Built from a ``kubernetes.client.Configuration`` (tests point one at an in-process API
server) or from kubeconfig / in-cluster config on first use.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

GROUP = "kubeflow.org"
VERSION = "v1beta1"
PLURALS = {"Experiment": "experiments", "Trial": "trials", "Suggestion": "suggestions"}


class ClusterUnavailable(RuntimeError):
    """No Kubernetes configuration could be loaded (dry_run and backend="local" need none)."""


def load_configuration(config_file: str | None = None, context: str | None = None) -> Any:
    """A Configuration from kubeconfig or the in-cluster service account; ClusterUnavailable if none."""
    from kubernetes import client, config

    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
        return configuration
    except config.ConfigException:
        pass
    # KUBECONFIG is read now, not when the kubernetes package was imported.
    config_file = config_file or os.environ.get("KUBECONFIG") or None
    try:
        config.load_kube_config(config_file=config_file, context=context, client_configuration=configuration)
    except (config.ConfigException, OSError, TypeError) as exc:
        raise ClusterUnavailable(f"no Kubernetes cluster configured ({exc}); use tune(..., dry_run=True) or "
                                 "KatibClient(backend='local') without a cluster") from None
    return configuration


class KubeApi:
    """Plain-dict access to the objects the SDK touches."""

    def __init__(self, configuration: Any):
        from kubernetes import client

        self._api_client = client.ApiClient(configuration)
        self.custom = client.CustomObjectsApi(self._api_client)
        self.core = client.CoreV1Api(self._api_client)

    def _plain(self, obj: Any) -> Any:
        return obj if isinstance(obj, (dict, list)) else self._api_client.sanitize_for_serialization(obj)

    # Katib custom objects
    def create(self, plural: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)

    def list(self, plural: str, namespace: str, label_selector: str | None = None) -> list[dict[str, Any]]:
        kwargs = {"label_selector": label_selector} if label_selector else {}
        return self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural, **kwargs)["items"]

    def delete(self, plural: str, namespace: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, plural, name)

    def watch(self, plural: str, namespace: str, name: str, timeout: int) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event type, object) for the named object until ``timeout`` seconds pass."""
        from kubernetes import watch

        stream = watch.Watch().stream(self.custom.list_namespaced_custom_object, GROUP, VERSION, namespace,
                                      plural, field_selector=f"metadata.name={name}", timeout_seconds=timeout)
        for event in stream:
            yield event["type"], event["object"]

    # Core objects
    def apply_configmap(self, body: dict[str, Any]) -> dict[str, Any]:
        from kubernetes.client.rest import ApiException

        meta = body["metadata"]
        try:
            return self._plain(self.core.create_namespaced_config_map(meta["namespace"], body))
        except ApiException as exc:
            if exc.status != 409:
                raise
            return self._plain(self.core.replace_namespaced_config_map(meta["name"], meta["namespace"], body))

    def list_configmaps(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        return self._plain(self.core.list_namespaced_config_map(namespace, label_selector=label_selector))["items"]

    def delete_configmap(self, namespace: str, name: str) -> None:
        self.core.delete_namespaced_config_map(name, namespace)

    def create_pvc(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Create a claim; None if it already exists (a re-run keeps the cached downloads)."""
        from kubernetes.client.rest import ApiException

        try:
            return self._plain(self.core.create_namespaced_persistent_volume_claim(
                body["metadata"]["namespace"], body))
        except ApiException as exc:
            if exc.status == 409:
                return None
            raise

    # Short-lived Pods (the adapter download)
    def create_pod(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._plain(self.core.create_namespaced_pod(body["metadata"]["namespace"], body))

    def get_pod(self, namespace: str, name: str) -> dict[str, Any]:
        return self._plain(self.core.read_namespaced_pod(name, namespace))

    def read_pod_log(self, namespace: str, name: str, container: str) -> str:
        # _preload_content=False: the raw text, not the client's (lossy) string deserialization.
        response = self.core.read_namespaced_pod_log(name, namespace, container=container, _preload_content=False)
        return response.data.decode("utf-8", "replace")

    def delete_pod(self, namespace: str, name: str) -> None:
        from kubernetes.client.rest import ApiException

        try:
            # Not deserialized: the answer (the Pod, or a Status) is not needed.
            self.core.delete_namespaced_pod(name, namespace, _preload_content=False)
        except ApiException as exc:
            if exc.status != 404:
                raise
