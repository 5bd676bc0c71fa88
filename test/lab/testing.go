package lab

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvSkipLab, set to "1", makes StartT skip instead of running clusters,
// for quick runs on machines that cannot build or run kube-apiserver.
const EnvSkipLab = "GSLB_SKIP_LAB"

// SkipRequested tells whether EnvSkipLab asks to skip: every test that
// needs a lab (StartT, the e2e package's TestMain) asks here, so the
// variable has one meaning everywhere.
func SkipRequested() bool { return os.Getenv(EnvSkipLab) == "1" }

// buildMargin is kept free before a test's deadline when a build is needed,
// so the build is cancelled with an explanation instead of the test binary
// being killed by its timeout mid-build.
const buildMargin = 30 * time.Second

// StartT starts an n-cluster lab for a test and closes it in t.Cleanup.
// Failing to build or start the lab fails the test: a silently skipped
// integration test looks like a passing one. Set GSLB_SKIP_LAB=1 to skip
// on purpose. At most one opts value is used; progress goes to t.Log.
func StartT(t testing.TB, n int, opts ...Options) *Lab {
	t.Helper()
	if SkipRequested() {
		t.Skipf("%s=1: skipping a test that needs real kube-apiservers", EnvSkipLab)
	}
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	w := &tbWriter{t: t}
	if o.Log == nil {
		o.Log = w
	}
	t.Cleanup(w.stop) // registered first so it runs last, after Close has logged

	ctx := context.Background()
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-buildMargin))
			defer cancel()
		}
	}
	l, err := Start(ctx, n, o)
	if err != nil {
		if ctx.Err() != nil {
			t.Fatalf("lab: %v\nthe test deadline came first; the Go build cache keeps the progress: run `go run ./test/lab/cmd/gslb-lab build` once, or raise -timeout", err)
		}
		t.Fatalf("lab: %v\n(set %s=1 to skip lab tests)", err, EnvSkipLab)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("lab: %v", err)
		}
	})
	return l
}

// tbWriter turns Options.Log writes into t.Log lines. It goes quiet once the
// test has finished, because t.Log after that point panics and a restarted
// cluster may still report from another goroutine.
type tbWriter struct {
	t       testing.TB
	mu      sync.Mutex
	stopped bool
}

func (w *tbWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *tbWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}
