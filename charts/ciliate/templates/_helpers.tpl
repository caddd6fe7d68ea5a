{{/* Labels every object of the release carries. */}}
{{- define "ciliate.labels" -}}
app.kubernetes.io/part-of: ciliate
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* The agent's or operator's command on the host. */}}
{{- define "ciliate.bin" -}}
{{ .root.Values.ciliate.installPath }}/bin/{{ .name }}
{{- end -}}

{{/* Environment both daemons read: their node, and where cilium-config lives. */}}
{{- define "ciliate.env" -}}
- name: K8S_NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
- name: CILIUM_K8S_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: CILIATE_CONFIG_MAP
  value: cilium-config
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

{{/* The relay's image: hubble.relay.image.override, its repository and tag, or the agent's image. */}}
{{- define "ciliate.hubbleRelayImage" -}}
{{- $i := .Values.hubble.relay.image -}}
{{- if $i.override -}}
{{ $i.override }}
{{- else if $i.repository -}}
{{ $i.repository }}:{{ $i.tag | default .Values.image.tag }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}
