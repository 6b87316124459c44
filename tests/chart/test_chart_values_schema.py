"""values.schema.json is closed and rejects misspelt keys and bad values with the key's path."""

from __future__ import annotations

import json
import subprocess
import sys

import helm_python as helm
import pytest
import yaml

from katib_llm.core.config import DEFAULTS

from .helpers import CHART, REPO, render
from .scenarios import SCENARIOS

SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def test_schema_is_generated_and_current():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_values_schema.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _walk(schema, path="$"):
    yield path, schema
    for key, sub in (schema.get("properties") or {}).items():
        yield from _walk(sub, f"{path}.{key}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _walk(schema["additionalProperties"], f"{path}.*")
    for pattern, sub in (schema.get("patternProperties") or {}).items():
        yield from _walk(sub, f"{path}.<{pattern}>")
    if isinstance(schema.get("items"), dict):
        yield from _walk(schema["items"], f"{path}[]")


def test_every_object_with_known_keys_is_closed():
    for path, schema in _walk(SCHEMA):
        if "properties" in schema:
            assert schema.get("additionalProperties") is False, f"{path} is open"


def _keys(value, schema, path="$"):
    """values.yaml keys and schema properties must be the same sets, recursively."""
    if isinstance(value, dict) and "properties" in schema:
        assert set(value) <= set(schema["properties"]), f"{path}: not in schema: {set(value) - set(schema['properties'])}"
        for key, sub in value.items():
            _keys(sub, schema["properties"][key], f"{path}.{key}")


def test_values_yaml_and_schema_agree():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    _keys(values, SCHEMA)
    documented = set(SCHEMA["properties"]) - {"global"}
    assert documented == set(values), f"schema-only keys: {documented - set(values)}"


def test_schema_config_section_mirrors_core_defaults():
    def mirror(defaults, schema, path):
        assert set(schema["properties"]) == set(defaults), path
        assert set(schema.get("required", [])) == set(defaults), f"{path}: all keys are required after merging"
        for key, value in defaults.items():
            sub = schema["properties"][key]
            if isinstance(value, dict) and "properties" in sub:
                mirror(value, sub, f"{path}.{key}")

    mirror(DEFAULTS, SCHEMA["properties"]["config"], "config")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_is_accepted(name):
    with helm.Chart.load(CHART) as chart:
        chart.validate_schema(chart.merge_values(SCENARIOS[name]))


BAD = [
    # misspelt keys, at every depth
    ({"replica": 3}, "additional properties 'replica' not allowed"),
    ({"webhook": {"timeoutSecond": 5}}, "at '/webhook': additional properties 'timeoutSecond' not allowed"),
    ({"config": {"gpu": {"maxPerWorkr": 4}}}, "at '/config/gpu': additional properties 'maxPerWorkr' not allowed"),
    ({"config": {"storge": {}}}, "at '/config': additional properties 'storge' not allowed"),
    ({"certificates": {"certManager": {"issuerRef": {"nmae": "ca"}}}}, "additional properties 'nmae' not allowed"),
    ({"config": {"providers": {"lakefs": {"image": "x", "comand": ["a"]}}}}, "additional properties 'comand' not allowed"),
    # bad values
    ({"webhook": {"timeoutSeconds": 0}}, "at '/webhook/timeoutSeconds': minimum: got 0, want 1"),
    ({"webhook": {"timeoutSeconds": 31}}, "at '/webhook/timeoutSeconds': maximum: got 31, want 30"),
    ({"webhook": {"failurePolicy": "Maybe"}}, "at '/webhook/failurePolicy': value must be one of 'Fail', 'Ignore'"),
    ({"webhook": {"sideEffects": "Some"}}, "at '/webhook/sideEffects': value must be one of 'None', 'NoneOnDryRun'"),
    ({"replicas": -1}, "at '/replicas': minimum: got -1, want 1"),
    ({"replicas": "two"}, "at '/replicas': got string, want integer"),
    ({"certificates": {"mode": "letsEncrypt"}}, "at '/certificates/mode': value must be one of"),
    ({"image": {"pullPolicy": "Sometimes"}}, "at '/image/pullPolicy'"),
    ({"image": {"digest": "sha256:nothex"}}, "at '/image/digest'"),
    ({"service": {"targetPort": 443}}, "at '/service/targetPort': minimum: got 443, want 1,025"),
    ({"podAntiAffinity": "always"}, "at '/podAntiAffinity'"),
    ({"config": {"gpu": {"maxPerWorker": -2}}}, "at '/config/gpu/maxPerWorker': minimum: got -2, want 0"),
    ({"config": {"maxWorkers": 0}}, "at '/config/maxWorkers': minimum: got 0, want 1"),
    ({"config": {"gpu": {"resourceName": "gpu"}}}, "at '/config/gpu/resourceName'"),
    ({"config": {"storage": {"accessModes": ["ReadWriteSometimes"]}}}, "at '/config/storage/accessModes/0'"),
    ({"config": {"storage": {"mountPath": "workspace"}}}, "at '/config/storage/mountPath'"),
    ({"config": {"storage": {"size": "lots"}}}, "at '/config/storage/size'"),
    ({"config": {"metricsCollector": "Prometheus"}}, "at '/config/metricsCollector': value must be one of 'StdOut', 'File'"),
    ({"config": {"providers": {"Bad_Scheme": {"command": ["x"]}}}},
     "at '/config/providers': additional properties 'Bad_Scheme' not allowed"),
    ({"config": {"credentials": {"hfTokenSecret": "HF Token"}}}, "at '/config/credentials/hfTokenSecret'"),
    ({"serviceMonitor": {"interval": "often"}}, "at '/serviceMonitor/interval'"),
]


@pytest.mark.parametrize("values, message", BAD, ids=[json.dumps(v)[:60] for v, _ in BAD])
def test_bad_values_are_rejected_with_their_path(values, message):
    with pytest.raises(helm.HelmValuesError) as caught:
        render(values)  # what `helm install -f values.yaml` does: schema first, nothing rendered
    assert message in str(caught.value), str(caught.value)


def test_core_accepts_everything_the_schema_accepts_for_config():
    """The schema is not looser than the core: scenario configs load in the core without errors."""
    from katib_llm.core.config import load_config

    for name, values in SCENARIOS.items():
        _, errors = load_config(values.get("config", {}))
        assert errors == [], (name, errors)
