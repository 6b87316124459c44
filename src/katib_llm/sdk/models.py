"""kubeflow-katib's typed models from plain dicts, with any ``kubernetes`` client we allow.

kubeflow-katib 0.19 deserializes Experiments and Trials with its own ``ApiClient``, which parses
the type names of the kubernetes client's generated models. kubernetes 37 renamed them
(``Dict[str, str]``, ``List[...]``, ``Optional[...]`` instead of ``dict(str, str)``,
``list[...]``) and made its models pydantic classes, so every kubeflow-katib read of an object
with labels or annotations fails there with "Failed to get Katib Experiment". This ApiClient
parses both spellings and hands every ``kubernetes.client`` model to the installed kubernetes
client's own deserializer, which always matches its models.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kubeflow.katib import models as katib_models
from kubeflow.katib.api_client import ApiClient as _KatibApiClient

_WRAPPED = (re.compile(r"^Optional\[(.*)\]$"),)
_LIST = re.compile(r"^(?:list|List)\[(.*)\]$")
_DICT = re.compile(r"^(?:dict\(([^,]*), (.*)\)|Dict\[([^,]*), (.*)\])$")


class CompatApiClient(_KatibApiClient):
    """kubeflow-katib's ApiClient whose deserializer works with kubernetes 29 to 37."""

    _kube_client: Any = None

    def _kube(self) -> Any:
        if self._kube_client is None:
            from kubernetes import client

            self._kube_client = client.ApiClient()
        return self._kube_client

    # Name-mangled override of kubeflow-katib's private ``ApiClient.__deserialize``: every
    # recursive call of its model deserializer comes back through here.
    def _ApiClient__deserialize(self, data: Any, klass: Any) -> Any:  # noqa: N802
        if data is None:
            return None
        if isinstance(klass, str):
            for pattern in _WRAPPED:
                match = pattern.match(klass)
                if match:
                    return self._ApiClient__deserialize(data, match.group(1))
            match = _LIST.match(klass)
            if match:
                return [self._ApiClient__deserialize(item, match.group(1)) for item in data]
            match = _DICT.match(klass)
            if match:
                value_type = match.group(2) or match.group(4)
                return {k: self._ApiClient__deserialize(v, value_type) for k, v in data.items()}
            if klass in self.NATIVE_TYPES_MAPPING:
                klass = self.NATIVE_TYPES_MAPPING[klass]
            else:
                klass = getattr(katib_models, klass)
        if isinstance(klass, type) and klass.__module__.startswith("kubernetes."):
            return self._kube()._ApiClient__deserialize(data, klass)
        return super()._ApiClient__deserialize(data, klass)

    def from_dict(self, data: Any, klass: Any) -> Any:
        """``data`` (a plain dict as the API server returns it) as a ``klass`` model."""
        return self.deserialize(_Response(data), klass)


class _Response:
    """What ``ApiClient.deserialize`` reads: a ``.data`` JSON text."""

    def __init__(self, obj: Any):
        self.data = json.dumps(obj)


_CLIENT: CompatApiClient | None = None


def to_model(data: Any, klass: Any) -> Any:
    """``data`` as the kubeflow-katib model ``klass`` (e.g. ``models.V1beta1Experiment``)."""
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = CompatApiClient()
    return _CLIENT.from_dict(data, klass)
