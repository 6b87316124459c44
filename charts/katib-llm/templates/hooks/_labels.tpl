{{/* Annotations shared by the pre-delete hook's objects; .weight orders RBAC before the Job. */}}
{{- define "katib-llm.cleanupHookAnnotations" -}}
helm.sh/hook: pre-delete
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end -}}

{{- define "katib-llm.cleanupName" -}}
{{- printf "%s-cleanup" (include "katib-llm.fullname" .) -}}
{{- end -}}
