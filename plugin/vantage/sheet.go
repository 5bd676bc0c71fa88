// Package vantage shares probe verdicts between gslb servers and decides,
// by a quorum of the fresh ones, which probed members are down, so that every
// name server of a zone answers alike and a partition seen by one server is
// not a failover.
//
// Each server (a vantage point) publishes a Sheet of its verdicts and a
// heartbeat into its own cluster; every server reads every vantage's objects
// and keeps them on a Board, which answers Down for a target. The package
// knows nothing of Kubernetes (plugin/kube reads and writes the objects) nor
// of the answer table: targets are only IDs here.
package vantage

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Verdict is one vantage's view of one probe target.
type Verdict struct {
	// ID names the target: a hash of what identifies it to every server
	// (the gslb package's targetID); every vantage computes the same ID
	// for the same target because they read the same sources.
	ID    uint64
	Down  bool
	Since time.Time // when the current state was set; second precision
	// Reason is the probe result that set a down state, short (cut to
	// MaxReason bytes); empty for up.
	Reason string
}

// Sheet is everything one vantage publishes besides its heartbeat.
type Sheet struct {
	Vantage string
	// Epoch is when the vantage's current run started; its heartbeat
	// carries the same value, so a sheet left over from an earlier run
	// (epoch older than the heartbeat's) is told apart and ignored.
	Epoch    time.Time
	Verdicts []Verdict
}

// Encoding limits. A ConfigMap holds at most 1 MiB: MaxBytes leaves room for
// the object's metadata. A line costs about 20 bytes (13 for the ID in base
// 36, 1 for the state, a few for the time since the epoch, separators) plus
// the reason of a down verdict, so one sheet holds every verdict of about
// 45 000 targets: no sharding is needed at the 10 000 members we aim at; beyond that the
// up verdicts that do not fit are left out (no opinion), down ones first in.
const (
	MaxBytes  = 900 << 10
	MaxReason = 40
	header    = "gslb-verdicts/v1"
)

// Encode writes the sheet in its compact text form, at most MaxBytes, and
// says how many verdicts did not fit. The order is canonical (down first,
// then by ID), so that equal sheets encode equally and an unchanged sheet is
// never written again.
func Encode(s Sheet) (data string, dropped int) {
	vs := slices.Clone(s.Verdicts)
	slices.SortFunc(vs, func(a, b Verdict) int {
		if a.Down != b.Down {
			if a.Down {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	base := s.Epoch.Unix() // since is written relative to it: short numbers
	var b strings.Builder
	b.Grow(64 + 28*len(vs))
	fmt.Fprintf(&b, "%s %s %d\n", header, s.Vantage, s.Epoch.UnixMicro())
	for i, v := range vs {
		line := strconv.FormatUint(v.ID, 36) + " u " + strconv.FormatInt(v.Since.Unix()-base, 36)
		if v.Down {
			line = strconv.FormatUint(v.ID, 36) + " d " + strconv.FormatInt(v.Since.Unix()-base, 36)
			if r := shortReason(v.Reason); r != "" {
				line += " " + r
			}
		}
		if b.Len()+len(line)+1 > MaxBytes {
			return b.String(), len(vs) - i
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String(), 0
}

// shortReason keeps a reason on one line and within MaxReason bytes.
func shortReason(r string) string {
	r = strings.Join(strings.Fields(r), " ")
	if len(r) > MaxReason {
		r = r[:MaxReason]
		for !utf8.ValidString(r) { // do not cut a rune
			r = r[:len(r)-1]
		}
	}
	return r
}

// Decode reads a sheet that Encode wrote. Anything else is an error that
// says what is wrong, for the one log line the Board writes about it.
func Decode(data string) (Sheet, error) {
	var s Sheet
	first, rest, _ := strings.Cut(data, "\n")
	f := strings.Fields(first)
	if len(f) != 3 || f[0] != header {
		return s, fmt.Errorf("first line %q: want %q VANTAGE EPOCH", cut(first), header)
	}
	micro, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || micro <= 0 {
		return s, fmt.Errorf("epoch %q: want microseconds since 1970", f[2])
	}
	s.Vantage, s.Epoch = f[1], time.UnixMicro(micro)
	base := s.Epoch.Unix()
	seen := map[uint64]bool{}
	for n := 2; rest != ""; n++ {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		parts := strings.SplitN(line, " ", 4)
		if len(parts) < 3 || (parts[1] != "u" && parts[1] != "d") || (parts[1] == "u" && len(parts) > 3) {
			return s, fmt.Errorf("line %d %q: want ID u|d SINCE [REASON]", n, cut(line))
		}
		id, err1 := strconv.ParseUint(parts[0], 36, 64)
		since, err2 := strconv.ParseInt(parts[2], 36, 64)
		if err := errors.Join(err1, err2); err != nil {
			return s, fmt.Errorf("line %d %q: %v", n, cut(line), err)
		}
		if seen[id] {
			return s, fmt.Errorf("line %d: target %s listed twice", n, parts[0])
		}
		seen[id] = true
		v := Verdict{ID: id, Down: parts[1] == "d", Since: time.Unix(base+since, 0)}
		if len(parts) == 4 {
			v.Reason = parts[3]
		}
		s.Verdicts = append(s.Verdicts, v)
	}
	return s, nil
}

func cut(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
