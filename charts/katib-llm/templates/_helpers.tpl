{{/* Names, labels and the serving certificate shared by every template. */}}

{{- define "katib-llm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object-name prefix; at most 40 characters so that suffixes such as -webhook-tls fit in 63. */}}
{{- define "katib-llm.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "katib-llm.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "katib-llm.webhookName" -}}
{{- printf "%s-webhook" (include "katib-llm.fullname" .) -}}
{{- end -}}

{{- define "katib-llm.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "existingSecret" -}}
{{- .Values.certificates.existingSecret.name -}}
{{- else -}}
{{- printf "%s-webhook-tls" (include "katib-llm.fullname" .) -}}
{{- end -}}
{{- end -}}

{{- define "katib-llm.configMapName" -}}
{{- printf "%s-config" (include "katib-llm.fullname" .) -}}
{{- end -}}

{{- define "katib-llm.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "katib-llm.webhookName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "katib-llm.reconcilerName" -}}
{{- printf "%s-reconciler" (include "katib-llm.fullname" .) -}}
{{- end -}}

{{/* The reconciler's own ServiceAccount: the network-facing webhook never holds its rights. */}}
{{- define "katib-llm.reconcilerServiceAccountName" -}}
{{- if .Values.reconciler.serviceAccount.create -}}
{{- default (include "katib-llm.reconcilerName" .) .Values.reconciler.serviceAccount.name -}}
{{- else -}}
{{- .Values.reconciler.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "katib-llm.reconcilerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "katib-llm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: reconciler
{{- end -}}

{{/* The DNS name kube-apiserver uses (TLS SNI and certificate SAN). */}}
{{- define "katib-llm.serviceHost" -}}
{{- printf "%s.%s.svc" (include "katib-llm.webhookName" .) .Release.Namespace -}}
{{- end -}}

{{- define "katib-llm.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "katib-llm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "katib-llm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "katib-llm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "katib-llm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: katib-llm
{{- end -}}

{{/*
The self-signed CA and serving certificate, as a dict {ca.crt, tls.crt, tls.key} of PEM text.
Reuses the Secret already in the cluster (lookup; so upgrades keep the certificate) when it holds
all three keys; otherwise generates a new pair. The result is cached in .Values so the Secret and
both webhook configurations, rendered by different templates, see the same certificate.
*/}}
{{- define "katib-llm.selfSignedCert" -}}
{{- if not (hasKey .Values "__katibLlmTls") -}}
{{- $secretName := include "katib-llm.tlsSecretName" . -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $secretName -}}
{{- $data := dict -}}
{{- if and $existing $existing.data -}}
{{- $data = $existing.data -}}
{{- end -}}
{{- $pem := dict -}}
{{- if and (hasKey $data "ca.crt") (hasKey $data "tls.crt") (hasKey $data "tls.key") -}}
{{- $_ := set $pem "ca.crt" (index $data "ca.crt" | b64dec) -}}
{{- $_ := set $pem "tls.crt" (index $data "tls.crt" | b64dec) -}}
{{- $_ := set $pem "tls.key" (index $data "tls.key" | b64dec) -}}
{{- else -}}
{{- $host := include "katib-llm.serviceHost" . -}}
{{- $svc := include "katib-llm.webhookName" . -}}
{{- $days := int .Values.certificates.validityDays -}}
{{- $ca := genCA (printf "%s-ca" (include "katib-llm.fullname" .)) $days -}}
{{- $sans := list $svc (printf "%s.%s" $svc .Release.Namespace) $host (printf "%s.cluster.local" $host) -}}
{{- $cert := genSignedCert $host nil $sans $days $ca -}}
{{- $_ := set $pem "ca.crt" $ca.Cert -}}
{{- $_ := set $pem "tls.crt" $cert.Cert -}}
{{- $_ := set $pem "tls.key" $cert.Key -}}
{{- end -}}
{{- $_ := set .Values "__katibLlmTls" $pem -}}
{{- end -}}
{{- toJson (get .Values "__katibLlmTls") -}}
{{- end -}}

{{/* The base64 caBundle for the webhook configurations; empty in certManager mode (injected). */}}
{{- define "katib-llm.caBundle" -}}
{{- if eq .Values.certificates.mode "selfSigned" -}}
{{- index (include "katib-llm.selfSignedCert" . | fromJson) "ca.crt" | b64enc -}}
{{- else if eq .Values.certificates.mode "existingSecret" -}}
{{- .Values.certificates.existingSecret.caBundle -}}
{{- end -}}
{{- end -}}

{{/* The webhook configurations' namespaceSelector: never kube-system nor our own namespace. */}}
{{- define "katib-llm.namespaceSelector" -}}
{{- $excluded := concat (list "kube-system" .Release.Namespace) .Values.webhook.excludeNamespaces | uniq -}}
{{- if .Values.webhook.namespaceMatchLabels }}
matchLabels:
  {{- toYaml .Values.webhook.namespaceMatchLabels | nindent 2 }}
{{- end }}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      {{- toYaml $excluded | nindent 6 }}
{{- end -}}

{{/* Shared fields of both webhooks; called with (dict "root" $ "path" "/mutate"). */}}
{{- define "katib-llm.webhookCommon" -}}
{{- $root := .root -}}
clientConfig:
  service:
    name: {{ include "katib-llm.webhookName" $root }}
    namespace: {{ $root.Release.Namespace }}
    path: {{ .path }}
    port: {{ $root.Values.service.port }}
  {{- with include "katib-llm.caBundle" $root }}
  caBundle: {{ . }}
  {{- end }}
rules:
  - apiGroups: ["kubeflow.org"]
    apiVersions: ["v1beta1"]
    operations: ["CREATE", "UPDATE"]
    resources: ["experiments"]
    scope: Namespaced
{{- if eq .path "/validate" }}
# Every Experiment carrying the label, whatever its value: one labelled other than "true" that
# carries katib-llm annotations is denied there (the mutating webhook would silently skip it).
objectSelector:
  matchExpressions:
    - key: llm.katib.kubeflow.org/tune
      operator: Exists
{{- else }}
# Only Experiments that ask for LLM tuning; every other Experiment never reaches us.
objectSelector:
  matchLabels:
    llm.katib.kubeflow.org/tune: "true"
{{- end }}
namespaceSelector:
  {{- include "katib-llm.namespaceSelector" $root | trim | nindent 2 }}
failurePolicy: {{ $root.Values.webhook.failurePolicy }}
# Equivalent: an Experiment sent under another served version still reaches us.
matchPolicy: Equivalent
sideEffects: {{ $root.Values.webhook.sideEffects }}
timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
admissionReviewVersions: ["v1"]
{{- end -}}

{{/* Comma-separated names of the shipped trial templates. */}}
{{- define "katib-llm.templateNames" -}}
{{- $names := list -}}
{{- range $path, $_ := .Files.Glob "trial-templates/*.yaml" -}}
{{- $names = append $names (base $path | trimSuffix ".yaml") -}}
{{- end -}}
{{- join ", " $names -}}
{{- end -}}

{{/*
Where a client in the cluster finds the CA that verifies the server, as a
SecretKeySelector/ConfigMapKeySelector wrapper: the serving Secret's ca.crt (selfSigned,
certManager), or the <fullname>-webhook-ca ConfigMap rendered from certificates.existingSecret.caBundle.
*/}}
{{- define "katib-llm.caSource" -}}
{{- if eq .Values.certificates.mode "existingSecret" -}}
configMap:
  name: {{ include "katib-llm.webhookName" . }}-ca
  key: ca.crt
{{- else -}}
secret:
  name: {{ include "katib-llm.tlsSecretName" . }}
  key: ca.crt
{{- end -}}
{{- end -}}
