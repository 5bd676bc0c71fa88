// Package testbin gives tests the static CoreDNS binary the image is built
// from: $GSLB_COREDNS (make passes bin/coredns, so CI compiles CoreDNS
// once; relative paths start at the repository root), else a build with the same flags as `make build` (cached by Go).
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gslb/gslb/test/lab"
)

var (
	once   sync.Once
	path   string
	err    error
	output []byte
)

// StaticFlags are `make build`'s: no cgo (the image has no libc), no
// build paths in the binary (reproducible).
var StaticFlags = []string{"build", "-trimpath"}

// CoreDNS returns the path of a static bin/coredns.
func CoreDNS(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("GSLB_COREDNS"); p != "" {
		if !filepath.IsAbs(p) { // relative to the repository root, like GSLB_LAB_BIN_DIR
			root, err := lab.FindRepoRoot()
			if err != nil {
				t.Fatal(err)
			}
			p = filepath.Join(root, p)
		}
		return p
	}
	once.Do(func() {
		var root, dir string
		if root, err = lab.FindRepoRoot(); err != nil {
			return
		}
		if dir, err = os.MkdirTemp("", "gslb-coredns-"); err != nil {
			return
		}
		path = filepath.Join(dir, "coredns")
		cmd := exec.Command("go", append(StaticFlags, "-o", path, "./cmd/coredns")...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		output, err = cmd.CombinedOutput()
	})
	if err != nil {
		t.Fatalf("building a static coredns (CGO_ENABLED=0 go build -trimpath ./cmd/coredns): %v\n%s", err, output)
	}
	return path
}
