# gslb: a CoreDNS plugin for global server load balancing over Kubernetes clusters.
GO      ?= go
BIN     := bin
GOFLAGS ?=
export GOFLAGS
# staticcheck is pinned and run through the module proxy, so CI needs no install step.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build lab lint test unit e2e demo bench clean
all: build

## build: the custom CoreDNS with the gslb plugin, bin/coredns
build:
	$(GO) build -o $(BIN)/coredns ./cmd/coredns

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
	$(GO) test -count=1 -timeout 20m ./test/...

## demo: two clusters on loopback, the onlineshop seed, CoreDNS on 127.0.0.1:$(DNS_PORT) (DEMO_SECONDS=N stops after N s)
demo: build lab
	bash test/demo/demo.sh

## bench: ServeDNS micro-benchmarks and dnsperf QPS against file and whoami
bench: build
	bash test/bench/bench.sh

clean:
	rm -rf $(BIN) .lab
