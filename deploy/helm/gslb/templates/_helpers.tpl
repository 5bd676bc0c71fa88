{{/* The chart name, overridable. */}}
{{- define "gslb.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's object names: the release name alone when it already
contains the chart name (helm install gslb ...), as most charts do. */}}
{{- define "gslb.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gslb.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gslb.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gslb.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "gslb.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: dns
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "gslb.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gslb.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the members' kubeconfig: the user's (AMKO's
gslb-config-secret) or the chart's. */}}
{{- define "gslb.kubeconfigSecret" -}}
{{- default (printf "%s-members" (include "gslb.fullname" .)) .Values.kubeconfig.existingSecret -}}
{{- end -}}

{{- define "gslb.aviSecret" -}}
{{- default (printf "%s-avi" (include "gslb.fullname" .)) .Values.gslb.avi.existingSecret -}}
{{- end -}}

{{- define "gslb.useKubeconfig" -}}
{{- if and (not .Values.gslb.inCluster.enabled) .Values.gslb.sites -}}true{{- end -}}
{{- end -}}

{{- define "gslb.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Corefile, rendered from values; mirrors Corefile.example. */}}
{{- define "gslb.corefile" -}}
{{- $g := .Values.gslb -}}
{{- $zones := list -}}
{{- range .Values.zones }}{{ $zones = append $zones (printf "%s:%d" . (int $.Values.ports.dns)) }}{{ end -}}
{{ join " " $zones }} {
{{- with .Values.corefile.bind }}
    bind {{ join " " . }}
{{- end }}
    errors
{{- if .Values.corefile.log }}
    log
{{- end }}
    health :{{ .Values.ports.health }} {
        lameduck 5s
    }
    ready :{{ .Values.ports.ready }}
    prometheus :{{ .Values.ports.metrics }}
{{- if .Values.corefile.reload }}
    reload
{{- end }}
    cache {{ .Values.corefile.cache }}
{{- with .Values.corefile.extraPlugins }}
{{ . | trim | indent 4 }}
{{- end }}
    gslb {
{{- if include "gslb.useKubeconfig" . }}
        kubeconfig /etc/coredns/gslb-members
{{- range $g.sites }}
        site {{ .name }} {{ .context }}
{{- end }}
{{- else if $g.inCluster.enabled }}
        site {{ $g.inCluster.site }}
{{- end }}
{{- with $g.resources }}
        resources {{ join " " . }}
{{- end }}
{{- with $g.selector }}
        selector {{ . }}
{{- end }}
{{- with $g.gatewaySelection }}
        gateway_selection {{ . }}
{{- end }}
{{- with $g.namespaces }}
        namespaces {{ join " " . }}
{{- end }}
{{- with $g.ownership }}
        ownership {{ . }}
{{- end }}
{{- range $name, $owners := $g.owners }}
        owner {{ $name }} {{ join " " $owners }}
{{- end }}
{{- if $g.status.enabled }}
        status {{ $g.status.address }}
{{- end }}
{{- if $g.events }}
        events
{{- end }}
{{- if $g.customGlobalFqdn }}
        custom_global_fqdn
{{- end }}
        ttl {{ $g.ttl }}
{{- with $g.answers }}
        answers {{ . }}
{{- end }}
{{- range $g.nameservers }}
        nameserver {{ .name }}{{ range .addresses }} {{ . }}{{ end }}
{{- end }}
{{- with $g.hostmaster }}
        hostmaster {{ . }}
{{- end }}
{{- with $g.policy }}
        policy {{ . }}
{{- end }}
{{- range $site, $p := $g.priorities }}
        priority {{ $site }} {{ $p }}
{{- end }}
{{- range $site, $w := $g.weights }}
        weight {{ $site }} {{ $w }}
{{- end }}
{{- with $g.downResponse }}
        down_response {{ . }}
{{- end }}
{{- with $g.health.check }}
        health_check {{ . }}
{{- end }}
{{- with $g.health.interval }}
        health_interval {{ . }}
{{- end }}
{{- with $g.health.timeout }}
        health_timeout {{ . }}
{{- end }}
{{- with $g.health.fall }}
        health_fall {{ . }}
{{- end }}
{{- with $g.health.rise }}
        health_rise {{ . }}
{{- end }}
{{- with $g.health.targets }}
        health_targets {{ join " " . }}
{{- end }}
{{- if $g.endpointReadiness }}
        endpoint_readiness
{{- end }}
{{- if $g.amko.enabled }}
        amko {{ $g.amko.context }} {{ $g.amko.namespace }}
{{- if $g.amko.status }}
        amko_status
{{- end }}
{{- end }}
{{- if $g.vantage.enabled }}
        vantage {{ $g.vantage.name }} {
            context {{ $g.vantage.context }}
            namespace {{ .Release.Namespace }}
{{- with $g.vantage.peers }}
            peers {{ join " " . }}
{{- end }}
        }
        health_quorum {{ $g.vantage.quorum | default "majority" }}
{{- end }}
{{- if $g.avi.enabled }}
        avi {{ $g.avi.controller }} {
            credentials /etc/coredns/avi-credentials
{{- with $g.avi.tenant }}
            tenant {{ . }}
{{- end }}
{{- with $g.avi.version }}
            version {{ . }}
{{- end }}
{{- if or $g.avi.ca $g.avi.caKey }}
            ca /etc/coredns/avi-ca.pem
{{- end }}
{{- if $g.avi.insecure }}
            insecure
{{- end }}
{{- with $g.avi.poll }}
            poll {{ . }}
{{- end }}
        }
{{- end }}
{{- with $g.extraConfig }}
{{ . | trim | indent 8 }}
{{- end }}
    }
}
{{- with .Values.corefile.extraServerBlocks }}
{{ . | trim }}
{{- end }}
{{ end -}}
