package image

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Artifact is what a build produced: one image, or an index of several.
type Artifact struct {
	Image v1.Image      // set when one platform was built
	Index v1.ImageIndex // set when several were
}

// Digest is the digest a registry will show for the artifact.
func (a Artifact) Digest() (v1.Hash, error) {
	if a.Index != nil {
		return a.Index.Digest()
	}
	return a.Image.Digest()
}

// Assemble builds the images and, for more than one platform, their index.
func Assemble(o Options) (Artifact, error) {
	imgs, err := Build(o)
	if err != nil {
		return Artifact{}, err
	}
	if len(imgs) == 1 {
		return Artifact{Image: imgs[0]}, nil
	}
	idx, err := Index(o, imgs)
	return Artifact{Index: idx}, err
}

// WriteOCIArchive writes the artifact as an OCI image layout packed into one
// tar file (what `ctr images import`, `skopeo copy oci-archive:` and
// `crane push` read), with ref the name it should get on import.
func WriteOCIArchive(a Artifact, ref, out string) error {
	dir, err := os.MkdirTemp(filepath.Dir(out), ".oci-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	// The short tag is what OCI tools read, the full name what containerd does.
	anns := map[string]string{"io.containerd.image.name": ref}
	if r, err := name.ParseReference(ref); err == nil {
		anns["org.opencontainers.image.ref.name"] = r.Identifier()
	}
	if a.Index != nil {
		err = p.AppendIndex(a.Index, layout.WithAnnotations(anns))
	} else {
		err = p.AppendImage(a.Image, layout.WithAnnotations(anns))
	}
	if err != nil {
		return err
	}
	return tarDir(dir, out)
}

// tarDir packs a directory with fixed times, owners and order, so that the
// archive's bytes, not only the image digest, repeat.
func tarDir(dir, out string) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(paths)
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	tw := tar.NewWriter(f)
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if fi.IsDir() {
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
		} else {
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, fi.Size()
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !fi.IsDir() {
			if err := copyFile(tw, p); err != nil {
				return err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

func copyFile(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

// Push uploads the artifact to a registry, with the credentials of
// ~/.docker/config.json (docker login, crane auth login) or a credential
// helper, like every other OCI tool.
func Push(a Artifact, ref string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	opt := remote.WithAuthFromKeychain(authn.DefaultKeychain)
	if a.Index != nil {
		return remote.WriteIndex(r, a.Index, opt)
	}
	return remote.Write(r, a.Image, opt)
}

// checkStatic refuses a binary for another architecture or one that needs a
// dynamic loader: the image has no libc.
func checkStatic(bin []byte, arch string) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not an ELF binary: %w", err)
	}
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if want == 0 || f.Machine != want {
		return fmt.Errorf("built for %v, not %s: build with GOARCH=%s", f.Machine, arch, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("dynamically linked (needs a libc the image does not have): build with CGO_ENABLED=0")
		}
	}
	return nil
}
