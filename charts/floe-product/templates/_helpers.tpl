{{/* Names, the pinned image and the run pods' container context. */}}
{{- define "floe-product.name" -}}
{{- .Values.location.name | default .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "floe-product.fullname" -}}
{{- include "floe-product.name" . | lower | replace "_" "-" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "floe-product.labels" -}}
app.kubernetes.io/name: floe-product
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: code-location
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
floe.dev/product: {{ include "floe-product.fullname" . }}
{{- end -}}

{{- define "floe-product.selector" -}}
app.kubernetes.io/name: floe-product
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* repository@digest when a digest is given, else repository:tag: one string for the code
     server and its runs. */}}
{{- define "floe-product.image" -}}
{{- $repository := required "image.repository is required: the image built from `floe package`" .Values.image.repository -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (required "image.tag or image.digest is required" (.Values.image.tag | toString)) -}}
{{- end -}}
{{- end -}}

{{- define "floe-product.secretVolume" -}}
{{- printf "secret-%s" (.ref | lower | replace "_" "-" | replace "." "-") | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Dagster's container context for this location's runs: the same secret mounts and secret
     env vars as the code server, in the location's image. */}}
{{- define "floe-product.containerContext" -}}
{{- /* The platform's run launcher already mounts the platform file into every run. */ -}}
{{- $volumes := list -}}
{{- $mounts := list -}}
{{- range .Values.secretMounts -}}
{{- $volumes = append $volumes (dict "name" (include "floe-product.secretVolume" .) "secret" (dict "secret_name" (.secretName | default .ref))) -}}
{{- $mount := dict "name" (include "floe-product.secretVolume" .) "mount_path" (printf "/var/run/secrets/%s" .ref) "read_only" true -}}
{{- if .key }}{{- $_ := set $mount "sub_path" .key -}}{{- end -}}
{{- $mounts = append $mounts $mount -}}
{{- end -}}
{{- $env := list (dict "name" "FLOE_PLATFORM_FILE" "value" "/etc/floe/platform.yaml") -}}
{{- range .Values.secretEnv -}}
{{- $env = append $env (dict "name" .name "value_from" (dict "secret_key_ref" (dict "name" .secretName "key" .key))) -}}
{{- end -}}
{{- $k8s := dict "image_pull_policy" .Values.image.pullPolicy "volumes" $volumes "volume_mounts" $mounts "env" $env -}}
{{- with .Values.runK8sConfig }}{{- $_ := set $k8s "run_k8s_config" . -}}{{- end -}}
{{- dict "k8s" $k8s | toJson -}}
{{- end -}}

{{- define "floe-product.platformFullname" -}}
{{- if contains "floe-platform" .Values.platformRelease -}}
{{- .Values.platformRelease | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-floe-platform" .Values.platformRelease | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
