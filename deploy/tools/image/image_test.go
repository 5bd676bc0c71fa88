package image_test

import (
	"archive/tar"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/gslb/gslb/deploy/tools/image"
	"github.com/gslb/gslb/deploy/tools/internal/testbin"
)

var created = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func options(bin string) image.Options {
	return image.Options{
		Binaries: map[string]string{"linux/amd64": bin},
		Version:  "v0.1.0-test", Revision: "0123456789abcdef0123456789abcdef01234567",
		Source: "https://github.com/gslb/gslb", Created: created,
	}
}

func archive(t *testing.T, o image.Options) (digest string, file string) {
	t.Helper()
	a, err := image.Assemble(o)
	if err != nil {
		t.Fatal(err)
	}
	d, err := a.Digest()
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(t.TempDir(), "gslb-image.tar")
	if err := image.WriteOCIArchive(a, "ghcr.io/gslb/coredns:v0.1.0-test", file); err != nil {
		t.Fatal(err)
	}
	return d.String(), file
}

func sha(t *testing.T, file string) [32]byte {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// Two builds of the same inputs give the same digest and the same archive
// bytes; a different commit gives another digest.
func TestReproducible(t *testing.T) {
	bin := testbin.CoreDNS(t)
	d1, f1 := archive(t, options(bin))
	d2, f2 := archive(t, options(bin))
	if d1 != d2 {
		t.Fatalf("two builds of the same binary and labels: digests %s and %s", d1, d2)
	}
	if sha(t, f1) != sha(t, f2) {
		t.Fatalf("two builds gave the same digest but different archive bytes")
	}
	o := options(bin)
	o.Revision = "fedcba9876543210fedcba9876543210fedcba98"
	if d3, _ := archive(t, o); d3 == d1 {
		t.Fatalf("another revision label gave the same digest %s", d3)
	}
}

// openArchive reads the image back the way a runtime does.
func openArchive(t *testing.T, file, platform string) v1.Image {
	t.Helper()
	img, ref, err := image.ReadOCIArchive(file, t.TempDir(), platform)
	if err != nil {
		t.Fatal(err)
	}
	if ref != "ghcr.io/gslb/coredns:v0.1.0-test" {
		t.Errorf("io.containerd.image.name = %q", ref)
	}
	return img
}

type entry struct {
	hdr  *tar.Header
	data []byte
}

// files flattens the image's layers (what the runtime's root file system is).
func files(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	fs := map[string]entry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fs
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		fs[strings.TrimSuffix(h.Name, "/")] = entry{h, b}
	}
}

func TestConfigAndContents(t *testing.T) {
	bin := testbin.CoreDNS(t)
	_, file := archive(t, options(bin))
	img := openArchive(t, file, "linux/amd64")

	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("user %q, want 65532:65532 (non-root)", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/coredns"}) || !slices.Equal(c.Cmd, []string{"-conf", "/etc/coredns/Corefile"}) {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	for _, p := range []string{"53/udp", "53/tcp", "8080/tcp", "8181/tcp", "9153/tcp"} {
		if _, ok := c.ExposedPorts[p]; !ok {
			t.Errorf("port %s not exposed (have %v)", p, c.ExposedPorts)
		}
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.source":   "https://github.com/gslb/gslb",
		"org.opencontainers.image.version":  "v0.1.0-test",
		"org.opencontainers.image.revision": "0123456789abcdef0123456789abcdef01234567",
	} {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if cf.Architecture != "amd64" || cf.OS != "linux" || !cf.Created.Time.Equal(created) {
		t.Errorf("platform %s/%s created %v", cf.OS, cf.Architecture, cf.Created)
	}

	fs := files(t, img)
	var names []string
	for n := range fs {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"coredns", "etc", "etc/group", "etc/passwd", "etc/ssl", "etc/ssl/certs", "etc/ssl/certs/ca-certificates.crt", "home", "home/nonroot", "tmp"}
	if !slices.Equal(names, want) {
		t.Errorf("files %q, want exactly %q (no shell, nothing else)", names, want)
	}
	cd := fs["coredns"]
	self, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if string(cd.data) != string(self) || cd.hdr.Mode&0o777 != 0o755 || cd.hdr.Uid != 0 {
		t.Errorf("/coredns: %d bytes mode %o uid %d, want the binary (%d bytes), 0755, root-owned", len(cd.data), cd.hdr.Mode, cd.hdr.Uid, len(self))
	}
	// What `setcap cap_net_bind_service=+ep` writes (getfattr -n security.capability -e hex).
	if caps := cd.hdr.PAXRecords["SCHILY.xattr.security.capability"]; fmt.Sprintf("%x", caps) != "0100000200040000000000000000000000000000" {
		t.Errorf("/coredns lacks cap_net_bind_service+ep: %x", caps)
	}
	if !strings.Contains(string(fs["etc/passwd"].data), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no user 65532:\n%s", fs["etc/passwd"].data)
	}
	n := 0
	rest := fs["etc/ssl/certs/ca-certificates.crt"].data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Fatalf("CA bundle: %v", err)
		}
		n++
	}
	if n < 100 {
		t.Errorf("CA bundle has %d certificates, want Mozilla's root store (over 100)", n)
	}
	for _, e := range fs {
		if !e.hdr.ModTime.Equal(created) {
			t.Errorf("%s has mtime %v, want the commit time %v", e.hdr.Name, e.hdr.ModTime, created)
			break
		}
	}
}

// The index carries one image per platform, each for its architecture.
func TestMultiArchIndex(t *testing.T) {
	dir := t.TempDir()
	bins := map[string]string{}
	for _, arch := range []string{"amd64", "arm64"} {
		out := filepath.Join(dir, arch)
		src := filepath.Join(dir, "main.go")
		os.WriteFile(src, []byte("package main\nfunc main() { println(\"gslb\") }\n"), 0o644)
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, src)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build for %s: %v\n%s", arch, err, b)
		}
		bins["linux/"+arch] = out
	}
	o := options("")
	o.Binaries = bins
	d1, file := archive(t, o)
	d2, _ := archive(t, o)
	if d1 != d2 {
		t.Fatalf("index digests differ: %s %s", d1, d2)
	}
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		img := openArchive(t, file, p)
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if "linux/"+cf.Architecture != p {
			t.Errorf("the %s entry holds a %s image", p, cf.Architecture)
		}
		got := files(t, img)["coredns"].data
		want, _ := os.ReadFile(bins[p])
		if string(got) != string(want) {
			t.Errorf("the %s image does not hold the %s binary", p, p)
		}
	}
	// A binary for the wrong architecture is refused, naming the fix.
	o.Binaries = map[string]string{"linux/arm64": bins["linux/amd64"]}
	if _, err := image.Assemble(o); err == nil || !strings.Contains(err.Error(), "GOARCH=arm64") {
		t.Errorf("an amd64 binary for linux/arm64: err %v", err)
	}
}
