{{/* Names, labels and the pieces every floe-platform pod shares. */}}
{{- define "floe-platform.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "floe-platform.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "floe-platform.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* repository@digest when a digest is given (pinned), else repository:tag. */}}
{{- define "floe-platform.image" -}}
{{- if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository (.tag | toString) -}}
{{- end -}}
{{- end -}}

{{- define "floe-platform.serviceAccount" -}}
{{- .Values.serviceAccount.name | default (include "floe-platform.fullname" .) -}}
{{- end -}}

{{- define "floe-platform.jobNamespace" -}}
{{- .Values.runLauncher.jobNamespace | default .Release.Namespace -}}
{{- end -}}

{{- define "floe-platform.postgresHost" -}}
{{- if .Values.postgresql.enabled -}}
{{- printf "%s-postgresql" (include "floe-platform.fullname" .) -}}
{{- else -}}
{{- required "postgresql.host is required when postgresql.enabled is false (an external server)" .Values.postgresql.host -}}
{{- end -}}
{{- end -}}

{{/* The volume name of a secret mount: a DNS label derived from the ref. */}}
{{- define "floe-platform.secretVolume" -}}
{{- printf "secret-%s" (.ref | lower | replace "_" "-" | replace "." "-") | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Environment every Dagster process of the platform gets: the PostgreSQL password by
     reference, where the platform file is, and the extra secret env vars. */}}
{{- define "floe-platform.env" -}}
- name: DAGSTER_HOME
  value: /opt/dagster/dagster_home
- name: DAGSTER_PG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.postgresql.passwordSecret.name }}
      key: {{ .Values.postgresql.passwordSecret.key }}
- name: FLOE_PLATFORM_FILE
  value: /etc/floe/platform.yaml
- name: DAGSTER_DISABLE_TELEMETRY
  value: "1"
{{- range .Values.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .key }}
{{- end }}
{{- end -}}

{{- define "floe-platform.volumeMounts" -}}
- name: dagster-instance
  mountPath: /opt/dagster/dagster_home/dagster.yaml
  subPath: dagster.yaml
- name: dagster-workspace
  mountPath: /opt/dagster/workspace.yaml
  subPath: workspace.yaml
- name: floe-platform
  mountPath: /etc/floe/platform.yaml
  subPath: platform.yaml
  readOnly: true
{{- range .Values.secretMounts }}
- name: {{ include "floe-platform.secretVolume" . }}
  mountPath: /var/run/secrets/{{ .ref }}
  readOnly: true
  {{- if .key }}
  subPath: {{ .key }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "floe-platform.volumes" -}}
- name: dagster-instance
  configMap:
    name: {{ include "floe-platform.fullname" . }}-instance
- name: dagster-workspace
  configMap:
    name: {{ include "floe-platform.fullname" . }}-workspace
- name: floe-platform
  configMap:
    name: {{ include "floe-platform.fullname" . }}-platform
{{- range .Values.secretMounts }}
- name: {{ include "floe-platform.secretVolume" . }}
  secret:
    secretName: {{ .secretName | default .ref }}
{{- end }}
{{- end -}}

{{/* Pod annotations: a change of the platform file or the instance config rolls the pods. */}}
{{- define "floe-platform.checksums" -}}
checksum/platform: {{ .Values.platformFile | sha256sum }}
checksum/instance: {{ include "floe-platform.instance" . | sha256sum }}
checksum/workspace: {{ include "floe-platform.workspace" . | sha256sum }}
{{- end -}}

