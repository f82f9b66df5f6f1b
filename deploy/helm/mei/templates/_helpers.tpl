{{/* Name of the installation's objects: the release name, or <release>-mei when it does not say mei. */}}
{{- define "mei.fullname" -}}
{{- if contains "mei" .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-mei" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mei.labels" -}}
app.kubernetes.io/part-of: mei
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The server pods: the Deployment's selector, the Service's (plus the leader label) and the PDB's. */}}
{{- define "mei.selector" -}}
app.kubernetes.io/name: mei-server
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "mei.image" -}}
{{- printf "%s:%s" .repository (.tag | default $.appVersion) -}}
{{- end -}}

{{/* Fails the render, naming the value, on combinations that would lose data or cannot work. */}}
{{- define "mei.validate" -}}
{{- $replicas := int .Values.replicas -}}
{{- if lt $replicas 1 -}}
{{- fail (printf "replicas must be at least 1, got %v" .Values.replicas) -}}
{{- end -}}
{{- if and .Values.database.url .Values.database.existingSecret -}}
{{- fail "database.url and database.existingSecret: set one of them, not both" -}}
{{- end -}}
{{- if and (gt $replicas 1) (not (or .Values.database.url .Values.database.existingSecret)) -}}
{{- fail (printf "replicas: %d needs PostgreSQL (database.url or database.existingSecret): each replica would otherwise keep its own embedded PGlite history, and failover would lose it" $replicas) -}}
{{- end -}}
{{- if and (not .Values.rbac.clusterWide) (empty .Values.rbac.namespaces) -}}
{{- fail "rbac.namespaces must list at least one namespace for jobs (or set rbac.clusterWide: true)" -}}
{{- end -}}
{{- if and .Values.ingress.enabled (not .Values.ingress.host) -}}
{{- fail "ingress.host is required when ingress.enabled is true" -}}
{{- end -}}
{{- end -}}

{{/* PGlite on a PVC: one replica, no PostgreSQL, persistence on. */}}
{{- define "mei.pglitePvc" -}}
{{- if and (eq (int .Values.replicas) 1) (not (or .Values.database.url .Values.database.existingSecret)) .Values.persistence.enabled -}}true{{- end -}}
{{- end -}}

{{- define "mei.publicUrl" -}}
{{- if .Values.publicUrl -}}
{{- .Values.publicUrl -}}
{{- else if .Values.ingress.enabled -}}
{{- printf "%s://%s" (ternary "https" "http" .Values.ingress.tls.enabled) .Values.ingress.host -}}
{{- else -}}
{{- printf "http://%s.%s.svc:%v" (include "mei.fullname" .) .Release.Namespace .Values.service.port -}}
{{- end -}}
{{- end -}}
