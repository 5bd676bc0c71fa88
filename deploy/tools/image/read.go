package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// ReadOCIArchive opens an archive written by WriteOCIArchive the way a
// runtime does: unpack the layout into dir, read index.json, follow it (and
// the image index, for a multi-arch build) to the image for platform. It
// also returns the name recorded for import.
func ReadOCIArchive(file, dir, platform string) (v1.Image, string, error) {
	if err := untar(file, dir); err != nil {
		return nil, "", fmt.Errorf("unpacking %s: %w", file, err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, "", err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, "", err
	}
	if len(im.Manifests) != 1 {
		return nil, "", fmt.Errorf("%s: index.json has %d entries, want 1", file, len(im.Manifests))
	}
	top := im.Manifests[0]
	ref := top.Annotations["io.containerd.image.name"]
	if top.MediaType.IsImage() {
		img, err := idx.Image(top.Digest)
		return img, ref, err
	}
	inner, err := idx.ImageIndex(top.Digest)
	if err != nil {
		return nil, "", err
	}
	m, err := inner.IndexManifest()
	if err != nil {
		return nil, "", err
	}
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.OS+"/"+d.Platform.Architecture == platform {
			img, err := inner.Image(d.Digest)
			return img, ref, err
		}
	}
	return nil, "", fmt.Errorf("%s has no %s image", file, platform)
}

func untar(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if filepath.IsAbs(name) || strings.HasPrefix(name, "..") {
			return fmt.Errorf("unsafe path %q", h.Name)
		}
		p := filepath.Join(dir, name)
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		out, err := os.Create(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(out, tr)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
}
