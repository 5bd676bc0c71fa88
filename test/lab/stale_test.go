package lab

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCleanStaleLabs fakes a lab whose owner died while a child still runs,
// and checks that the child's process group is killed and the directory
// removed, while a live owner's lab and unrelated pids are left alone.
func TestCleanStaleLabs(t *testing.T) {
	// A dead owner: a process that has exited and been reaped.
	done := exec.Command("true")
	if err := done.Run(); err != nil {
		t.Fatal(err)
	}
	deadOwner := owner{pid: done.Process.Pid, start: "1"}

	// A root of our own: under os.TempDir() the e2e package's labs, which
	// run in parallel in another binary, clean stale labs too and would
	// race this test for the fake lab (CI saw exactly that).
	root := t.TempDir()
	stale, err := os.MkdirTemp(root, labDirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(stale)
	// The leftover "server": its command line names the lab dir, like
	// etcd's --data-dir does; `; :` keeps bash from exec'ing sleep.
	leftover := exec.Command("bash", "-c", "sleep 600; :", stale+"/etcd-data")
	leftover.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := leftover.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- leftover.Wait() }()
	defer leftover.Process.Kill()
	// os.Getpid() stands for a pid that was reused by an unrelated
	// process: its command line does not name the lab, so it must survive.
	if err := writePIDs(stale, deadOwner, []childPID{
		{pid: leftover.Process.Pid, cluster: "sitea-tkg-wld01", name: "etcd"},
		{pid: os.Getpid(), cluster: "sitea-tkg-wld01", name: "kube-apiserver"},
	}); err != nil {
		t.Fatal(err)
	}

	live, err := os.MkdirTemp(root, labDirPrefix)
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(live)
	if err := writePIDs(live, self(), nil); err != nil {
		t.Fatal(err)
	}

	var log bytes.Buffer
	if err := cleanStaleLabsIn(root, &log); err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(log.String()))

	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("the stale lab's leftover process was not killed")
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale lab %s not removed: %v", stale, err)
	}
	if !strings.Contains(log.String(), stale) || !strings.Contains(log.String(), "etcd") {
		t.Errorf("log does not say what was cleaned: %q", log.String())
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live owner's lab was removed: %v", err)
	}
}

// TestLdflagsMatchManualBuild pins the link flags to the documented manual
// command; any drift would silently forfeit the cached build.
func TestLdflagsMatchManualBuild(t *testing.T) {
	got, err := ldflags("v1.37.2")
	if err != nil {
		t.Fatal(err)
	}
	want := "-s -w -X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/client-go/pkg/version.gitVersion=v1.37.2 -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37"
	if got != want {
		t.Errorf("ldflags:\n got %s\nwant %s", got, want)
	}
}
