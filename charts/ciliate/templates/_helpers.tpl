{{/* Labels every object of the release carries. */}}
{{- define "ciliate.labels" -}}
app.kubernetes.io/part-of: ciliate
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* The agent image. */}}
{{- define "ciliate.agentImage" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{/* The operator image: <repository>-generic<suffix>:<tag>, as upstream names it. */}}
{{- define "ciliate.operatorImage" -}}
{{ .Values.operator.image.repository }}-generic{{ .Values.operator.image.suffix }}:{{ .Values.operator.image.tag }}
{{- end -}}

{{/* Environment both daemons read: their node, their namespace, and the apiserver when set. */}}
{{- define "ciliate.env" -}}
- name: K8S_NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
- name: CILIUM_K8S_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- if .Values.k8sServiceHost }}
- name: KUBERNETES_SERVICE_HOST
  value: {{ .Values.k8sServiceHost | quote }}
- name: KUBERNETES_SERVICE_PORT
  value: {{ .Values.k8sServicePort | quote }}
{{- end }}
{{- end -}}

{{/* The hubble-peer Service's port: as upstream, 443 with Hubble TLS, 80 without, unless set. */}}
{{- define "ciliate.hubblePeerPort" -}}
{{- .Values.hubble.peerService.servicePort | default (ternary 443 80 .Values.hubble.tls.enabled) -}}
{{- end -}}

{{/*
envoy.httpUpstreamLingerTimeout as whole seconds, empty while unset (as upstream, the setting is
rendered only when set, 0 included): cilium-config's key and the cilium-envoy proxy's flag.
*/}}
{{- define "ciliate.envoyLingerTimeout" -}}
{{- if not (kindIs "invalid" .Values.envoy.httpUpstreamLingerTimeout) -}}
{{ .Values.envoy.httpUpstreamLingerTimeout | int }}
{{- end -}}
{{- end -}}

{{/* The relay's image: hubble.relay.image.override, its repository and tag, or the agent's image. */}}
{{- define "ciliate.hubbleRelayImage" -}}
{{- $i := .Values.hubble.relay.image -}}
{{- if $i.override -}}
{{ $i.override }}
{{- else if $i.repository -}}
{{ $i.repository }}:{{ $i.tag | default .Values.image.tag }}
{{- else -}}
{{ include "ciliate.agentImage" . }}
{{- end -}}
{{- end -}}

{{/* The agent's health endpoint, for its probes. */}}
{{- define "ciliate.healthProbe" -}}
httpGet:
  host: 127.0.0.1
  path: /healthz
  port: {{ .Values.healthPort }}
  scheme: HTTP
{{- end -}}
