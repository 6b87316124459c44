"""Every denial code the core (and the local runner) reports, with the rule it stands for.

``FieldError.code`` values are stable: docs and tests refer to them. This table is the one
list; ``tests/core/test_denial_codes.py`` fails when code uses a code missing here (or the table
keeps one nothing uses), and ``scripts/gen_contract_doc.py`` writes it into ``docs/contract.md``.
The annotations each code judges are appended from the contract's table (``contract.ANNOTATIONS``).
"""

from __future__ import annotations

DENIAL_CODES: dict[str, str] = {
    # The object
    "experiment.type": "the request object (or its metadata) is not a Katib Experiment object",
    "experiment.kind": "kind must be Experiment (kubeflow.org/v1beta1)",
    "experiment.generate-name": "metadata.generateName without metadata.name, unless volume-claim names an existing claim",
    "label.value": "our tune label with a value other than \"true\" on an object carrying our annotations",
    "local.unlabelled": "the local runner got an Experiment without the tune label",
    # Credentials
    "credential.value": "a value shaped like a credential (Hugging Face, AWS, GitHub or GitLab key, a token or "
                        "user:password@ in a URI) anywhere the trial receives text: our annotations (JSON values "
                        "included), the trial template's env, command, args and URIs, and the parameters' values",
    "credential.key": "a training-args, lora-config or dataset-config key (or provider parameter) that carries a "
                      "credential (hub_token, token, use_auth_token, access_key, ...)",
    "env.credential": "an environment variable named like a credential (TOKEN, SECRET, KEY, PASSW, CREDENTIAL) set "
                      "to a literal value; use valueFrom.secretKeyRef",
    "env.reserved": "an env annotation variable named KATIB_LLM_* (set by katib-llm itself)",
    "env.invalid": "an env annotation variable whose name or value is not an environment variable",
    # Annotations
    "annotation.unknown": "an annotation under our prefix that the contract does not define (with did-you-mean)",
    "annotation.type": "an annotation (or a JSON annotation's value) of the wrong type",
    "annotation.json": "a JSON annotation that is not valid JSON (NaN and Infinity included)",
    "annotation.int": "a count not written in ASCII digits, or out of range",
    "annotation.bool": "a flag other than \"true\" or \"false\"",
    "annotation.image": "base-image not an image reference",
    "number.invalid": "a number with non-ASCII digits, inf, nan or a magnitude above 1e15 (annotations, feasibleSpace)",
    "model-class.unknown": "model-class not a supported transformers Auto class",
    "model-parameters.format": "model-parameters not a parameter count such as 7B",
    "dataset-config.key": "an unknown dataset-config key (with did-you-mean)",
    "dataset-config.type": "a dataset-config value of the wrong JSON type",
    "fixed-field.unknown": "a training-args / lora-config key that is no TrainingArguments / LoraConfig field "
                           "(with did-you-mean)",
    "fixed-field.reserved": "a training-args key the runtime sets for every trial (output_dir, push_to_hub, ...)",
    "fixed-field.type": "a training-args / lora-config value the trial could not type as its field",
    "fixed-field.choice": "a training-args / lora-config value outside its field's choices (with did-you-mean)",
    "resources.type": "resources-per-worker not a JSON object",
    "resources.gpu": "a GPU count that is not a whole number >= 0",
    "resources.quantity": "cpu / memory not a Kubernetes quantity",
    "resources.memory-unit": "memory without a unit below 1 MiB (\"16\" is 16 bytes)",
    "resources.unknown": "a resource other than gpu, cpu, memory",
    "volume-claim.name": "volume-claim not a PersistentVolumeClaim name",
    "uri.form": "a model / dataset URI not of the form <scheme>://...",
    "uri.scheme": "a URI scheme that no built-in or registered provider serves",
    "uri.chars": "a URI with spaces, quotes or shell metacharacters",
    "uri.query": "an unknown query key in a built-in URI",
    "uri.hf-repo": "an hf:// URI that names no Hugging Face repo id",
    "uri.file-path": "a file:// URI without an absolute path, or with ..",
    "uri.pkg": "a pkg:// URI that names no Python package",
    "uri.s3-bucket": "an s3:// URI whose bucket name is invalid",
    "uri.not-allowed": "a model / dataset outside the admin's allowedModelSources",
    # Admission against the admin configuration and the trial template
    "workers.cap": "more workers than the admin's maxWorkers",
    "workers.kind": "more than one worker on a job kind that runs one pod",
    "gpu.cap": "more GPUs per worker than the admin allows",
    "gpu.trial-cap": "more GPUs per trial than the admin allows",
    "feasibility.model": "the model alone does not fit the admin's GPU memory",
    "feasibility.memory": "the smallest configuration of the search space does not fit the admin's GPU memory",
    "function.required": "a function trial template without the function annotation",
    "model.required": "the trainer without a model annotation",
    "dataset.required": "the trainer without a dataset annotation",
    "metric.unknown": "an objective or additional metric our shipped trainer never prints",
    "parameter.unknown": "a parameter that maps to no TrainingArguments field and no lora_config.<field>",
    "parameter.type": "a parameterType that does not fit the field's type",
    "parameter.choice": "a categorical value outside an enum field's choices",
    "parameter.bool": "a categorical value of a boolean field other than true / false",
    "parameter.number": "a categorical value of a numeric field that is not a sane number",
    "parameter.value-chars": "a categorical value with quotes, backslashes or control characters",
    "template.unknown": "an unknown shipped trial template",
    "template.type": "a trialTemplate (or part of it) of the wrong type",
    "template.kind": "a trial job kind katib-llm cannot inject into",
    "template.yaml": "a referenced trial template that is not a YAML job manifest",
    "template.configmap-unavailable": "a trialTemplate.configMap the webhook could not read",
    "template.primary": "no container named primaryContainerName in the trial's pod templates",
    "collision.volume": "a user volume named like katib-llm's shared volume",
    "collision.init-container": "a user init container named like katib-llm's storage initializers",
    "collision.mount-path": "a user volume mount at katib-llm's mount path, or of its volume elsewhere",
    "provider.args": "a provider argument with an unknown placeholder",
    "trial.assignment": "a trial's parameter assignments do not match the Experiment's parameters",
    "trial.placeholder": "a trial template placeholder with no value",
    # Cost caps per request (every request's cost stays bounded)
    "experiment.depth": "an Experiment nested more than 100 levels deep",
    "parameters.too-many": "more than 100 spec.parameters (nothing else is computed)",
    "errors.truncated": "more errors than a denial lists (50); says how many more",
    "template.yaml-refused": "a referenced template ConfigMap's YAML with anchors/aliases, over 1 MiB or 64 levels",
    "template.configmap-namespace": "a template ConfigMap outside the Experiment's namespace and katib-llm's",
    "template.privileged": "a pod of the trial (any container, init container or sidecar, a TrainJob's runtimePatches "
                           "included) asks for privileged containers, added capabilities, hostPath, hostPort, host "
                           "namespaces or a Windows host process while the admin sets privilegedTemplates: deny",
    "uri.file-not-allowed": "a file:// URI outside the folders the admin lists in fileRoots (none on a cluster by default)",
    # Kubeflow Trainer v2 and Kueue
    "trainjob.runtime": "a TrainJob on a runtime other than katib-llm's that asks for a model or dataset download",
    "trainjob.provider": "a custom provider for a TrainJob trial (a runtime patch cannot set its image)",
    "queue.name": "the queue annotation not a Kueue LocalQueue name (DNS-1123 label)",
    "tracking-secret.name": "the tracking-secret annotation not a Secret name (DNS-1123 name)",
    # Local-only annotations (denied for a cluster)
    "warm-start.reference": "a warm-start reference that is not an earlier run's work dir (non-empty, no control "
                            "characters, at most 1024 characters)",
    "warm-start.count": "more than 32 warm-start references, or the same one twice",
    "warm-start.local-only": "warm-start on a cluster: Katib's suggestion API gives an algorithm only this "
                             "Experiment's own trials",
    "objectives.format": "an objectives entry that is not metric:minimize or metric:maximize",
    "objectives.metric": "an objectives metric that is neither the objective metric nor an additional metric",
    "objectives.direction": "the objective metric listed with a direction other than spec.objective.type",
    "objectives.count": "objectives naming fewer than 2 or more than 8 distinct metrics",
    "objectives.local-only": "several objectives on a cluster: Katib optimizes spec.objective alone",
    # Budgets, deadlines, early stopping
    "budget.invalid": "the budget annotation not a JSON object of train_steps, wall_clock, gpu_hours",
    "trial-deadline.invalid": "trial-active-deadline-seconds not a whole number of seconds in range",
    "trial-deadline.kind": "trial-active-deadline-seconds for a trial kind with no activeDeadlineSeconds",
    "early-stopping.settings": "early-stopping settings (medianstop, successivehalving) unknown or out of range",
    # Katib's own rules (ported from Katib v0.19's validator)
    "katib.name": "metadata.name not a DNS-1035 label of at most 40 characters",
    "katib.required": "a required Experiment field is missing",
    "katib.count": "maxTrialCount / parallelTrialCount / maxFailedTrialCount out of range",
    "katib.objective": "objective type or metric names invalid",
    "katib.algorithm": "an unknown or missing algorithm",
    "katib.early-stopping": "an unknown or missing early stopping algorithm",
    "katib.resume-policy": "an unknown resumePolicy",
    "katib.parameters": "parameters or their feasible spaces invalid",
    "katib.trial-parameters": "trialParameters that do not match the template's placeholders",
    "katib.trial-template": "an invalid trialTemplate",
    "katib.metrics-collector": "an invalid metricsCollectorSpec",
    "katib.update": "an UPDATE that changes a field Katib does not let change",
    # The admin's configuration and provider declarations
    "config.invalid": "an admin configuration value out of its schema",
    "provider.argv": "a provider command or args that is not a list of strings",
    "provider.image": "a provider image that is missing or has spaces",
    "provider.missing": "a provider declaration without provider.yaml",
    "provider.placeholder": "a provider argument with an unknown placeholder",
    "provider.scheme": "a provider scheme that is invalid or taken by a built-in",
    "provider.secret": "a provider secret that is not a Secret name",
    "provider.type": "a provider declaration of the wrong type",
    "provider.unknown": "an unknown key in a provider declaration",
    "provider.yaml": "a provider declaration that is not valid YAML",
    # The effective trial (core/effective.py, core/credentials.py)
    "env.reserved-in-template": "a trial template's env entry (or envFrom prefix) naming KATIB_LLM_* that admission "
                                "does not set itself",
    "queue.forced": "a queue annotation naming a queue other than the one the admin enforces (config.kueue.enforce)",
    "resources.cap": "CPU or memory of one trial pod (or of resources-per-worker) over config.maxResourcesPerWorker",
    "procs.cap": "a trial job's processes per pod (nprocPerNode, slotsPerWorker, numProcPerNode) over 64",
}


def _with_annotations(codes: dict[str, str]) -> dict[str, str]:
    """Each code an annotation of the contract's table is denied with names those annotations."""
    from .contract import ANNOTATIONS

    out = dict(codes)
    for code in codes:
        names = [a.name for a in ANNOTATIONS if a.code == code and a.attr is not None]
        if names:
            out[code] += " (annotation" + ("s " if len(names) > 1 else " ") + ", ".join(names) + ")"
    return out


DENIAL_CODES = _with_annotations(DENIAL_CODES)
