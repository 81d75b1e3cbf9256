{{/* The API's pod template, shared by the Rollout and the Deployment. */}}
{{- define "opsbox.apiPodTemplate" -}}
{{- $grace := int .Values.api.terminationGracePeriodSeconds }}
{{- $needed := add (include "opsbox.seconds" .Values.api.shutdownDelay | int) (include "opsbox.seconds" .Values.api.drainTimeout | int) }}
{{- if le $grace (int $needed) }}
{{- fail (printf "api.terminationGracePeriodSeconds (%d) must exceed api.shutdownDelay + api.drainTimeout (%ds): the kubelet would kill requests mid-drain" $grace (int $needed)) }}
{{- end }}
metadata:
  labels:
    {{- include "opsbox.selectorLabels" (dict "ctx" . "component" "api") | nindent 4 }}
    app.kubernetes.io/version: {{ .Values.image.tag | quote }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- include "opsbox.podAnnotations" . | nindent 4 }}
spec:
  serviceAccountName: {{ include "opsbox.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  terminationGracePeriodSeconds: {{ $grace }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . }}
    {{- end }}
  {{- end }}
  {{- include "opsbox.topologySpread" (dict "ctx" . "component" "api") | nindent 2 }}
  containers:
    - name: api
      image: {{ include "opsbox.image" (dict "ctx" . "component" "api") }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: [serve]
      ports:
        - {name: http, containerPort: {{ .Values.api.port }}, protocol: TCP}
      env:
        {{- include "opsbox.stackEnv" . | nindent 8 }}
        - name: OPSBOX_API_ADDR
          value: "0.0.0.0:{{ .Values.api.port }}"
        - name: OPSBOX_SHUTDOWN_DELAY
          value: {{ .Values.api.shutdownDelay | quote }}
        - name: OPSBOX_DRAIN_TIMEOUT
          value: {{ .Values.api.drainTimeout | quote }}
        - name: OPSBOX_DB_MAX_CONNECTIONS
          value: {{ .Values.api.dbMaxConnections | quote }}
        - name: OPSBOX_FLAGS_FILE
          value: /etc/opsbox/flags.json
        - name: OPSBOX_ADMIN_TOKEN
          valueFrom: {secretKeyRef: {name: {{ include "opsbox.secretName" . }}, key: OPSBOX_ADMIN_TOKEN, optional: true}}
        {{- with .Values.api.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      envFrom:
        - configMapRef: {name: {{ include "opsbox.fullname" . }}}
      {{- include "opsbox.probes" (dict "probes" .Values.api.probes "port" "http") | nindent 6 }}
      resources:
        {{- toYaml .Values.api.resources | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      volumeMounts:
        - {name: tmp, mountPath: /tmp}
        - {name: flags, mountPath: /etc/opsbox, readOnly: true}
  volumes:
    # The only writable path: the root filesystem is read-only.
    - name: tmp
      emptyDir: {sizeLimit: 64Mi}
    # A whole-volume mount, never a subPath: the kubelet updates only the
    # former in place, which is what lets the API reload the flags.
    - name: flags
      configMap: {name: {{ include "opsbox.fullname" . }}-flags, items: [{key: flags.json, path: flags.json}]}
  {{- with .Values.api.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.api.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.api.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
