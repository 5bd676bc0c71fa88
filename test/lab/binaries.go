package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// EnvBinDir overrides the directory holding kube-apiserver, etcd and kubectl
// (a relative path is taken from the repository root). When the binaries
// are missing there they are built into it, which still needs the
// repository's test/kubebin module.
const EnvBinDir = "GSLB_LAB_BIN_DIR"

// kubebinModule is the module (relative to the repository root) that builds
// the binaries. Its presence is also how the repository root is recognised.
const kubebinModule = "test/kubebin"

// Binaries holds absolute paths of the control-plane programs a lab runs.
type Binaries struct {
	Dir       string // directory holding all three
	Version   string // Kubernetes version they were built from, e.g. "v1.37.2"; empty if unknown
	APIServer string
	Etcd      string
	Kubectl   string
}

func binariesIn(dir, version string) Binaries {
	return Binaries{
		Dir:       dir,
		Version:   version,
		APIServer: filepath.Join(dir, "kube-apiserver"),
		Etcd:      filepath.Join(dir, "etcd"),
		Kubectl:   filepath.Join(dir, "kubectl"),
	}
}

// missing names the binaries that are absent or not executable.
func (b Binaries) missing() []string {
	var out []string
	for _, p := range []string{b.APIServer, b.Etcd, b.Kubectl} {
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Size() == 0 || fi.Mode()&0o111 == 0 {
			out = append(out, filepath.Base(p))
		}
	}
	return out
}

// EnsureBinaries returns the cached control-plane binaries, building them with
// `go build` first if any is missing. A cold build takes 10-20 minutes on two
// cores; progress goes to log (nil discards it). Concurrent callers, also in
// other processes, serialise on a lock file so that only one builds.
func EnsureBinaries(ctx context.Context, log io.Writer) (Binaries, error) {
	if log == nil {
		log = io.Discard
	}
	repo, repoErr := FindRepoRoot()
	version := ""
	if repoErr == nil {
		v, err := kubeVersion(repo)
		if err != nil {
			return Binaries{}, err
		}
		version = v
	}

	dir := os.Getenv(EnvBinDir)
	switch {
	case dir != "" && !filepath.IsAbs(dir) && repoErr == nil:
		// Relative to the repository, not the working directory: go test
		// runs each package in its own directory.
		dir = filepath.Join(repo, dir)
	case dir != "":
		abs, err := filepath.Abs(dir)
		if err != nil {
			return Binaries{}, fmt.Errorf("%s=%q: %w", EnvBinDir, dir, err)
		}
		dir = abs
	case repoErr != nil:
		return Binaries{}, fmt.Errorf("cannot locate the lab binaries: %w; run from inside the repository or set %s to a directory holding kube-apiserver, etcd and kubectl", repoErr, EnvBinDir)
	default:
		dir = filepath.Join(repo, ".cache", "kube", version)
	}

	bins := binariesIn(dir, version)
	if len(bins.missing()) == 0 {
		return bins, nil
	}
	if repoErr != nil {
		return Binaries{}, fmt.Errorf("%s missing in %s (from %s) and they cannot be built: %w",
			strings.Join(bins.missing(), ", "), dir, EnvBinDir, repoErr)
	}
	if err := buildLocked(ctx, log, repo, version, bins); err != nil {
		return Binaries{}, err
	}
	return bins, nil
}

// FindRepoRoot walks up from the working directory to the directory that
// contains test/kubebin/go.mod, which is the gslb repository root.
func FindRepoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, kubebinModule, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no %s/go.mod in %s or any parent directory", kubebinModule, wd)
		}
		dir = parent
	}
}

// kubeVersion reads the k8s.io/kubernetes version the kubebin module
// requires, so that the cache directory follows a version bump there.
func kubeVersion(repo string) (string, error) {
	path := filepath.Join(repo, kubebinModule, "go.mod")
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == "k8s.io/kubernetes" && strings.HasPrefix(fields[1], "v") {
			return fields[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return "", errors.New(path + " does not require k8s.io/kubernetes; cannot tell which version to build")
}
