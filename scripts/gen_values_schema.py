#!/usr/bin/env python3
"""Generate charts/katib-llm/values.schema.json: a closed JSON Schema for the chart's values.

Written as Python so each constraint reads as one line; run it after changing values.yaml:

    .venv/bin/python scripts/gen_values_schema.py          # rewrite the schema
    .venv/bin/python scripts/gen_values_schema.py --check  # exit 1 if the file is stale

Every object with known keys has ``additionalProperties: false`` so a misspelt key fails
``helm install`` with its path. ``tests/chart`` checks this file equals the generator's output and
that its ``config`` section mirrors ``katib_llm.core.config.DEFAULTS``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "charts" / "katib-llm" / "values.schema.json"


Schema = dict[str, Any]


def obj(props: Schema, required: list[str] | None = None, desc: str | None = None, **kw: Any) -> Schema:
    """A closed object: only ``props`` are allowed."""
    out: Schema = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        out["required"] = required
    if desc:
        out["description"] = desc
    out.update(kw)
    return out


def s(desc: str, **kw: Any) -> Schema:
    return {"type": "string", "description": desc, **kw}


def i(desc: str, **kw: Any) -> Schema:
    return {"type": "integer", "description": desc, **kw}


def b(desc: str) -> Schema:
    return {"type": "boolean", "description": desc}


def strmap(desc: str) -> Schema:
    """A map of free keys to strings (labels, annotations, node selectors)."""
    return {"type": "object", "description": desc, "additionalProperties": {"type": "string"}}


def anyobj(desc: str) -> Schema:
    """A Kubernetes type passed through verbatim (validated by the API server, not here)."""
    return {"type": "object", "description": desc}


def arr(desc: str, items: Schema | None = None, **kw: Any) -> Schema:
    out: Schema = {"type": "array", "description": desc, **kw}
    if items is not None:
        out["items"] = items
    return out


DNS1123 = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DURATION = "^([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"
QUANTITY = "^[+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+|[numkKMGTPE]i?)?$"
quantity = {"description": "a Kubernetes quantity such as 500m, 2 or 8Gi", "anyOf": [{"type": "string", "pattern": QUANTITY}, {"type": "number", "minimum": 0}]}
resreq = obj({"cpu": quantity, "memory": quantity, "ephemeral-storage": quantity})
probe = obj({"initialDelaySeconds": i("seconds", minimum=0), "periodSeconds": i("seconds", minimum=1),
             "timeoutSeconds": i("seconds", minimum=1), "failureThreshold": i("count", minimum=1),
             "successThreshold": i("count", minimum=1)})
toleration = {"type": "object", "description": "a Kubernetes Toleration", "additionalProperties": False,
              "properties": {"key": {"type": "string"}, "operator": {"enum": ["Exists", "Equal"]}, "value": {"type": "string"},
                             "effect": {"enum": ["", "NoSchedule", "PreferNoSchedule", "NoExecute"]},
                             "tolerationSeconds": {"type": "integer"}}}
provider = obj({"image": {"type": ["string", "null"], "description": "container image of the init container; null/empty: the runtime image"},
                "command": arr("argv of the init container", {"type": "string"}, minItems=1),
                "args": arr("arguments; placeholders {kind} {uri} {target} {cache_dir} {mount_path}", {"type": "string"}),
                "secret": {"type": ["string", "null"], "description": "Secret (in the Experiment's namespace) exposed via envFrom", "pattern": DNS1123}},
               required=["command"], desc="a provider declaration")
config = obj({
    "defaultTemplate": s("template used when an Experiment names none (a trial-templates/ file name without .yaml)", pattern=DNS1123),
    "images": obj({"runtime": s("runtime image reference", minLength=1, pattern="^[^\\s]+$"),
                   "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"], "description": "imagePullPolicy of trial containers"}},
                  required=["runtime", "pullPolicy"]),
    "gpu": obj({"resourceName": s("extended resource name of a GPU, e.g. nvidia.com/gpu", pattern="^[^/\\s]+/[^/\\s]+$"),
                "maxPerWorker": i("most GPUs per worker", minimum=0),
                "maxPerTrial": i("most GPUs per trial", minimum=0),
                "memoryGiB": {"type": "number", "description": "memory of one GPU in GiB", "exclusiveMinimum": 0}},
               required=["resourceName", "maxPerWorker", "maxPerTrial", "memoryGiB"]),
    "maxWorkers": i("most workers (master included) per trial", minimum=1),
    "maxResourcesPerWorker": obj({"cpu": s("most CPU one trial pod may ask for; empty: no cap", maxLength=64),
                                  "memory": s("most memory one trial pod may ask for; empty: no cap", maxLength=64)},
                                 required=["cpu", "memory"]),
    "defaultResourcesPerWorker": obj({"cpu": quantity, "memory": quantity}, required=["cpu", "memory"],
                                     desc="resources per worker when an Experiment names none"),
    "placement": obj({"nodeSelector": strmap("node selector added to trial pods"),
                      "tolerations": arr("tolerations added to trial pods", toleration),
                      "onlyForGpu": b("apply placement only to trials that request GPUs")},
                     required=["nodeSelector", "tolerations", "onlyForGpu"]),
    "storage": obj({"mountPath": s("absolute mount path in trial containers", pattern="^/"),
                    "size": {"type": "string", "pattern": QUANTITY, "description": "claim size, e.g. 50Gi"},
                    "storageClassName": s("StorageClass; empty: cluster default"),
                    "accessModes": arr("claim access modes", {"enum": ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]}, minItems=1, uniqueItems=True),
                    "claimSuffix": s("claim name = <experiment name><claimSuffix>", pattern="^[-a-z0-9]*$", maxLength=20)},
                   required=["mountPath", "size", "storageClassName", "accessModes", "claimSuffix"]),
    "fileRoots": arr("folders file:// URIs may name; empty: file:// is denied", {"type": "string", "pattern": "^/", "not": {"pattern": "(^|/)\\.\\.(/|$)"}}, uniqueItems=True),
    "privilegedTemplates": {"enum": ["warn", "deny"], "description": "a user template asking for privileged, hostPath or host namespaces"},
    "allowedModelSources": arr("allowed URI prefixes for models and datasets; empty allows all", {"type": "string", "minLength": 1}),
    # A scheme that is not a URI scheme fails as "additional properties 'X' not allowed" at /config/providers.
    "providers": {"type": "object", "description": "extra providers by URI scheme (lower-case letter, then letters, digits, + . -)",
                  "patternProperties": {"^[a-z][a-z0-9+.-]{0,31}$": provider}, "additionalProperties": False},
    "credentials": obj({"hfTokenSecret": s("Secret with HF_TOKEN; empty: anonymous", pattern="^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$"),
                        "s3Secret": s("Secret with S3 credentials; empty: none", pattern="^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$")},
                       required=["hfTokenSecret", "s3Secret"]),
    "metricsCollector": {"enum": ["StdOut", "File"], "description": "Katib metrics collector for injected trials"},
    "earlyStoppingAlgorithms": arr("our early-stopping algorithms registered in katib-config", {"enum": ["successivehalving"]}, uniqueItems=True),
    "templatesConfigMap": obj({"name": s("trial templates ConfigMap name", pattern=DNS1123, maxLength=253),
                               "namespace": s("its namespace (the release namespace)", pattern=DNS1123, maxLength=63)},
                              required=["name", "namespace"]),
    "trainerV2": obj({"runtimeName": s("ClusterTrainingRuntime TrainJob trials run", pattern=DNS1123, maxLength=253)},
                     required=["runtimeName"]),
    "kueue": obj({"localQueue": s("Kueue LocalQueue of trial jobs; empty: none", pattern="^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", maxLength=63),
                  "enforce": b("every trial job joins localQueue: a user's own queue label is replaced and a queue "
                               "annotation naming another queue is denied")},
                 required=["localQueue", "enforce"]),
}, desc="the admin configuration (mirrors katib_llm.core.config.DEFAULTS)")
config["required"] = list(config["properties"])


def build() -> dict[str, Any]:
    """The schema as a dict."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "katib-llm chart values",
        **obj({
            "global": {"type": "object", "description": "Helm global values (unused by this chart)"},
            "nameOverride": s("chart name override", pattern="^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", maxLength=40),
            "fullnameOverride": s("object-name prefix override", pattern="^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", maxLength=40),
            "image": obj({"repository": s("image repository", minLength=1, pattern="^[^\\s:@]+(:[0-9]+)?[^\\s:@]*$"),
                          "tag": s("image tag; empty: appVersion", pattern="^([\\w][\\w.-]{0,127})?$"),
                          "digest": s("image digest", pattern="^(sha256:[a-f0-9]{64})?$"),
                          "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"], "description": "imagePullPolicy"}},
                         required=["repository", "pullPolicy"]),
            "imagePullSecrets": arr("image pull secrets", obj({"name": s("Secret name", pattern=DNS1123)}, required=["name"])),
            "replicas": i("webhook replicas", minimum=1, maximum=20),
            "server": obj({"workers": i("gunicorn worker processes", minimum=1, maximum=32),
                           "threads": i("threads per worker", minimum=1, maximum=64),
                           "kubeApi": b("read ConfigMaps through the API (--kube-api)"),
                           "extraArgs": arr("extra webhook arguments", {"type": "string"})}),
            "reconciler": obj({"enabled": b("run the volume reconciler"),
                               "replicas": i("reconciler replicas", minimum=1, maximum=5),
                               "serviceAccount": obj({"create": b("create the reconciler's ServiceAccount"),
                                                      "name": s("its name", pattern="^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"),
                                                      "annotations": strmap("its annotations")}, required=["create"]),
                               "leaseName": s("Lease name", pattern=DNS1123, maxLength=63),
                               "healthPort": i("health port", minimum=1025, maximum=65535),
                               "resources": obj({"requests": resreq, "limits": resreq})}),
            "extraEnv": arr("extra env vars (Kubernetes EnvVar)", {"type": "object", "required": ["name"]}),
            "podDisruptionBudget": obj({"enabled": b("create the PDB"), "minAvailable": {"description": "pods kept available (count or percentage)", "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+%$"}]}},
                                       required=["enabled", "minAvailable"]),
            "podAntiAffinity": {"enum": ["soft", "hard", "none"], "description": "spread replicas over nodes"},
            "podAntiAffinityTopologyKey": s("topology key of the anti-affinity", minLength=1),
            "affinity": anyobj("full pod affinity (Kubernetes Affinity)"),
            "nodeSelector": strmap("node selector of the webhook pods"),
            "tolerations": arr("tolerations of the webhook pods", toleration),
            "topologySpreadConstraints": arr("topology spread constraints", {"type": "object"}),
            "priorityClassName": s("PriorityClass of the webhook pods"),
            "podAnnotations": strmap("extra pod annotations"),
            "podLabels": strmap("extra pod labels"),
            "terminationGracePeriodSeconds": i("grace period in seconds", minimum=0),
            "resources": obj({"requests": resreq, "limits": resreq}),
            "probes": obj({"liveness": probe, "readiness": probe}, required=["liveness", "readiness"]),
            "serviceAccount": obj({"create": b("create the ServiceAccount"),
                                   "name": s("ServiceAccount name", pattern="^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"),
                                   "annotations": strmap("ServiceAccount annotations")}, required=["create"]),
            "rbac": obj({"create": b("create the ClusterRole and binding")}, required=["create"]),
            "networkPolicy": obj({"enabled": b("render the NetworkPolicies"),
                                  "apiServerPeers": arr("NetworkPolicyPeers that may call the webhook port", {"type": "object"}, minItems=1),
                                  "metricsPeers": arr("NetworkPolicyPeers that may scrape /metrics", {"type": "object"})},
                                 required=["enabled", "apiServerPeers", "metricsPeers"]),
            "service": obj({"port": i("Service port", minimum=1, maximum=65535),
                            "targetPort": i("container port (non-root: above 1024)", minimum=1025, maximum=65535)},
                           required=["port", "targetPort"]),
            "webhook": obj({
                "configurationName": s("name of the webhook configurations; must sort after katib.kubeflow.org", pattern="^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", maxLength=253),
                "failurePolicy": {"enum": ["Fail", "Ignore"], "description": "what the apiserver does when the webhook is unreachable"},
                "timeoutSeconds": i("admission call timeout in seconds (the apiserver accepts 1 to 30)", minimum=1, maximum=30),
                "sideEffects": {"enum": ["None", "NoneOnDryRun"], "description": "side effects of admission"},
                "excludeNamespaces": arr("namespaces never served", {"type": "string", "pattern": DNS1123}, uniqueItems=True),
                "namespaceMatchLabels": strmap("labels a namespace must carry to be served"),
                "mutating": b("render the MutatingWebhookConfiguration"),
                "validating": b("render the ValidatingWebhookConfiguration"),
            }, required=["configurationName", "failurePolicy", "timeoutSeconds", "sideEffects"]),
            "certificates": obj({
                "mode": {"enum": ["selfSigned", "certManager", "existingSecret"], "description": "how the serving certificate is obtained"},
                "validityDays": i("selfSigned: validity in days", minimum=1, maximum=36500),
                "certManager": obj({"issuerRef": obj({"name": s("Issuer name", minLength=1), "kind": {"enum": ["Issuer", "ClusterIssuer"]}, "group": s("issuer API group")}, desc="existing Issuer/ClusterIssuer; {} lets the chart create its own CA", dependentRequired={"kind": ["name"], "group": ["name"]}),
                                    "duration": s("certificate lifetime (Go duration)", pattern=DURATION),
                                    "renewBefore": s("renew this long before expiry (Go duration)", pattern=DURATION)}),
                "existingSecret": obj({"name": s("kubernetes.io/tls Secret in the release namespace", pattern="^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$"),
                                       "caBundle": s("base64-encoded PEM CA bundle", pattern="^[A-Za-z0-9+/=\\s]*$")}),
            }, required=["mode"]),
            "serviceMonitor": obj({"enabled": b("create the ServiceMonitor"),
                                   "interval": s("scrape interval", pattern=DURATION),
                                   "scrapeTimeout": s("scrape timeout", pattern=DURATION),
                                   "labels": strmap("extra ServiceMonitor labels")}),
            "tests": obj({"enabled": b("render the helm test pod")}),
        "cleanupHook": obj({"enabled": b("render the pre-delete hook that removes the webhook configurations")}),
            "trialTemplates": obj({"enabled": b("publish the trial templates ConfigMap")}),
            "trainerV2": obj({"enabled": b("install the ClusterTrainingRuntime of TrainJob trials (needs Kubeflow Trainer v2)"),
                              "initializerResources": obj({"requests": resreq, "limits": resreq},
                                                          desc="resources of the initializer steps")}),
            "earlyStopping": obj({
                "successivehalving": obj({
                    "enabled": b("register successivehalving in katib-config (post-install/upgrade hook) and admit it"),
                    "image": obj({"repository": s("image repository", minLength=1, pattern="^[^\\s:@]+(:[0-9]+)?[^\\s:@]*$"),
                                  "tag": s("image tag; empty: appVersion", pattern="^([\\w][\\w.-]{0,127})?$"),
                                  "digest": s("image digest", pattern="^(sha256:[a-f0-9]{64})?$"),
                                  "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"], "description": "imagePullPolicy"}},
                                 required=["repository", "pullPolicy"]),
                    "resources": obj({"requests": resreq, "limits": resreq})}, required=["enabled", "image"]),
                "katibConfig": obj({"namespace": s("Katib's namespace", pattern=DNS1123, maxLength=63),
                                    "name": s("Katib's ConfigMap", pattern=DNS1123, maxLength=253)},
                                   required=["namespace", "name"])}, required=["successivehalving", "katibConfig"]),
            "config": config,
        }, required=["image", "replicas", "service", "webhook", "certificates", "config"]),
    }


def render_text() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render_text()
    if "--check" in argv:
        if SCHEMA_PATH.read_text() != text:
            print(f"{SCHEMA_PATH} is stale: run scripts/gen_values_schema.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text)
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
