package main

import (
	"fmt"
	"os"
	"sync"
)

// A panic in any goroutine of the campaign ends the process without running main's
// deferred calls. Every goroutine therefore defers crashGuard, which runs the cleanup
// (remove the iptables rules, kill the nodes) before the panic goes on.

var (
	cleanupMu sync.Mutex
	cleanupFn func()
	cleanOnce sync.Once
)

// setCleanup registers what must happen however the campaign ends.
func setCleanup(f func()) {
	cleanupMu.Lock()
	defer cleanupMu.Unlock()
	cleanupFn = f
}

// cleanup runs the registered cleanup once.
func cleanup() {
	cleanOnce.Do(func() {
		cleanupMu.Lock()
		f := cleanupFn
		cleanupMu.Unlock()
		if f != nil {
			f()
		}
	})
}

func crashGuard() {
	if r := recover(); r != nil {
		fmt.Fprintf(os.Stderr, "chaos: panic: %v; cleaning up\n", r)
		cleanup()
		panic(r)
	}
}
