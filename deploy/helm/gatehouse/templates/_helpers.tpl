{{/*
Names. The full name is cut to 50 characters so "<fullname>-migrate" and the other component
suffixes stay within Kubernetes' 63-character limit.
*/}}
{{- define "gatehouse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 50 | trimSuffix "-" }}
{{- end }}

{{- define "gatehouse.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gatehouse.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every resource. */}}
{{- define "gatehouse.labels" -}}
helm.sh/chart: {{ include "gatehouse.chart" . }}
{{ include "gatehouse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: gatehouse
{{- end }}

{{- define "gatehouse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gatehouse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component's resources: (dict "root" $ "component" "token"). */}}
{{- define "gatehouse.componentLabels" -}}
{{ include "gatehouse.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "gatehouse.componentSelectorLabels" -}}
{{ include "gatehouse.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "gatehouse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "gatehouse.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: repository@digest when a digest is given, else repository:tag. */}}
{{- define "gatehouse.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The issuer's host name, for the Ingress: ingress.host, else the issuer's host without port. */}}
{{- define "gatehouse.host" -}}
{{- if .Values.ingress.host }}
{{- .Values.ingress.host }}
{{- else }}
{{- regexReplaceAll ":[0-9]+$" (urlParse .Values.issuer).host "" }}
{{- end }}
{{- end }}

{{/*
Where the login pods find the token service's gRPC listener: https with mutual TLS, whose server
certificate names this host (see gatehouse.grpcDnsNames).
*/}}
{{- define "gatehouse.tokenGrpcUrl" -}}
{{- printf "%s://%s-token.%s.svc:%v" (ternary "https" "http" .Values.grpc.tls.enabled) (include "gatehouse.fullname" .) .Release.Namespace .Values.token.service.grpcPort }}
{{- end }}

{{/* The DNS names of the token Service, all in the token pods' server certificate (a YAML list). */}}
{{- define "gatehouse.grpcDnsNames" -}}
{{- $service := printf "%s-token" (include "gatehouse.fullname" .) -}}
- {{ $service }}
- {{ $service }}.{{ .Release.Namespace }}
- {{ $service }}.{{ .Release.Namespace }}.svc
- {{ $service }}.{{ .Release.Namespace }}.svc.cluster.local
{{- end }}

{{/*
Where the gRPC link's certificates come from: "existing" (grpc.existingSecret), "certManager",
"generated" (by the chart), or nothing when TLS is off.
*/}}
{{- define "gatehouse.grpcCertSource" -}}
{{- if .Values.grpc.tls.enabled }}
{{- if .Values.grpc.existingSecret }}existing{{ else if .Values.grpc.certManager.enabled }}certManager{{ else }}generated{{ end }}
{{- end }}
{{- end }}

{{/* The directory the token and login pods mount their gRPC certificate files in. */}}
{{- define "gatehouse.grpcCertDir" -}}
/var/lib/gatehouse/grpc-certs
{{- end }}

{{/*
The read-only volume of one component's gRPC files, always named ca.crt, <component>.crt and
<component>.key whatever the Secret's keys are, and nothing else of that Secret (the token pods
never see the login key, nor the login pods the token key): (dict "root" $ "component" "token").
*/}}
{{- define "gatehouse.grpcVolume" -}}
{{- $source := include "gatehouse.grpcCertSource" .root }}
{{- $fullname := include "gatehouse.fullname" .root -}}
- name: grpc-certs
  secret:
    {{- if eq $source "existing" }}
    secretName: {{ .root.Values.grpc.existingSecret }}
    {{- else if eq $source "certManager" }}
    secretName: {{ $fullname }}-grpc-{{ .component }}-tls
    {{- else }}
    secretName: {{ $fullname }}-grpc-{{ .component }}
    {{- end }}
    # Owner root, group the pods' fsGroup (65532): readable by the gatehouse process only.
    defaultMode: 0440
    items:
      - key: ca.crt
        path: ca.crt
      - key: {{ ternary "tls.crt" (printf "%s.crt" .component) (eq $source "certManager") }}
        path: {{ .component }}.crt
      - key: {{ ternary "tls.key" (printf "%s.key" .component) (eq $source "certManager") }}
        path: {{ .component }}.key
{{- end }}

{{/* The mount of that volume. */}}
{{- define "gatehouse.grpcVolumeMount" -}}
- name: grpc-certs
  mountPath: {{ include "gatehouse.grpcCertDir" . }}
  readOnly: true
{{- end }}

{{/* Whether the chart's own Secret holds anything (a value given directly rather than by reference). */}}
{{- define "gatehouse.hasOwnSecret" -}}
{{- if or (and .Values.database.url (not .Values.database.existingSecret.name)) (and .Values.redis.url (not .Values.redis.existingSecret.name)) (and .Values.systemSecret.value (not .Values.systemSecret.existingSecret.name)) (and .Values.systemSecret.previous (not .Values.systemSecret.existingSecret.name)) (and .Values.adminToken.value (not .Values.adminToken.existingSecret.name)) }}true{{ end }}
{{- end }}

{{/*
One environment variable read from a Secret: the existing Secret when one is named, else the
chart's own Secret, where each value is stored under its environment variable's name.
(dict "root" $ "env" "DATABASE_URL" "existing" .Values.database.existingSecret)
*/}}
{{- define "gatehouse.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
{{- if .existing.name }}
      name: {{ .existing.name }}
      key: {{ .existing.key }}
{{- else }}
      name: {{ include "gatehouse.fullname" .root }}
      key: {{ .env }}
{{- end }}
{{- end }}

{{/* GATEHOUSE_SYSTEM_SECRET, and GATEHOUSE_SYSTEM_SECRET_PREVIOUS when previous secrets are given. */}}
{{- define "gatehouse.systemSecretEnv" -}}
{{ include "gatehouse.secretEnv" (dict "root" . "env" "GATEHOUSE_SYSTEM_SECRET" "existing" .Values.systemSecret.existingSecret) }}
{{- if .Values.systemSecret.existingSecret.name }}
{{- if .Values.systemSecret.existingSecret.previousKey }}
- name: GATEHOUSE_SYSTEM_SECRET_PREVIOUS
  valueFrom:
    secretKeyRef:
      name: {{ .Values.systemSecret.existingSecret.name }}
      key: {{ .Values.systemSecret.existingSecret.previousKey }}
      optional: true
{{- end }}
{{- else if .Values.systemSecret.previous }}
- name: GATEHOUSE_SYSTEM_SECRET_PREVIOUS
  valueFrom:
    secretKeyRef:
      name: {{ include "gatehouse.fullname" . }}
      key: GATEHOUSE_SYSTEM_SECRET_PREVIOUS
{{- end }}
{{- end }}

{{/* Probes of one container: (dict "root" $ "port" "public"). */}}
{{- define "gatehouse.probes" -}}
startupProbe:
  httpGet:
    path: /health/alive
    port: {{ .port }}
  periodSeconds: {{ .root.Values.probes.startup.periodSeconds }}
  failureThreshold: {{ .root.Values.probes.startup.failureThreshold }}
livenessProbe:
  httpGet:
    path: /health/alive
    port: {{ .port }}
  periodSeconds: {{ .root.Values.probes.liveness.periodSeconds }}
  timeoutSeconds: {{ .root.Values.probes.liveness.timeoutSeconds }}
  failureThreshold: {{ .root.Values.probes.liveness.failureThreshold }}
readinessProbe:
  httpGet:
    path: /health/ready
    port: {{ .port }}
  periodSeconds: {{ .root.Values.probes.readiness.periodSeconds }}
  timeoutSeconds: {{ .root.Values.probes.readiness.timeoutSeconds }}
  failureThreshold: {{ .root.Values.probes.readiness.failureThreshold }}
{{- end }}

{{/*
Scheduling of one component's pods: (dict "root" $ "component" "token" "values" .Values.token).
Without topologySpreadConstraints the pods are spread over nodes, best effort.
*/}}
{{- define "gatehouse.scheduling" -}}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
topologySpreadConstraints:
{{- if .values.topologySpreadConstraints }}
  {{- toYaml .values.topologySpreadConstraints | nindent 2 }}
{{- else }}
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "gatehouse.componentSelectorLabels" (dict "root" .root "component" .component) | nindent 8 }}
{{- end }}
{{- end }}

{{/*
Checks that span values, with one message each naming the value to set. Called from every
template that needs them, so `helm template` and `helm install` fail before anything is applied.
*/}}
{{- define "gatehouse.validate" -}}
{{- if not .Values.issuer }}
{{- fail "issuer is required: set it to the public base URL, e.g. --set issuer=https://auth.example.com" }}
{{- end }}
{{- $issuer := urlParse .Values.issuer }}
{{- if not (has $issuer.scheme (list "http" "https")) }}
{{- fail (printf "issuer %q must be an http(s) URL (https outside local experiments)" .Values.issuer) }}
{{- end }}
{{- if not (has $issuer.path (list "" "/")) }}
{{- fail (printf "issuer %q must not have a path: Gatehouse serves its endpoints at the root of the issuer's host" .Values.issuer) }}
{{- end }}
{{- if not (or .Values.database.url .Values.database.existingSecret.name) }}
{{- fail "database is required: set database.url (postgres://...) or database.existingSecret.name" }}
{{- end }}
{{- if not (or .Values.redis.url .Values.redis.existingSecret.name) }}
{{- fail "redis is required (the token and login Deployments share short-lived state): set redis.url (redis://...) or redis.existingSecret.name" }}
{{- end }}
{{- if not (or .Values.systemSecret.value .Values.systemSecret.existingSecret.name) }}
{{- fail "systemSecret is required: set systemSecret.existingSecret.name (or systemSecret.value, at least 32 characters, e.g. from `openssl rand -base64 48`)" }}
{{- end }}
{{- if and .Values.systemSecret.value (not .Values.systemSecret.existingSecret.name) (lt (len .Values.systemSecret.value) 32) }}
{{- fail "systemSecret.value is shorter than 32 characters; generate one with `openssl rand -base64 48`" }}
{{- end }}
{{- if not (or .Values.adminToken.value .Values.adminToken.existingSecret.name) }}
{{- fail "adminToken is required (the admin listener binds the pod IP): set adminToken.existingSecret.name (or adminToken.value, at least 32 characters, e.g. from `openssl rand -hex 32`)" }}
{{- end }}
{{- if and .Values.adminToken.value (not .Values.adminToken.existingSecret.name) (lt (len .Values.adminToken.value) 32) }}
{{- fail "adminToken.value is shorter than 32 characters; generate one with `openssl rand -hex 32`" }}
{{- end }}
{{- if and .Values.grpc.tls.enabled .Values.grpc.insecure }}
{{- fail "grpc.insecure=true needs grpc.tls.enabled=false: the link runs either with mutual TLS or, inside a mesh that provides it, without" }}
{{- end }}
{{- if not (or .Values.grpc.tls.enabled .Values.grpc.insecure) }}
{{- fail "grpc.tls.enabled=false leaves the token pods' gRPC listener without TLS, and they refuse to start that way: keep grpc.tls.enabled=true, or set grpc.insecure=true if a mesh already does mutual TLS between the pods" }}
{{- end }}
{{- if and .Values.grpc.certManager.enabled .Values.grpc.existingSecret }}
{{- fail "grpc.certManager.enabled and grpc.existingSecret are two sources of the gRPC certificates: choose one" }}
{{- end }}
{{- if and (not .Values.grpc.tls.enabled) (or .Values.grpc.certManager.enabled .Values.grpc.existingSecret) }}
{{- fail "grpc.certManager.enabled and grpc.existingSecret provide certificates for grpc.tls.enabled=true; unset them with grpc.tls.enabled=false" }}
{{- end }}
{{- end }}
