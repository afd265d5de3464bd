{{/* Prefix of every object name the chart's own templates create (the release name). */}}
{{- define "mlp.prefix" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end }}

{{/* Labels every object of the chart carries; `component` names the part of the platform. */}}
{{- define "mlp.labels" -}}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: mlplatform
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}

{{/* Labels selecting the pods of one workload. */}}
{{- define "mlp.selectorLabels" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/name: {{ .name }}
{{- end }}

{{/* Labels a ServiceMonitor, PodMonitor or PrometheusRule needs so Prometheus selects it. */}}
{{- define "mlp.monitorLabels" -}}
{{- toYaml .Values.monitoring.selectorLabels }}
{{- end }}

{{/* Full image reference of a chart-owned image: {registry, repository, tag}; images.registry wins. */}}
{{- define "mlp.image" -}}
{{- $registry := .root.Values.images.registry | default .image.registry -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .image.repository (toString .image.tag) -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (toString .image.tag) -}}
{{- end -}}
{{- end }}

{{/* Pod-level security settings shared by the chart's own workloads. */}}
{{- define "mlp.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid | default 1001 }}
runAsGroup: {{ .uid | default 1001 }}
fsGroup: {{ .uid | default 1001 }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container-level security settings shared by the chart's own workloads. */}}
{{- define "mlp.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
{{- end }}

{{/* imagePullSecrets of the chart's own pods. */}}
{{- define "mlp.pullSecrets" -}}
{{- with .Values.images.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod anti-affinity spreading the replicas of `name` across nodes (availability.antiAffinity). */}}
{{- define "mlp.antiAffinity" -}}
{{- $mode := .root.Values.availability.antiAffinity -}}
{{- if eq $mode "hard" }}
affinity:
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "mlp.selectorLabels" . | nindent 12 }}
{{- else if eq $mode "soft" }}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "mlp.selectorLabels" . | nindent 14 }}
{{- end }}
{{- end }}

{{/* In-cluster DNS names of Service `name` (short, namespaced, svc and fully qualified). */}}
{{- define "mlp.serviceHosts" -}}
{{- $ns := .root.Release.Namespace -}}
{{- list .name (printf "%s.%s" .name $ns) (printf "%s.%s.svc" .name $ns) (printf "%s.%s.svc.%s" .name $ns .root.Values.clusterDomain) | join "," -}}
{{- end }}

{{/*
A generated credential kept across upgrades. Returns the value stored under `key` of Secret `name`
(namespace `namespace`, default the release's) when the cluster has it, else a random one. The value is
cached for the whole render, so every Secret derived from the same credential (a role's password and a
connection URI holding it) gets the same value even on first install. `base64: true` generates the
base64 of the random string (Fernet keys).
*/}}
{{- define "mlp.credential" -}}
{{- $root := .root -}}
{{- if not (hasKey $root.Values "__credentials") -}}
{{- $_ := set $root.Values "__credentials" dict -}}
{{- end -}}
{{- $cache := get $root.Values "__credentials" -}}
{{- $ns := .namespace | default $root.Release.Namespace -}}
{{- $id := printf "%s/%s/%s" $ns .name .key -}}
{{- if not (hasKey $cache $id) -}}
{{- $existing := lookup "v1" "Secret" $ns .name -}}
{{- $value := randAlphaNum (int (.length | default 32)) -}}
{{- if .base64 }}{{ $value = b64enc $value }}{{ end -}}
{{- if and $existing $existing.data (hasKey $existing.data .key) -}}
{{- $value = index $existing.data .key | b64dec -}}
{{- end -}}
{{- $_ := set $cache $id $value -}}
{{- end -}}
{{- get $cache $id -}}
{{- end }}

{{/* Kafka bootstrap address of the SCRAM listener (what the platform's clients use). */}}
{{- define "mlp.kafkaBootstrap" -}}
{{- printf "%s-kafka-bootstrap.%s.svc:%d" (include "mlp.prefix" .) .Release.Namespace (int .Values.kafka.clientListener.port) -}}
{{- end }}

{{/* Host of the CloudNativePG read-write Service. */}}
{{- define "mlp.postgresHost" -}}
{{- printf "%s-pg-rw.%s.svc" (include "mlp.prefix" .) .Release.Namespace -}}
{{- end }}

{{/* MinIO's S3 endpoint URL. */}}
{{- define "mlp.minioEndpoint" -}}
{{- printf "http://%s.%s.svc:%d" .Values.minio.fullnameOverride .Release.Namespace (int .Values.objectStorage.apiPort) -}}
{{- end }}

{{/* MLflow's in-cluster URL. */}}
{{- define "mlp.mlflowUrl" -}}
{{- printf "http://%s-mlflow.%s.svc:%d" (include "mlp.prefix" .) .Release.Namespace (int .Values.mlflow.port) -}}
{{- end }}

{{/* Name of the Secret holding the password of database role `name`. */}}
{{- define "mlp.pgSecretName" -}}
{{- printf "%s-pg-%s" (include "mlp.prefix" .root) .name -}}
{{- end }}

{{/* A registered model's SeldonDeployment name, as the promoter derives it (mlp_promoter.seldon). */}}
{{- define "mlp.seldonName" -}}
{{- regexReplaceAll "[^a-z0-9-]+" (lower .) "-" | trimAll "-" | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/* Name of the stable Service in front of a served model's predictors (argument: registered model name). */}}
{{- define "mlp.modelServiceName" -}}
{{- printf "model-%s" (include "mlp.seldonName" .) | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/* Its in-cluster host: root, model. */}}
{{- define "mlp.modelServiceHost" -}}
{{- printf "%s.%s.svc.%s" (include "mlp.modelServiceName" .model) .root.Values.seldon.namespace .root.Values.clusterDomain -}}
{{- end }}

{{/* The Airflow API server's in-cluster URL (the Airflow chart's Service <release>-api-server). */}}
{{- define "mlp.airflowApiUrl" -}}
{{- $port := 8080 -}}
{{- with .Values.airflow.ports }}{{ $port = .apiServer | default $port }}{{ end -}}
{{- printf "http://%s-api-server.%s.svc:%d" .Release.Name .Release.Namespace (int $port) -}}
{{- end }}

{{/* Name of the models API's Service (and Deployment). */}}
{{- define "mlp.modelsApiName" -}}
{{- printf "%s-models-api" (include "mlp.prefix" .) -}}
{{- end }}

{{/* Name of the Secret holding the models API's bearer token: modelsApi.token.existingSecret, or the generated one. */}}
{{- define "mlp.modelsApiTokenSecret" -}}
{{- .Values.modelsApi.token.existingSecret | default (printf "%s-models-api-token" (include "mlp.prefix" .)) -}}
{{- end }}

{{/* An autoscaling/v2 metric: average CPU use at the given percent of the pods' CPU requests (the stream
processors' HPAs and Seldon's hpaSpec). */}}
{{- define "mlp.cpuUtilizationMetric" -}}
- type: Resource
  resource:
    name: cpu
    target:
      type: Utilization
      averageUtilization: {{ . }}
{{- end }}
