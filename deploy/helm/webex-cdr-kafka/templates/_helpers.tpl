{{/*
Names, labels, and the settings of each process: plain ones from `config` and `<process>.env`,
secret ones as files (`<NAME>_FILE`), and the ones the chart owns (ports, host, shutdown deadline).
*/}}

{{- define "webex-cdr-kafka.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "webex-cdr-kafka.fullname" -}}
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

{{- define "webex-cdr-kafka.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "webex-cdr-kafka.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "component" "ingress"). */}}
{{- define "webex-cdr-kafka.selectorLabels" -}}
app.kubernetes.io/name: {{ include "webex-cdr-kafka.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "webex-cdr-kafka.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "webex-cdr-kafka.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "webex-cdr-kafka.image" -}}
{{ printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) | quote }}
{{- end }}

{{/* The secret settings each process reads (src/settings.ts FROM_FILE, plus the two token files). */}}
{{- define "webex-cdr-kafka.secretNames" -}}
{{- $shared := list "KAFKA_SASL_PASSWORD" "KAFKA_SSL_CA" "KAFKA_SSL_CERT" "KAFKA_SSL_KEY" "KAFKA_SSL_KEY_PASSWORD" "SCHEMA_REGISTRY_PASSWORD" "SCHEMA_REGISTRY_TOKEN" "SCHEMA_REGISTRY_CA" "PRIVACY_HASH_KEY" }}
{{- $names := dict "ingress" (concat (list "WEBHOOK_SECRETS") $shared) "reconciler" (concat $shared (list "WEBEX_ACCESS_TOKEN" "WEBEX_CLIENT_SECRET" "WEBEX_REFRESH_TOKEN")) }}
{{- toJson $names }}
{{- end }}

{{/* Settings the chart sets itself: refused in `config` and `<process>.env`. */}}
{{- define "webex-cdr-kafka.ownedSettings" -}}
{{- toJson (dict "PORT" "ingress.port" "HOST" "(always 0.0.0.0 in the pod)" "RECONCILER_PORT" "reconciler.port" "SHUTDOWN_TIMEOUT_MS" "shutdownTimeoutMs") }}
{{- end }}

{{- define "webex-cdr-kafka.secretName" -}}
{{- default (printf "%s-secrets" (include "webex-cdr-kafka.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{/* The keys the Secret holds, checked against the known names: a JSON list. */}}
{{- define "webex-cdr-kafka.secretKeys" -}}
{{- $all := fromJson (include "webex-cdr-kafka.secretNames" .) }}
{{- $known := concat $all.ingress $all.reconciler | uniq }}
{{- $keys := list }}
{{- if .Values.secrets.existingSecret }}
{{- range $k, $v := .Values.secrets.values }}
{{- if $v }}{{ fail (printf "secrets.values.%s: set, but secrets.existingSecret is used too: put the value in that Secret and list its key in secrets.existingSecretKeys" $k) }}{{ end }}
{{- end }}
{{- $keys = .Values.secrets.existingSecretKeys }}
{{- else }}
{{- if .Values.secrets.existingSecretKeys }}{{ fail "secrets.existingSecretKeys: only with secrets.existingSecret" }}{{ end }}
{{- range $k, $v := .Values.secrets.values }}
{{- if $v }}{{ $keys = append $keys $k }}{{ end }}
{{- end }}
{{- end }}
{{- range $keys }}
{{- if not (has . $known) }}{{ fail (printf "secrets: %s is not a secret setting of webex-cdr-kafka (known: %s)" . (join ", " $known)) }}{{ end }}
{{- end }}
{{- toJson (sortAlpha $keys) }}
{{- end }}

{{/* The Secret's keys one process gets: (dict "root" $ "component" "ingress"), a JSON list. */}}
{{- define "webex-cdr-kafka.componentSecretKeys" -}}
{{- $names := get (fromJson (include "webex-cdr-kafka.secretNames" .root)) .component }}
{{- $keys := list }}
{{- range (fromJsonArray (include "webex-cdr-kafka.secretKeys" .root)) }}
{{- if has . $names }}{{ $keys = append $keys . }}{{ end }}
{{- end }}
{{- toJson $keys }}
{{- end }}

{{- define "webex-cdr-kafka.secretDir" -}}/etc/webex-cdr-kafka/secrets{{- end }}
{{- define "webex-cdr-kafka.tokenDir" -}}/var/lib/webex-cdr-kafka/token{{- end }}

{{/*
terminationGracePeriodSeconds of one process: (dict "root" $ "component" "ingress" "preStop" N).
Derived: SHUTDOWN_TIMEOUT_MS rounded up to seconds + preStop + shutdownExitMarginSeconds. An
explicit value must leave at least 2 s after the deadline and the preStop sleep.
*/}}
{{- define "webex-cdr-kafka.gracePeriod" -}}
{{- $ms := int .root.Values.shutdownTimeoutMs }}
{{- if lt $ms 100 }}{{ fail "shutdownTimeoutMs: at least 100 (SHUTDOWN_TIMEOUT_MS)" }}{{ end }}
{{- $deadline := div (add $ms 999) 1000 }}
{{- $floor := add $deadline (int .preStop) }}
{{- $explicit := get (get .root.Values .component) "terminationGracePeriodSeconds" }}
{{- if kindIs "invalid" $explicit }}
{{- add $floor (int .root.Values.shutdownExitMarginSeconds) }}
{{- else if lt (int $explicit) (add $floor 2) }}
{{- fail (printf "%s.terminationGracePeriodSeconds: %d is too short: SHUTDOWN_TIMEOUT_MS (shutdownTimeoutMs %d) and a preStop sleep of %ds need at least %d s (leave it empty to derive it)" .component (int $explicit) $ms (int .preStop) (add $floor 2)) }}
{{- else }}
{{- int $explicit }}
{{- end }}
{{- end }}

{{/* The env list of one process: (dict "root" $ "component" "ingress"). */}}
{{- define "webex-cdr-kafka.env" -}}
{{- $root := .root }}
{{- $component := .component }}
{{- $values := get $root.Values $component }}
{{- $all := fromJson (include "webex-cdr-kafka.secretNames" $root) }}
{{- $secretNames := concat $all.ingress $all.reconciler | uniq }}
{{- $owned := fromJson (include "webex-cdr-kafka.ownedSettings" $root) }}
{{- $plain := merge (deepCopy ($values.env | default dict)) (deepCopy ($root.Values.config | default dict)) }}
{{- range $name, $v := $plain }}
{{- $base := trimSuffix "_FILE" $name }}
{{- if or (has $name $secretNames) (and (ne $base $name) (has $base $secretNames)) }}
{{- fail (printf "%s: a secret setting: give it in secrets.values.%s (or an existing Secret), not as a plain value" $name $base) }}
{{- end }}
{{- if hasKey $owned $name }}
{{- fail (printf "%s: set by the chart from %s, not in config or %s.env" $name (get $owned $name) $component) }}
{{- end }}
{{- if not (regexMatch "^[A-Z][A-Z0-9_]*$" $name) }}
{{- fail (printf "%s: not a setting name (config and %s.env take NAME: value, docs/configuration.md)" $name $component) }}
{{- end }}
{{- if or (kindIs "map" $v) (kindIs "slice" $v) }}
{{- fail (printf "%s: a plain value (string, number or boolean), not a list or map" $name) }}
{{- end }}
{{- if not (kindIs "invalid" $v) }}
{{- $text := toString $v }}
{{- if and (kindIs "float64" $v) (eq (float64 (int64 $v)) $v) }}
{{- /* YAML numbers arrive as float64: 8388608, not 8.388608e+06 */}}
{{- $text = toString (int64 $v) }}
{{- end }}
- name: {{ $name }}
  value: {{ $text | quote }}
{{- end }}
{{- end }}
- name: HOST
  value: "0.0.0.0"
{{- if eq $component "ingress" }}
- name: PORT
  value: {{ $values.port | toString | quote }}
{{- else if eq $root.Values.reconciler.mode "deployment" }}
- name: RECONCILER_PORT
  value: {{ $values.port | toString | quote }}
{{- end }}
- name: SHUTDOWN_TIMEOUT_MS
  value: {{ int $root.Values.shutdownTimeoutMs | toString | quote }}
{{- range (fromJsonArray (include "webex-cdr-kafka.componentSecretKeys" .)) }}
- name: {{ . }}_FILE
{{- if eq . "WEBEX_REFRESH_TOKEN" }}
  value: {{ include "webex-cdr-kafka.tokenDir" $root }}/{{ . }}
{{- else }}
  value: {{ include "webex-cdr-kafka.secretDir" $root }}/{{ . }}
{{- end }}
{{- end }}
{{- with $values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The Secret volume of one process (only its keys): (dict "root" $ "component" "ingress"). */}}
{{- define "webex-cdr-kafka.secretVolume" -}}
{{- $keys := fromJsonArray (include "webex-cdr-kafka.componentSecretKeys" .) }}
{{- if $keys }}
- name: secrets
  secret:
    secretName: {{ include "webex-cdr-kafka.secretName" .root }}
    # 0440 (written in decimal: YAML 1.1 and 1.2 read a leading 0 differently)
    defaultMode: 288
    items:
{{- range $keys }}
      - key: {{ . }}
        path: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{- define "webex-cdr-kafka.secretMount" -}}
{{- if fromJsonArray (include "webex-cdr-kafka.componentSecretKeys" .) }}
- name: secrets
  mountPath: {{ include "webex-cdr-kafka.secretDir" .root }}
  readOnly: true
{{- end }}
{{- end }}

{{/* True when the reconciler uses the OAuth refresh token file (and so the token store). */}}
{{- define "webex-cdr-kafka.usesTokenStore" -}}
{{- if has "WEBEX_REFRESH_TOKEN" (fromJsonArray (include "webex-cdr-kafka.componentSecretKeys" (dict "root" . "component" "reconciler"))) }}true{{ end }}
{{- end }}

{{/* The reconciler's pod spec, shared by the Deployment and the CronJob: (dict "root" $ "once" bool). */}}
{{- define "webex-cdr-kafka.reconcilerPod" -}}
{{- $root := .root }}
{{- $r := $root.Values.reconciler }}
{{- $ctx := dict "root" $root "component" "reconciler" }}
{{- $store := include "webex-cdr-kafka.usesTokenStore" $root }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
serviceAccountName: {{ include "webex-cdr-kafka.serviceAccountName" $root }}
automountServiceAccountToken: false
# Service links (RECONCILER_PORT=tcp://... from a Service named "reconciler") would be refused.
enableServiceLinks: false
terminationGracePeriodSeconds: {{ include "webex-cdr-kafka.gracePeriod" (dict "root" $root "component" "reconciler" "preStop" 0) }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
{{- if .once }}
restartPolicy: Never
{{- end }}
{{- if $store }}
initContainers:
  - name: seed-refresh-token
    image: {{ include "webex-cdr-kafka.image" $root }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    # The Secret's refresh token, copied once: a token Webex rotated later stays in the store.
    command: ["sh", "-c", "test -s \"$0/WEBEX_REFRESH_TOKEN\" || cp \"$1\" \"$0/WEBEX_REFRESH_TOKEN\"", {{ include "webex-cdr-kafka.tokenDir" $root | quote }}, {{ printf "%s/WEBEX_REFRESH_TOKEN" (include "webex-cdr-kafka.secretDir" $root) | quote }}]
    securityContext:
      {{- toYaml $root.Values.securityContext | nindent 6 }}
    resources:
      requests:
        cpu: 10m
        memory: 16Mi
      limits:
        memory: 64Mi
    volumeMounts:
      - name: secrets
        mountPath: {{ include "webex-cdr-kafka.secretDir" $root }}
        readOnly: true
      - name: token-store
        mountPath: {{ include "webex-cdr-kafka.tokenDir" $root }}
{{- end }}
containers:
  - name: reconciler
    image: {{ include "webex-cdr-kafka.image" $root }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    args:
      - reconcile
{{- if .once }}
      - --once
{{- range $r.cronjob.args }}
      - {{ . | quote }}
{{- end }}
{{- else }}
    ports:
      - name: metrics
        containerPort: {{ $r.port }}
        protocol: TCP
    readinessProbe:
      httpGet:
        path: /readyz
        port: metrics
      {{- toYaml $r.readinessProbe | nindent 6 }}
    livenessProbe:
      httpGet:
        path: /healthz
        port: metrics
      {{- toYaml $r.livenessProbe | nindent 6 }}
{{- end }}
    env:
      {{- with include "webex-cdr-kafka.env" $ctx | trim }}{{ . | nindent 6 }}{{ end }}
    securityContext:
      {{- toYaml $root.Values.securityContext | nindent 6 }}
    resources:
      {{- toYaml $r.resources | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
{{- if fromJsonArray (include "webex-cdr-kafka.componentSecretKeys" $ctx) }}
      - name: secrets
        mountPath: {{ include "webex-cdr-kafka.secretDir" $root }}
        readOnly: true
{{- end }}
{{- if $store }}
      - name: token-store
        mountPath: {{ include "webex-cdr-kafka.tokenDir" $root }}
{{- end }}
volumes:
  - name: tmp
    emptyDir: {}
{{- with include "webex-cdr-kafka.secretVolume" $ctx | trim }}{{ . | nindent 2 }}{{ end }}
{{- if $store }}
  - name: token-store
{{- if $r.tokenStore.persistence.enabled }}
    persistentVolumeClaim:
      claimName: {{ default (printf "%s-token-store" (include "webex-cdr-kafka.fullname" $root)) $r.tokenStore.persistence.existingClaim }}
{{- else }}
    emptyDir: {}
{{- end }}
{{- end }}
{{- with $r.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $r.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $r.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