{{/* The run launcher's run_k8s_config: the values' own, plus the PostgreSQL password by
     reference (Dagster's postgres_password_secret would fix the key name) and resources. */}}
{{- define "floe-platform.runK8sConfig" -}}
{{- $config := deepCopy (.Values.runLauncher.runK8sConfig | default dict) -}}
{{- $container := get $config "container_config" | default dict -}}
{{- $env := get $container "env" | default list -}}
{{- $password := dict "name" "DAGSTER_PG_PASSWORD" "value_from" (dict "secret_key_ref" (dict "name" .Values.postgresql.passwordSecret.name "key" .Values.postgresql.passwordSecret.key)) -}}
{{- $_ := set $container "env" (prepend $env $password) -}}
{{- if not (hasKey $container "resources") -}}
{{- $_ := set $container "resources" .Values.runLauncher.resources -}}
{{- end -}}
{{- if not (hasKey $container "security_context") -}}
{{- $_ := set $container "security_context" (dict "run_as_non_root" true "allow_privilege_escalation" false) -}}
{{- end -}}
{{- $_ := set $config "container_config" $container -}}
{{- toYaml $config -}}
{{- end -}}

{{- define "floe-platform.instance" -}}
# Dagster instance of the floe platform: storage in PostgreSQL, runs queued by the daemon and
# launched as Kubernetes Jobs.
telemetry:
  enabled: false
storage:
  postgres:
    postgres_db:
      hostname: {{ include "floe-platform.postgresHost" . }}
      port: {{ .Values.postgresql.port }}
      db_name: {{ .Values.postgresql.database }}
      username: {{ .Values.postgresql.username }}
      password:
        env: DAGSTER_PG_PASSWORD
      # SQLAlchemy 2.1 defaults to the psycopg 3 driver; dagster-postgres installs psycopg2.
      scheme: {{ .Values.postgresql.scheme }}
      {{- with .Values.postgresql.params }}
      params:
        {{- toYaml . | nindent 8 }}
      {{- end }}
scheduler:
  module: dagster._core.scheduler
  class: DagsterDaemonScheduler
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: {{ .Values.daemon.maxConcurrentRuns }}
run_launcher:
  module: dagster_k8s
  class: K8sRunLauncher
  config:
    instance_config_map: {{ include "floe-platform.fullname" . }}-instance
    dagster_home: /opt/dagster/dagster_home
    job_namespace: {{ include "floe-platform.jobNamespace" . }}
    load_incluster_config: true
    image_pull_policy: {{ .Values.runLauncher.imagePullPolicy }}
    service_account_name: {{ include "floe-platform.serviceAccount" . }}
    {{- with .Values.runLauncher.jobImage }}
    job_image: {{ . }}
    {{- end }}
    {{- with .Values.imagePullSecrets }}
    image_pull_secrets:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    env_config_maps:
      {{- toYaml .Values.runLauncher.envConfigMaps | nindent 6 }}
    env_secrets:
      {{- toYaml .Values.runLauncher.envSecrets | nindent 6 }}
    {{- with .Values.runLauncher.labels }}
    labels:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    volumes:
      - name: floe-platform
        config_map:
          name: {{ include "floe-platform.fullname" . }}-platform
      {{- range .Values.secretMounts }}
      - name: {{ include "floe-platform.secretVolume" . }}
        secret:
          secret_name: {{ .secretName | default .ref }}
      {{- end }}
    volume_mounts:
      - name: floe-platform
        mount_path: /etc/floe/platform.yaml
        sub_path: platform.yaml
        read_only: true
      {{- range .Values.secretMounts }}
      - name: {{ include "floe-platform.secretVolume" . }}
        mount_path: /var/run/secrets/{{ .ref }}
        read_only: true
        {{- if .key }}
        sub_path: {{ .key }}
        {{- end }}
      {{- end }}
    run_k8s_config:
      {{- include "floe-platform.runK8sConfig" . | nindent 6 }}
{{- end -}}

{{- define "floe-platform.workspace" -}}
# Code locations: one gRPC server per data product (chart floe-product).
load_from:
{{- range .Values.codeLocations }}
  - grpc_server:
      host: {{ .host | default .name }}
      port: {{ .port | default 4000 }}
      location_name: {{ .name }}
{{- else }} []
{{- end }}
{{- end -}}
