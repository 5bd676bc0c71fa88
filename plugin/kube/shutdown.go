package kube

import (
	"time"
)

// ShutdownGrace bounds how long stopping a source waits for its informers.
//
// client-go's reflector, retrying a streaming list (the WatchListClient
// feature, on by default) against an API server that is away, sleeps out
// its backoff without looking at the stop channel (tools/cache/reflector.go,
// watchList): up to 30 s, doubled by jitter. Waiting for it held every
// Corefile reload during an outage that long, and would hold a SIGTERM. The
// reflector ends by itself when its sleep does, without delivering an event:
// nothing of it reaches the stopped instance's store.
var ShutdownGrace = time.Second

// Shutdowner is an informer factory, typed or dynamic.
type Shutdowner interface{ Shutdown() }

// ShutdownInformers shuts the factories down and waits for their informers
// at most ShutdownGrace; those still asleep end on their own.
func ShutdownInformers(factories ...Shutdowner) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, f := range factories {
			f.Shutdown()
		}
	}()
	t := time.NewTimer(ShutdownGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		log.Debugf("informers still backing off after %v: they end on their own", ShutdownGrace)
	}
}
