package gslb

import (
	"fmt"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
)

// client-go logs through klog: reflector errors when an API server goes
// away, throttling notes, and so on. Raw, they reach stderr in klog's own
// format (E1130 12:00:00.000000 ... reflector.go:...) between CoreDNS's
// lines, which log collectors then cannot parse or attribute. Like
// CoreDNS's kubernetes plugin, we hand klog a logr sink that writes through
// our plugin logger, so they read "[WARNING] plugin/gslb: ...".
//
// Errors become warnings: what client-go reports as an error is a watch or
// list that failed and is being retried (an API server outage); gslb's own
// lines say what that means for the answers (the site keeps its last known
// members), and that is where an error would belong. Info lines that
// client-go marks "Warning: " are warnings too.

var klogOnce sync.Once

// routeKlog makes klog write through the plugin's logger. klog.InitFlags is
// not called: CoreDNS notes it panics on reload.
func routeKlog() {
	klogOnce.Do(func() { klog.SetLogger(logr.New(klogSink{})) })
}

// klogSink is a logr.LogSink writing to the plugin's logger.
type klogSink struct {
	values []any // from WithValues: key, value, ...
}

func (klogSink) Init(logr.RuntimeInfo) {}

// Enabled: klog applies its own verbosity (-v, default 0) before calling
// the sink, so what reaches us is meant to be seen.
func (klogSink) Enabled(int) bool { return true }

// Info is klog's info and warning: client-go marks its warnings (a watch
// that ended with an error) with a "Warning: " prefix, which becomes the
// level.
func (s klogSink) Info(_ int, msg string, kv ...any) {
	if rest, ok := strings.CutPrefix(msg, "Warning: "); ok {
		log.Warning(s.format(rest, nil, kv))
		return
	}
	log.Info(s.format(msg, nil, kv))
}

func (s klogSink) Error(err error, msg string, kv ...any) { log.Warning(s.format(msg, err, kv)) }

func (s klogSink) WithValues(kv ...any) logr.LogSink {
	out := klogSink{values: make([]any, 0, len(s.values)+len(kv)+1)}
	out.values = append(append(out.values, s.values...), kv...)
	if len(out.values)%2 == 1 {
		out.values = append(out.values, "(MISSING)")
	}
	return out
}

func (s klogSink) WithName(string) logr.LogSink { return s }

// format renders "msg: err key=value ...": client-go puts the useful part
// (which reflector, which resource, which server) in the key/value pairs.
func (s klogSink) format(msg string, err error, kv []any) string {
	var b strings.Builder
	b.WriteString(msg)
	if err != nil {
		b.WriteString(": ")
		b.WriteString(err.Error())
	}
	all := append(append([]any{}, s.values...), kv...)
	for i := 0; i < len(all); i += 2 {
		var v any = "(MISSING)"
		if i+1 < len(all) {
			v = all[i+1]
		}
		switch x := v.(type) {
		case string:
			fmt.Fprintf(&b, " %v=%q", all[i], x)
		case error:
			fmt.Fprintf(&b, " %v=%q", all[i], x.Error())
		default:
			fmt.Fprintf(&b, " %v=%v", all[i], x)
		}
	}
	return b.String()
}
