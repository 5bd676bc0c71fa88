# gslb: a CoreDNS plugin for global server load balancing over Kubernetes clusters.
GO      ?= go
BIN     := bin
GOFLAGS ?=
export GOFLAGS

.PHONY: all build lab test unit e2e demo bench bench-scale clean
all: build

## build: the custom CoreDNS with the gslb plugin, bin/coredns
build:
	$(GO) build -o $(BIN)/coredns ./cmd/coredns

## lab: the lab CLI, and kube-apiserver, etcd and kubectl (built once, cached under .cache/kube/)
lab:
	$(GO) build -o $(BIN)/gslb-lab ./test/lab/cmd/gslb-lab
	$(BIN)/gslb-lab build

## test: unit tests, then end-to-end tests against real kube-apiservers
test: build lab
	$(GO) vet ./...
	$(GO) test -race -count=1 ./ ./plugin/...
	$(GO) test -count=1 -timeout 20m ./test/...

## demo: two clusters on loopback, the onlineshop seed, CoreDNS on 127.0.0.1:$(DNS_PORT) (DEMO_SECONDS=N stops after N s)
demo: build lab
	bash test/demo/demo.sh

## bench: ServeDNS micro-benchmarks and dnsperf QPS against file and whoami
bench: build
	bash test/bench/bench.sh

## bench-scale: the lab at scale (three clusters, SCALE_SIZES names each): sync, RSS, propagation, CPU per change, dnsperf under churn
SCALE_SIZES ?= 1000,10000
bench-scale: build lab
	$(GO) run ./test/bench/scale -sizes $(SCALE_SIZES)

clean:
	rm -rf $(BIN) .lab
