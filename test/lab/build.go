package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// progressEvery is how often a running build reports that it is alive.
const progressEvery = 30 * time.Second

// buildPackages are built by one `go build` in the kubebin module.
var buildPackages = []string{"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kubectl", "./cmd/etcd"}

// ldflags stamps the version the servers report. They must stay byte for byte
// what the Makefile and the documented manual command use: any difference
// changes the link inputs and forfeits the (expensive) cached build.
func ldflags(version string) (string, error) {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return "", fmt.Errorf("unexpected Kubernetes version %q", version)
	}
	major, minor := parts[0], parts[1]
	var b strings.Builder
	b.WriteString("-s -w")
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		fmt.Fprintf(&b, " -X %s.gitVersion=%s -X %s.gitMajor=%s -X %s.gitMinor=%s", pkg, version, pkg, major, pkg, minor)
	}
	return b.String(), nil
}

// buildLocked builds the binaries unless another process finished doing so
// while we waited for the lock.
func buildLocked(ctx context.Context, log io.Writer, repo, version string, bins Binaries) error {
	if err := os.MkdirAll(filepath.Dir(bins.Dir), 0o755); err != nil {
		return err
	}
	lockPath := bins.Dir + ".lock"
	unlock, err := lockFile(ctx, log, lockPath)
	if err != nil {
		return err
	}
	defer unlock()
	if len(bins.missing()) == 0 {
		return nil // built by whoever held the lock before us
	}
	// Scratch directories of builds that were killed; nobody else can be
	// using them while we hold the lock.
	if old, _ := filepath.Glob(filepath.Join(filepath.Dir(bins.Dir), ".build-*")); len(old) > 0 {
		for _, d := range old {
			os.RemoveAll(d)
		}
	}
	return runBuild(ctx, log, repo, version, bins)
}

// lockFile takes an exclusive flock, polling so that ctx can cancel the wait.
// The kernel drops the lock if we die, so a crashed build never blocks others.
func lockFile(ctx context.Context, log io.Writer, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening build lock %s: %w", path, err)
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !told {
			fmt.Fprintf(log, "lab: another process is building the Kubernetes binaries (lock %s); waiting for it\n", path)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("waiting for build lock %s: %w", path, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// runBuild runs go build into a scratch directory and moves the results into
// place, so an interrupted build never leaves a truncated binary that later
// runs would mistake for a good one.
func runBuild(ctx context.Context, log io.Writer, repo, version string, bins Binaries) error {
	goBin, err := findGo()
	if err != nil {
		return err
	}
	ld, err := ldflags(version)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(bins.Dir), ".build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	args := append([]string{"build", "-v", "-trimpath", "-ldflags", ld, "-o", tmp + "/"}, buildPackages...)
	srcDir := filepath.Join(repo, kubebinModule)
	logPath := filepath.Join(filepath.Dir(bins.Dir), "build-"+version+".log")
	shown := fmt.Sprintf("cd %s && go build -trimpath -ldflags '%s' -o %s/ %s", srcDir, ld, bins.Dir, strings.Join(buildPackages, " "))

	out, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("creating build log: %w", err)
	}
	defer out.Close()
	fmt.Fprintf(log, "lab: building kube-apiserver, kubectl and etcd %s into %s\n", version, bins.Dir)
	fmt.Fprintf(log, "lab: a first build takes about 10-20 minutes on 2 cores (later runs reuse it); output in %s\n", logPath)

	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = srcDir
	// GOWORK=off: a go.work added at the repository root must not pull the
	// plugin's modules into this build.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	// Cancel the whole process group: killing only `go` would leave its
	// compile and link children running on our two cores. If we die, go
	// dies with us; finished packages stay in the Go build cache.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	prog := &buildProgress{start: time.Now()}
	scanDone := make(chan struct{})
	go func() {
		defer close(scanDone)
		prog.consume(pr, out)
	}()

	if err := spawnOnLockedThread(cmd.Start); err != nil {
		pw.Close()
		<-scanDone
		return fmt.Errorf("starting %s: %w", shown, err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait(); pw.Close() }()

	ticker := time.NewTicker(progressEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			fmt.Fprintf(log, "lab: still building after %s, %s\n", time.Since(prog.start).Round(time.Second), prog.summary())
		case err := <-waitErr:
			<-scanDone
			elapsed := time.Since(prog.start).Round(time.Second)
			if err != nil {
				return fmt.Errorf("building the lab binaries failed after %s (%v)\ncommand: %s\nfull log: %s\nlast lines:\n%s",
					elapsed, err, shown, logPath, prog.tail())
			}
			for _, name := range []string{"kube-apiserver", "kubectl", "etcd"} {
				if err := os.MkdirAll(bins.Dir, 0o755); err != nil {
					return err
				}
				if err := os.Rename(filepath.Join(tmp, name), filepath.Join(bins.Dir, name)); err != nil {
					return fmt.Errorf("installing %s into %s: %w", name, bins.Dir, err)
				}
			}
			fmt.Fprintf(log, "lab: built %s in %s\n", bins.Dir, elapsed)
			return nil
		}
	}
}

// findGo prefers the go on PATH; under `go test` PATH may lack it, so fall
// back to $GOROOT/bin/go.
func findGo() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the go command is not on PATH and GOROOT is unset; it is needed once to build the lab binaries (or set " + EnvBinDir + ")")
}

// buildProgress counts the package lines of `go build -v` and keeps the last
// lines for error reports.
type buildProgress struct {
	start time.Time
	mu    sync.Mutex
	n     int
	last  []string
}

const tailLines = 25

func (p *buildProgress) consume(r io.Reader, copyTo io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(copyTo, line)
		p.mu.Lock()
		p.n++
		p.last = append(p.last, line)
		if len(p.last) > tailLines {
			p.last = p.last[len(p.last)-tailLines:]
		}
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, r) // never block the writer on an over-long line
}

func (p *buildProgress) summary() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == 0 {
		return "no output yet"
	}
	return fmt.Sprintf("%d packages so far, last %s", p.n, p.last[len(p.last)-1])
}

func (p *buildProgress) tail() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "  " + strings.Join(p.last, "\n  ")
}
