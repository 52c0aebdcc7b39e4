{{/* The app.kubernetes.io/name label: the chart name unless overridden. */}}
{{- define "tenantgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The objects' name: the release name when it already says tenantgate. */}}
{{- define "tenantgate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "tenantgate.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* What selects the gate's pods: stable across upgrades. */}}
{{- define "tenantgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tenantgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tenantgate.labels" -}}
{{ include "tenantgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "tenantgate.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The directory of the secret files. */}}
{{- define "tenantgate.secretDir" -}}/run/secrets/tenantgate{{- end -}}

{{/*
GOMEMLIMIT: goMemLimit, or 90% of the memory limit, so the Go runtime
collects harder before the container is killed. Only Mi and Gi limits are
converted; the ratio is checked by configs/helm_test.go.
*/}}
{{- define "tenantgate.goMemLimit" -}}
{{- if .Values.goMemLimit -}}
{{- .Values.goMemLimit -}}
{{- else -}}
{{- $limit := toString (required "resources.limits.memory is required (or set goMemLimit)" .Values.resources.limits.memory) -}}
{{- if hasSuffix "Gi" $limit -}}
{{- printf "%dMiB" (div (mul (trimSuffix "Gi" $limit | atoi) 1024 9) 10) -}}
{{- else if hasSuffix "Mi" $limit -}}
{{- printf "%dMiB" (div (mul (trimSuffix "Mi" $limit | atoi) 9) 10) -}}
{{- else -}}
{{- fail (printf "resources.limits.memory %q is neither in Mi nor in Gi: set goMemLimit to about 90%% of it (e.g. 460MiB)" $limit) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Metabase's port, from metabase.url, for the NetworkPolicies. */}}
{{- define "tenantgate.metabasePort" -}}
{{- $u := urlParse .Values.metabase.url -}}
{{- $hp := splitList ":" $u.host -}}
{{- if gt (len $hp) 1 -}}{{ last $hp }}{{- else if eq $u.scheme "https" -}}443{{- else -}}80{{- end -}}
{{- end -}}

{{/* The replicas the gate runs at least: the HPA's floor, or replicaCount. */}}
{{- define "tenantgate.minReplicas" -}}
{{- if .Values.autoscaling.enabled -}}{{ .Values.autoscaling.minReplicas }}{{- else -}}{{ .Values.replicaCount }}{{- end -}}
{{- end -}}
