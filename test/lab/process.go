package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one running child (etcd or kube-apiserver) whose output goes to
// a log file.
type process struct {
	name    string // "etcd" or "kube-apiserver"
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed once the child has exited and been reaped
	err     error         // exit status; valid after done is closed
}

// startProcess starts bin in its own process group with a parent-death
// signal, appending its stdout and stderr to logPath.
func startProcess(name, bin string, args []string, logPath string) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s log: %w", name, err)
	}
	// The parent's copy is not needed once the child has inherited it.
	defer f.Close()
	fmt.Fprintf(f, "\n===== gslb lab: starting %s at %s =====\n%s %s\n\n",
		name, time.Now().Format(time.RFC3339), bin, strings.Join(args, " "))

	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f // *os.File: no copying goroutine, child writes directly
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Own group: Stop and stale cleanup signal the group, and a Ctrl-C
		// on the terminal reaches only us, so we decide how children stop.
		Setpgid: true,
		// Dies with us even on SIGKILL; see spawnOnLockedThread for why
		// this needs a dedicated OS thread.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := spawnOnLockedThread(cmd.Start); err != nil {
		return nil, fmt.Errorf("starting %s (%s): %w", name, bin, err)
	}
	p := &process{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// pid returns the child's pid, which is also its process-group id.
func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group and SIGKILL after grace (at once
// when grace is 0), then waits until the child is reaped.
func (p *process) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	if grace > 0 {
		_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(grace):
		}
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.done
}

// exitSummary describes how the process ended, for error messages.
func (p *process) exitSummary() string {
	if p.err == nil {
		return "exited with status 0"
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.String()
	}
	return p.err.Error()
}

// logTail returns the last n lines of a log file, indented, for errors.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "  (cannot read " + path + ": " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	var b strings.Builder
	for _, l := range lines {
		if len(l) > 400 {
			l = append(l[:400:400], "..."...)
		}
		b.WriteString("  ")
		b.Write(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// Pdeathsig is delivered when the *thread* that forked the child exits, not
// the process. Go may run cmd.Start on any thread, and a thread can exit
// (when a goroutine ends while locked to it), which would kill a healthy
// child at a random moment. So every child is forked from one goroutine that
// locks its thread and never returns: that thread lives exactly as long as
// the process, which is the lifetime we want the signal tied to.
var (
	spawnOnce sync.Once
	spawnReqs chan spawnReq
)

type spawnReq struct {
	start func() error
	reply chan error
}

func spawnOnLockedThread(start func() error) error {
	spawnOnce.Do(func() {
		spawnReqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: this thread must outlive every child
			for r := range spawnReqs {
				r.reply <- r.start()
			}
		}()
	})
	reply := make(chan error, 1)
	spawnReqs <- spawnReq{start: start, reply: reply}
	return <-reply
}
