"""Conformance with upstream: the rules of Katib v0.19.0, Kubeflow Trainer v2.3.0, the
training-operator v1.9.0 and Kubernetes Pod Security that decide whether what katib-llm emits
runs, each ported as an executable check citing its upstream file and function
(docs/conformance.md lists them). ``schemas`` and ``trainer_crds``: the CRD and API schemas;
``katib_experiment``, ``katib_collector``, ``trainer``, ``pytorchjob``, ``podsecurity``: the
webhooks' and controllers' rules; ``subjects``: everything katib-llm emits.
"""
