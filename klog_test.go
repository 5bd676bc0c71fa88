package gslb

import (
	"bytes"
	"errors"
	golog "log"
	"os"
	"strings"
	"testing"

	"k8s.io/klog/v2"
)

// TestKlogThroughPluginLogger: what client-go logs through klog (a failed
// watch, an informational line) comes out as CoreDNS plugin log lines, with
// its key/value pairs, never in klog's own format.
func TestKlogThroughPluginLogger(t *testing.T) {
	routeKlog()
	var buf bytes.Buffer
	golog.SetOutput(&buf)
	defer golog.SetOutput(os.Stderr)

	klog.ErrorS(errors.New("dial tcp 127.0.0.1:6443: connect: connection refused"), "Failed to watch",
		"reflector", "k8s.io/client-go/informers/factory.go:160", "type", "*v1.Ingress")
	klog.Errorf("failed to list %s", "*v1.Service")
	klog.InfoS("Caches populated", "type", "*v1.Ingress")
	klog.Background().Info("Warning: watch ended with error", "type", "*v1.Service", "err", errors.New("very short watch"))
	klog.Background().WithValues("site", "siteb", "odd").Info("with values")
	klog.Flush()

	out := buf.String()
	for _, want := range []string{
		`[WARNING] plugin/gslb: Failed to watch: dial tcp 127.0.0.1:6443: connect: connection refused reflector="k8s.io/client-go/informers/factory.go:160" type="*v1.Ingress"`,
		`[WARNING] plugin/gslb: failed to list *v1.Service`,
		`[INFO] plugin/gslb: Caches populated type="*v1.Ingress"`,
		`[WARNING] plugin/gslb: watch ended with error type="*v1.Service" err="very short watch"`,
		`[INFO] plugin/gslb: with values site="siteb" odd="(MISSING)"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(line, "plugin/gslb: ") {
			t.Errorf("a klog line escaped the plugin logger: %q", line)
		}
	}
}
