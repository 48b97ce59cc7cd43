{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "kga.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name, used for every object and the Service host name. */}}
{{- define "kga.fullname" -}}
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

{{- define "kga.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kga.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kga.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kga.labels" -}}
helm.sh/chart: {{ include "kga.chart" . }}
{{ include "kga.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: admission-webhook
{{- end }}

{{- define "kga.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kga.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kga.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret the pods read their serving certificate from. */}}
{{- define "kga.tlsSecretName" -}}
{{- $mode := .Values.certificates.mode }}
{{- if eq $mode "selfManaged" }}
{{- default (printf "%s-tls" (include "kga.fullname" .)) .Values.certificates.selfManaged.secretName }}
{{- else if eq $mode "certManager" }}
{{- printf "%s-serving-tls" (include "kga.fullname" .) }}
{{- else }}
{{- .Values.certificates.secret.name }}
{{- end }}
{{- end }}

{{/* base64 caBundle for the webhooks, or empty when something else sets it. */}}
{{- define "kga.caBundle" -}}
{{- $mode := .Values.certificates.mode }}
{{- if eq $mode "secret" }}
{{- .Values.certificates.secret.caBundle | b64enc }}
{{- else if eq $mode "selfManaged" }}
{{- /* On upgrade, keep the CA the server already stored, so the webhooks never lose caBundle. */}}
{{- $secret := lookup "v1" "Secret" .Release.Namespace (include "kga.tlsSecretName" .) }}
{{- if and $secret $secret.data }}
{{- index $secret.data "ca.crt" | default "" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Annotations of the webhook configurations. */}}
{{- define "kga.webhookAnnotations" -}}
{{- if eq .Values.certificates.mode "certManager" }}
cert-manager.io/inject-ca-from: {{ printf "%s/%s-serving" .Release.Namespace (include "kga.fullname" .) }}
{{- end }}
{{- end }}

{{- define "kga.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
      {{- range (concat (list "kube-system" .Release.Namespace) .Values.webhooks.excludeNamespaces | uniq) }}
      - {{ . | quote }}
      {{- end }}
  {{- with .Values.webhooks.namespaceSelector.matchExpressions }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .Values.webhooks.namespaceSelector.matchLabels }}
matchLabels:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Fields every webhook shares; argument: dict "root" $ "hook" <webhooks.x> "path" "/mutate". */}}
{{- define "kga.webhookCommon" -}}
{{- $root := .root -}}
clientConfig:
  service:
    name: {{ include "kga.fullname" $root }}
    namespace: {{ $root.Release.Namespace }}
    path: {{ .path }}
    port: {{ $root.Values.service.port }}
  {{- with (include "kga.caBundle" $root) }}
  caBundle: {{ . }}
  {{- end }}
admissionReviewVersions: ["v1"]
sideEffects: None
matchPolicy: Equivalent
failurePolicy: {{ .hook.failurePolicy }}
timeoutSeconds: {{ .hook.timeoutSeconds }}
namespaceSelector:
  {{- include "kga.namespaceSelector" $root | nindent 2 }}
{{- with $root.Values.webhooks.objectSelector }}
objectSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The parameters kind to create: explicit, else the profile's, else what the cluster serves. */}}
{{/*
The parameters kind of config.profile (src/rules/profiles.ts, PROFILES[…].parametersRef.kind),
or "" without a profile (serve then picks it from the cluster's CRDs).
*/}}
{{- define "kga.profileParametersKind" -}}
{{- $profile := default "" .Values.config.profile }}
{{- if has $profile (list "agentgateway-v2.2" "agentgateway-v1") }}
{{- "AgentgatewayParameters" }}
{{- else if has $profile (list "kgateway-v2.1" "kgateway-v2.3" "kgateway-v2.4") }}
{{- "GatewayParameters" }}
{{- end }}
{{- end }}

{{- define "kga.gatewayParametersKind" -}}
{{- if .Values.gatewayParameters.kind }}
{{- .Values.gatewayParameters.kind }}
{{- else if (.Values.config.mutation.parametersRef | default dict).kind }}
{{- .Values.config.mutation.parametersRef.kind }}
{{- else if include "kga.profileParametersKind" . }}
{{- include "kga.profileParametersKind" . }}
{{- else if .Capabilities.APIVersions.Has "agentgateway.dev/v1alpha1/AgentgatewayParameters" }}
{{- "AgentgatewayParameters" }}
{{- else }}
{{- "GatewayParameters" }}
{{- end }}
{{- end }}

{{/* The label matchers the alerts use to pick this release's series: by default
the job the ServiceMonitor scrapes (the Service's name) in the release namespace. */}}
{{- define "kga.monitoringSelector" -}}
{{- default (printf "job=\"%s\", namespace=\"%s\"" (include "kga.fullname" .) .Release.Namespace) .Values.monitoring.selector }}
{{- end }}
