// Package testutil holds the helpers that tests of every package share:
// waiting for a condition, capturing CoreDNS's log, and reading metrics. It
// is imported by test files only.
package testutil

import (
	"bytes"
	stdlog "log"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// WaitLimit bounds every Eventually. It is generous on purpose: the machines
// that run the tests are loaded, and a condition that holds returns at once
// anyway. Speed goals belong in benchmarks.
const WaitLimit = 30 * time.Second

// Eventually polls cond until it holds, and fails the test after WaitLimit,
// naming what it waited for.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", WaitLimit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Log is what the standard logger, which CoreDNS's plugin logger writes to,
// printed since CaptureLog.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// CaptureLog redirects the standard logger until the test ends.
func CaptureLog(t testing.TB) *Log {
	l := &Log{}
	stdlog.SetOutput(l)
	t.Cleanup(func() { stdlog.SetOutput(os.Stderr) })
	return l
}

// Value reads one gauge or counter.
func Value(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatalf("reading a metric: %v", err)
	}
	if d.Gauge != nil {
		return d.Gauge.GetValue()
	}
	return d.Counter.GetValue()
}

// Metric reads a gauge or counter from the default registry by its full
// name and label pairs (name, value, ...); -1 when no series matches.
func Metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue next
				}
			}
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
	}
	return -1
}
