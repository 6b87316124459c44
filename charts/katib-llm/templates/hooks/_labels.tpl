{{/* Annotations shared by the pre-delete hook's objects; .weight orders RBAC before the Job. */}}
{{- define "katib-llm.cleanupHookAnnotations" -}}
helm.sh/hook: pre-delete
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end -}}

{{- define "katib-llm.cleanupName" -}}
{{- printf "%s-cleanup" (include "katib-llm.fullname" .) -}}
{{- end -}}

{{/* The post-install/post-upgrade hook that registers our early-stopping services in katib-config. */}}
{{- define "katib-llm.katibConfigHookAnnotations" -}}
helm.sh/hook: post-install,post-upgrade
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end -}}

{{- define "katib-llm.katibConfigName" -}}
{{- printf "%s-katib-config" (include "katib-llm.fullname" .) -}}
{{- end -}}

{{/* The runtime.earlyStoppings entry Katib reads (EarlyStoppingConfig: algorithmName, image, imagePullPolicy, resources). */}}
{{- define "katib-llm.successiveHalvingEntry" -}}
{{- $es := .Values.earlyStopping.successivehalving -}}
{{- $image := printf "%s:%s" $es.image.repository (default .Chart.AppVersion $es.image.tag) -}}
{{- if $es.image.digest }}{{ $image = printf "%s@%s" $es.image.repository $es.image.digest }}{{ end -}}
{{- dict "algorithmName" "successivehalving" "image" $image "imagePullPolicy" $es.image.pullPolicy "resources" $es.resources | toJson -}}
{{- end -}}
