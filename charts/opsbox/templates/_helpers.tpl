{{/* Names, labels and shared pod pieces of the OpsBox chart. */}}

{{- define "opsbox.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "opsbox.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "opsbox.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "opsbox.labels" -}}
helm.sh/chart: {{ include "opsbox.chart" . }}
app.kubernetes.io/name: {{ include "opsbox.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: opsbox
{{- end }}

{{/* Selector of one component: include with (dict "ctx" $ "component" "api"). */}}
{{- define "opsbox.selectorLabels" -}}
app.kubernetes.io/name: {{ include "opsbox.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "opsbox.componentLabels" -}}
{{ include "opsbox.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "opsbox.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "opsbox.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret with DATABASE_URL, REDIS_URL, REDIS_ADDRESS, REDIS_PASSWORD. */}}
{{- define "opsbox.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- printf "%s-secrets" (include "opsbox.fullname" .) }}
{{- end }}
{{- end }}

{{/* An image of one component: include with (dict "ctx" $ "component" "api"). */}}
{{- define "opsbox.image" -}}
{{- $img := .ctx.Values.image }}
{{- $ref := printf "%s/%s-%s:%s" $img.registry $img.repository .component $img.tag }}
{{- if $img.digest }}{{ $ref = printf "%s@%s" $ref $img.digest }}{{ end }}
{{- $ref }}
{{- end }}

{{/* Environment both services share. */}}
{{- define "opsbox.stackEnv" -}}
- name: DATABASE_URL
  valueFrom: {secretKeyRef: {name: {{ include "opsbox.secretName" . }}, key: DATABASE_URL}}
- name: REDIS_URL
  valueFrom: {secretKeyRef: {name: {{ include "opsbox.secretName" . }}, key: REDIS_URL}}
- name: OPSBOX_QUEUE_PREFIX
  value: {{ .Values.queuePrefix | quote }}
- name: OPSBOX_RELEASE
  value: {{ .Values.image.tag | quote }}
- name: POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
{{- end }}

{{/* Pod annotations: a config change rolls the pods. */}}
{{- define "opsbox.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Spread over nodes and zones: include with (dict "ctx" $ "component" "api"). */}}
{{- define "opsbox.topologySpread" -}}
{{- if .ctx.Values.topologySpread.enabled }}
topologySpreadConstraints:
{{- range list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
  - maxSkew: {{ $.ctx.Values.topologySpread.maxSkew }}
    topologyKey: {{ . }}
    whenUnsatisfiable: {{ $.ctx.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "opsbox.selectorLabels" $ | nindent 8 }}
{{- end }}
{{- end }}
{{- end }}

{{/* HTTP probes of a container: include with (dict "probes" .Values.api.probes "port" "http"). */}}
{{- define "opsbox.probes" -}}
startupProbe:
  httpGet: {path: /health, port: {{ .port }}}
  {{- toYaml .probes.startup | nindent 2 }}
livenessProbe:
  httpGet: {path: /health, port: {{ .port }}}
  {{- toYaml .probes.liveness | nindent 2 }}
readinessProbe:
  httpGet: {path: /ready, port: {{ .port }}}
  {{- toYaml .probes.readiness | nindent 2 }}
{{- end }}

{{/* A Go-style duration ("5s", "2m", "1h", "250ms") in whole seconds, rounded up. */}}
{{- define "opsbox.seconds" -}}
{{- $d := toString . }}
{{- if hasSuffix "ms" $d }}{{ div (add (trimSuffix "ms" $d | int) 999) 1000 }}
{{- else if hasSuffix "s" $d }}{{ trimSuffix "s" $d | int }}
{{- else if hasSuffix "m" $d }}{{ mul (trimSuffix "m" $d | int) 60 }}
{{- else if hasSuffix "h" $d }}{{ mul (trimSuffix "h" $d | int) 3600 }}
{{- else }}{{ fail (printf "%q is not a duration like 5s, 2m or 250ms" $d) }}
{{- end }}
{{- end }}
