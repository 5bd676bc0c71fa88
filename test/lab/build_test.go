package lab

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildFailureIsExplained replaces go with a failing script and checks
// that the error names the command, the log file and go's last words.
func TestBuildFailureIsExplained(t *testing.T) {
	fakeBin := t.TempDir()
	script := "#!/bin/sh\necho 'k8s.io/kubernetes/cmd/kube-apiserver'\necho 'compile: simulated failure' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(fakeBin, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", fakeBin)
	binDir := filepath.Join(t.TempDir(), "bin")
	t.Setenv(EnvBinDir, binDir)

	var log strings.Builder
	_, err := EnsureBinaries(context.Background(), &log)
	if err == nil {
		t.Fatal("EnsureBinaries succeeded with a failing go")
	}
	msg := err.Error()
	t.Logf("error, as expected:\n%s", msg)
	for _, want := range []string{"go build -trimpath -ldflags", "test/kubebin", "build-v", ".log", "simulated failure", "exit status 1"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	if !strings.Contains(log.String(), "10-20 minutes") {
		t.Errorf("progress log does not warn about the build time: %q", log.String())
	}
	if _, err := os.Stat(filepath.Join(binDir, "kube-apiserver")); err == nil {
		t.Error("a failed build left a kube-apiserver binary behind")
	}
}
