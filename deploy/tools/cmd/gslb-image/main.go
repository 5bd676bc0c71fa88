// Command gslb-image packs already-built static CoreDNS binaries into the
// gslb OCI image (one platform) or image index (several), writes it as an
// OCI archive and, with -push, uploads it. `make image` runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gslb/gslb/deploy/tools/image"
)

func main() {
	var (
		binaries = map[string]string{}
		o        image.Options
		out      = flag.String("out", "bin/gslb-image.tar", "the OCI archive to write")
		ref      = flag.String("ref", "ghcr.io/gslb/coredns:dev", "the image name, recorded in the archive and used by -push")
		push     = flag.Bool("push", false, "also push the image (or index) to -ref, with the credentials of ~/.docker/config.json")
		epoch    = flag.String("created", os.Getenv("SOURCE_DATE_EPOCH"), "creation time, Unix seconds (default $SOURCE_DATE_EPOCH; make passes the commit time)")
	)
	flag.Func("binary", "PLATFORM=PATH of a static coredns binary, e.g. linux/amd64=bin/coredns (repeat for an index)", func(s string) error {
		p, path, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("want PLATFORM=PATH, got %q", s)
		}
		binaries[p] = path
		return nil
	})
	flag.StringVar(&o.Version, "version", "dev", "org.opencontainers.image.version")
	flag.StringVar(&o.Revision, "revision", "", "org.opencontainers.image.revision (the commit)")
	flag.StringVar(&o.Source, "source", "https://github.com/gslb/gslb", "org.opencontainers.image.source")
	flag.Parse()
	o.Binaries = binaries
	sec, err := strconv.ParseInt(*epoch, 10, 64)
	if err != nil {
		fail(fmt.Errorf("-created %q: want Unix seconds (git log -1 --format=%%ct)", *epoch))
	}
	o.Created = time.Unix(sec, 0)

	a, err := image.Assemble(o)
	if err != nil {
		fail(err)
	}
	if err := image.WriteOCIArchive(a, *ref, *out); err != nil {
		fail(fmt.Errorf("writing %s: %w", *out, err))
	}
	d, err := a.Digest()
	if err != nil {
		fail(err)
	}
	fmt.Printf("%s: %s %s (%s)\n", *out, *ref, d, strings.Join(o.Platforms(), ", "))
	if *push {
		if err := image.Push(a, *ref); err != nil {
			fail(fmt.Errorf("pushing %s: %w", *ref, err))
		}
		fmt.Printf("pushed %s@%s\n", *ref, d)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "gslb-image:", err)
	os.Exit(1)
}
