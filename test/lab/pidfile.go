package lab

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// pidsFileName is written in every lab directory. It records who owns the
// lab and which children are running, so a later run can tell an abandoned
// lab from a live one and kill exactly what the abandoned one left behind.
const pidsFileName = "pids"

// owner identifies a process across pid reuse: a pid alone could belong to
// an unrelated process by the time someone reads the file.
type owner struct {
	pid   int
	start string // field 22 of /proc/<pid>/stat (start time in clock ticks); empty if unknown
}

type childPID struct {
	pid     int
	cluster string
	name    string
}

func self() owner {
	_, start := procStat(os.Getpid())
	return owner{pid: os.Getpid(), start: start}
}

// alive reports whether the recorded owner still runs. A zombie counts as
// dead: a killed owner stays one until its parent reaps it, which in a
// container may take a while. Without a recorded start time it trusts the
// pid, erring towards leaving a lab alone.
func (o owner) alive() bool {
	if err := syscall.Kill(o.pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	state, start := procStat(o.pid)
	if state == "Z" || state == "X" {
		return false
	}
	return o.start == "" || start == o.start
}

// procStat reads a process's state and start time (fields 3 and 22 of
// /proc/<pid>/stat, the latter in clock ticks since boot); "" if unavailable.
func procStat(pid int) (state, start string) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", ""
	}
	// The command name (field 2) may contain spaces and parentheses, so
	// count fields after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return "", ""
	}
	fields := strings.Fields(string(data[i+1:]))
	// fields[0] is field 3 (state); field 22 (starttime) is fields[19].
	const stateField, startField = 0, 19
	if len(fields) <= startField {
		return "", ""
	}
	return fields[stateField], fields[startField]
}

// writePIDs replaces the pids file atomically so a concurrent reader never
// sees half of it.
func writePIDs(dir string, o owner, children []childPID) error {
	var b strings.Builder
	b.WriteString("# gslb test lab: owner pid/start time, then child process groups\n")
	fmt.Fprintf(&b, "owner %d %s\n", o.pid, o.start)
	for _, c := range children {
		fmt.Fprintf(&b, "child %d %s %s\n", c.pid, c.cluster, c.name)
	}
	tmp := filepath.Join(dir, pidsFileName+".tmp")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, pidsFileName))
}

func readPIDs(dir string) (owner, []childPID, error) {
	f, err := os.Open(filepath.Join(dir, pidsFileName))
	if err != nil {
		return owner{}, nil, err
	}
	defer f.Close()
	var o owner
	var children []childPID
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		pid, err := strconv.Atoi(fields[1])
		if err != nil || pid <= 0 {
			continue
		}
		switch fields[0] {
		case "owner":
			o.pid = pid
			if len(fields) > 2 {
				o.start = fields[2]
			}
		case "child":
			c := childPID{pid: pid}
			if len(fields) > 3 {
				c.cluster, c.name = fields[2], fields[3]
			}
			children = append(children, c)
		}
	}
	if err := sc.Err(); err != nil {
		return owner{}, nil, err
	}
	if o.pid == 0 {
		return owner{}, nil, fmt.Errorf("%s has no owner line", filepath.Join(dir, pidsFileName))
	}
	return o, children, nil
}

// belongsTo reports whether pid still runs a program started for labDir.
// Every child's command line names the lab directory (data dir, certs), so
// this guards against killing an unrelated process that reused the pid.
func belongsTo(pid int, labDir string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(cmdline, []byte(labDir+string(filepath.Separator)))
}
