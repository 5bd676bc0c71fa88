// Package image builds the gslb CoreDNS container image from static binaries
// that are already built, without a container engine: go-containerregistry
// assembles the OCI config, manifests and index; this package only decides
// what goes in. Every input that could vary between two builds of one commit
// (file times, owners, order, the creation time, the CA bundle) is fixed, so
// the digest depends on the binaries and the labels alone.
package image

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// Fixed facts of the image. The ports are the ones the chart and
// Corefile.example use: DNS, health, ready, prometheus.
const (
	Entrypoint  = "/coredns"
	Corefile    = "/etc/coredns/Corefile"
	User        = "65532:65532" // "nonroot" in distroless images
	CABundle    = "/etc/ssl/certs/ca-certificates.crt"
	uid, gid    = 65532, 65532
	capNetBind  = 10 // CAP_NET_BIND_SERVICE, linux/capability.h
	xattrCapKey = "SCHILY.xattr.security.capability"
)

// Ports the image exposes (OCI config ExposedPorts).
var Ports = []string{"53/udp", "53/tcp", "8080/tcp", "8181/tcp", "9153/tcp"}

// Options describe one build.
type Options struct {
	// Binaries maps a platform ("linux/amd64") to the path of a static
	// CoreDNS binary built for it.
	Binaries map[string]string
	Version  string    // org.opencontainers.image.version, e.g. v0.3.0 or a git describe
	Revision string    // org.opencontainers.image.revision, the commit
	Source   string    // org.opencontainers.image.source, the repository URL
	Created  time.Time // the commit time (SOURCE_DATE_EPOCH), never "now"
}

// Labels are the OCI annotations put on the config (and the index).
func (o Options) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "gslb",
		"org.opencontainers.image.description": "CoreDNS with the gslb plugin: one global DNS name for apps spread over Kubernetes clusters",
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.version":     o.Version,
		"org.opencontainers.image.revision":    o.Revision,
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.created":     o.Created.UTC().Format(time.RFC3339),
	}
}

// Platforms returns the platforms of o.Binaries, sorted, so that an index
// lists them in a stable order.
func (o Options) Platforms() []string {
	ps := make([]string, 0, len(o.Binaries))
	for p := range o.Binaries {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// Build returns the image for every platform, in Platforms order.
func Build(o Options) ([]v1.Image, error) {
	if len(o.Binaries) == 0 {
		return nil, fmt.Errorf("no binary given: build bin/coredns first (make build)")
	}
	if o.Created.IsZero() {
		return nil, fmt.Errorf("no creation time: pass the commit time (SOURCE_DATE_EPOCH) so that builds are reproducible")
	}
	base, err := baseLayer(o.Created)
	if err != nil {
		return nil, err
	}
	var imgs []v1.Image
	for _, p := range o.Platforms() {
		img, err := buildOne(o, p, base)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		imgs = append(imgs, img)
	}
	return imgs, nil
}

// Index wraps per-platform images into one OCI image index (multi-arch).
func Index(o Options, imgs []v1.Image) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for i, p := range o.Platforms() {
		plat, err := v1.ParsePlatform(p)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: imgs[i], Descriptor: v1.Descriptor{Platform: plat}})
	}
	idx = mutate.AppendManifests(idx, adds...)
	return mutate.Annotations(idx, o.Labels()).(v1.ImageIndex), nil
}

func buildOne(o Options, platform string, base v1.Layer) (v1.Image, error) {
	plat, err := v1.ParsePlatform(platform)
	if err != nil {
		return nil, err
	}
	if plat.OS != "linux" {
		return nil, fmt.Errorf("only linux images are built, not %q", platform)
	}
	bin, err := os.ReadFile(o.Binaries[platform])
	if err != nil {
		return nil, fmt.Errorf("reading the binary: %w (build it with CGO_ENABLED=0 go build -trimpath ./cmd/coredns)", err)
	}
	if err := checkStatic(bin, plat.Architecture); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Binaries[platform], err)
	}
	binLayer, err := layer([]file{{name: strings.TrimPrefix(Entrypoint, "/"), mode: 0o755, data: bin, caps: netBindCap()}}, o.Created)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	created := v1.Time{Time: o.Created.UTC()}
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "gslb image: CA certificates, passwd, group", Comment: "deploy/tools/image"}},
		mutate.Addendum{Layer: binLayer, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "gslb image: /coredns (static, cap_net_bind_service+ep)", Comment: "deploy/tools/image"}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Variant = plat.Architecture, plat.OS, plat.Variant
	cf.Created = created
	ports := map[string]struct{}{}
	for _, p := range Ports {
		ports[p] = struct{}{}
	}
	cf.Config = v1.Config{
		User:         User,
		Entrypoint:   []string{Entrypoint},
		Cmd:          []string{"-conf", Corefile},
		WorkingDir:   "/",
		ExposedPorts: ports,
		Env:          []string{"SSL_CERT_FILE=" + CABundle},
		Labels:       o.Labels(),
	}
	return mutate.ConfigFile(img, cf)
}

// baseLayer holds what every platform shares: the CA bundle, so that the
// Avi source can verify its controller, and passwd/group naming the
// non-root user (some tools print names, and glibc-less Go needs none).
func baseLayer(created time.Time) (v1.Layer, error) {
	ca, err := caBundle()
	if err != nil {
		return nil, err
	}
	return layer([]file{
		{name: "etc/", dir: true, mode: 0o755},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/ssl/", dir: true, mode: 0o755},
		{name: "etc/ssl/certs/", dir: true, mode: 0o755},
		{name: strings.TrimPrefix(CABundle, "/"), mode: 0o644, data: ca},
		{name: "home/", dir: true, mode: 0o755},
		{name: "home/nonroot/", dir: true, mode: 0o700, owner: uid},
		{name: "tmp/", dir: true, mode: 0o1777},
	}, created)
}

// caBundle is Mozilla's root store as pinned in go.mod
// (golang.org/x/crypto/x509roots/fallback), not the build host's
// /etc/ssl: the image must not depend on which host built it. Roots with a
// distrust-after constraint cannot be expressed in a PEM bundle and are left
// out, which only ever refuses more.
func caBundle() ([]byte, error) {
	var b bytes.Buffer
	for r := range bundle.Roots() {
		if r.Constraint != nil {
			continue
		}
		if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate}); err != nil {
			return nil, err
		}
	}
	if b.Len() == 0 {
		return nil, fmt.Errorf("the CA bundle is empty")
	}
	return b.Bytes(), nil
}

// netBindCap is the security.capability xattr value of
// `setcap cap_net_bind_service=+ep` (struct vfs_cap_data, revision 2): the
// binary may bind port 53 as user 65532 without running as root, as the
// upstream CoreDNS image does. The kubelet must leave NET_BIND_SERVICE in the
// bounding set (the chart drops all capabilities but this one).
func netBindCap() []byte {
	v := make([]byte, 20)
	const magicRev2, effective = 0x02000000, 0x1
	putLE32(v[0:], magicRev2|effective)
	putLE32(v[4:], 1<<capNetBind) // permitted, low word
	return v
}

func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

type file struct {
	name  string
	dir   bool
	mode  int64
	owner int
	data  []byte
	caps  []byte
}

// layer writes files as a tar stream with fixed times and owners, in the
// order given, and lets go-containerregistry compress and hash it.
func layer(files []file, created time.Time) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: f.mode, ModTime: created.UTC(), Uid: f.owner, Gid: f.owner, Format: tar.FormatPAX}
		if f.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.data))
		}
		if f.caps != nil {
			h.PAXRecords = map[string]string{xattrCapKey: string(f.caps)}
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
