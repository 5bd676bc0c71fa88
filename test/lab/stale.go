package lab

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// labDirPrefix names lab directories under os.TempDir().
const labDirPrefix = "gslb-lab-"

// orphanAge: a lab directory without a pids file is normally one being
// created right now; only one this old is considered abandoned.
const orphanAge = time.Hour

// errLabInUse is returned when a directory belongs to a lab whose owner runs.
var errLabInUse = errors.New("lab directory is in use")

// CleanStaleLabs removes lab directories under os.TempDir() whose owning
// process has died, after killing any control-plane process they left
// running. Labs of live owners (e.g. another test package running in
// parallel) are left alone. What it cleans is reported to log.
func CleanStaleLabs(log io.Writer) error { return cleanStaleLabsIn(os.TempDir(), log) }

// cleanStaleLabsIn is CleanStaleLabs over the lab directories under root.
// Tests give their own root, so that a fake stale lab is never seen (and
// cleaned first) by the lab of another test binary running beside them.
func cleanStaleLabsIn(root string, log io.Writer) error {
	if log == nil {
		log = io.Discard
	}
	dirs, err := filepath.Glob(filepath.Join(root, labDirPrefix+"*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, dir := range dirs {
		if err := cleanIfStale(dir, log); err != nil && !errors.Is(err, errLabInUse) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cleanIfStale removes dir if its owner is dead. It returns errLabInUse
// (wrapped with the owner's pid) if the owner is alive, and nil if dir does
// not exist or was cleaned.
func cleanIfStale(dir string, log io.Writer) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	o, children, err := readPIDs(dir)
	if errors.Is(err, os.ErrNotExist) {
		if time.Since(fi.ModTime()) < orphanAge {
			return fmt.Errorf("%w: %s has no %s file yet (being created?)", errLabInUse, dir, pidsFileName)
		}
		fmt.Fprintf(log, "lab: removing abandoned lab directory %s (no %s file, last changed %s)\n",
			dir, pidsFileName, fi.ModTime().Format(time.RFC3339))
		return os.RemoveAll(dir)
	}
	if err != nil {
		return fmt.Errorf("reading lab %s: %w", dir, err)
	}
	if o.alive() {
		return fmt.Errorf("%w: %s belongs to running process %d", errLabInUse, dir, o.pid)
	}

	var killed []string
	var survivors []int
	for _, c := range children {
		if !belongsTo(c.pid, dir) {
			continue // already gone, or the pid now belongs to someone else
		}
		// Each child leads its own process group (Setpgid).
		_ = syscall.Kill(-c.pid, syscall.SIGKILL)
		_ = syscall.Kill(c.pid, syscall.SIGKILL)
		killed = append(killed, fmt.Sprintf("%s %s pid %d", c.cluster, c.name, c.pid))
		survivors = append(survivors, c.pid)
	}
	// They are not our children, so we cannot wait(2); init reaps them.
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range survivors {
		for belongsTo(pid, dir) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
	}
	what := "no processes left"
	if len(killed) > 0 {
		what = "killed " + strings.Join(killed, ", ")
	}
	fmt.Fprintf(log, "lab: cleaned stale lab %s (owner pid %d is gone): %s\n", dir, o.pid, what)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing stale lab %s: %w", dir, err)
	}
	return nil
}
