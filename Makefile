# gslb: a CoreDNS plugin for global server load balancing over Kubernetes clusters.
GO      ?= go
BIN     := bin
GOFLAGS ?=
export GOFLAGS
# staticcheck is pinned and run through the module proxy, so CI needs no install step.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build lab lint test unit e2e demo bench bench-scale clean image manifests test-deploy kubelet-pod fuzz chaos
all: build

## build: the custom CoreDNS with the gslb plugin, bin/coredns: static
## (no cgo) and without build paths, so that the image reuses this very file
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o $(BIN)/coredns ./cmd/coredns

## lab: the lab CLI, and kube-apiserver, etcd and kubectl (built once, cached under .cache/kube/)
lab:
	$(GO) build -o $(BIN)/gslb-lab ./test/lab/cmd/gslb-lab
	$(BIN)/gslb-lab build

## lint: gofmt (fails on any file it would change), go vet and staticcheck
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt -w these files:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

## test: lint, unit tests, then end-to-end tests against real kube-apiservers
test: lint build lab
	$(GO) test -race -count=1 ./ ./plugin/...
	$(GO) test -count=1 ./cmd/...
	$(GO) test -race -count=1 -timeout 20m ./test/...
	$(MAKE) fuzz FUZZTIME=$(CI_FUZZTIME)
	$(GO) run ./test/chaos -short -coredns $(BIN)/coredns
	$(MAKE) test-deploy

## fuzz: each fuzz target for FUZZTIME, one after another (RELIABILITY.md); a crasher
## lands in the package's testdata/fuzz/<target>/ and becomes a regression test
FUZZTIME    ?= 60s
CI_FUZZTIME ?= 3000x
FUZZ_TARGETS := .:FuzzServeDNS .:FuzzCorefile ./plugin/model:FuzzAnnotations \
	./plugin/amko:FuzzCompile ./plugin/avi:FuzzAviDecode ./plugin/avi:FuzzCredentials
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) bash test/fuzz.sh $(FUZZ_TARGETS)

## chaos: bin/coredns on the lab, Avi simulator and probes under load while faults are
## injected (test/chaos, RELIABILITY.md); about 8 minutes. make test runs -short (about 90 s)
chaos: build lab
	$(GO) run ./test/chaos -coredns $(BIN)/coredns

## image: the OCI image of bin/coredns, as an OCI archive bin/gslb-image.tar (deploy/README.md)
##   PLATFORMS="linux/amd64 linux/arm64" builds a multi-arch index; PUSH=1 also pushes it to IMAGE
IMAGE     ?= ghcr.io/gslb/coredns:$(VERSION)
PLATFORMS ?= linux/amd64
PUSH      ?=
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
HOST_PLATFORM := $(shell $(GO) env GOOS)/$(shell $(GO) env GOARCH)
TOOLS := cd deploy/tools && GOFLAGS= GSLB_COREDNS=$(CURDIR)/$(BIN)/coredns GSLB_IMAGE=$(CURDIR)/$(BIN)/gslb-image.tar $(GO)
image: build
	@set -e; bins=; for p in $(PLATFORMS); do \
	  if [ "$$p" = "$(HOST_PLATFORM)" ]; then bin=$(CURDIR)/$(BIN)/coredns; else \
	    bin=$(CURDIR)/$(BIN)/$${p%/*}-$${p#*/}/coredns; \
	    echo "building $$bin"; \
	    CGO_ENABLED=0 GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) build -trimpath -ldflags "-s -w" -o $$bin ./cmd/coredns; fi; \
	  bins="$$bins -binary $$p=$$bin"; done; \
	$(TOOLS) run ./cmd/gslb-image $$bins -out $(CURDIR)/$(BIN)/gslb-image.tar -ref $(IMAGE) \
	  -version $(VERSION) -revision "$(REVISION)" -created $(SOURCE_DATE_EPOCH) $(if $(PUSH),-push)

## manifests: deploy/manifests/gslb.yaml from the Helm chart (a test checks it is current)
manifests:
	$(TOOLS) run ./cmd/gslb-manifests -root $(CURDIR)

## kubelet-pod: the chart's Pod from bin/gslb-image.tar under a real kubelet + containerd + runc (not in make test)
kubelet-pod: image lab
	bash deploy/tools/kubelet-pod.sh

## test-deploy: image, chart and manifests tests; the chart on the lab's API servers (deploy/tools)
test-deploy: image
	$(TOOLS) vet ./...
	$(TOOLS) test -count=1 -timeout 15m ./...

## demo: two clusters on loopback, the onlineshop seed, CoreDNS on 127.0.0.1:$(DNS_PORT), the status page on 127.0.0.1:8282 (STATUS_PORT) (DEMO_SECONDS=N stops after N s)
demo: build lab
	bash test/demo/demo.sh

## bench: ServeDNS micro-benchmarks, dnsperf QPS against file and whoami, failover, vantage agreement and write rate (lab)
bench: build lab
	bash test/bench/bench.sh

## bench-scale: the lab at scale (three clusters, SCALE_SIZES names each): sync, RSS, propagation, CPU per change, dnsperf under churn
SCALE_SIZES ?= 1000,10000
bench-scale: build lab
	$(GO) run ./test/bench/scale -sizes $(SCALE_SIZES)

clean:
	rm -rf $(BIN) .lab
