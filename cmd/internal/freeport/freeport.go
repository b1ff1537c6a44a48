// Package freeport hands tests that start servers in other processes a loopback port
// nobody is listening on.
package freeport

import (
	"net"
	"sync"
	"testing"
)

// given are the ports Get has handed out. A port is free only until someone binds it,
// and the kernel may offer it again before the process it was given to has started: a
// node's HTTP server once took the gossip port chosen for the node started just before
// it. No port is handed out twice.
var given sync.Map

// Get returns a free TCP port on 127.0.0.1 that this process has not handed out before.
func Get(t testing.TB) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, taken := given.LoadOrStore(port, true); !taken {
			return port
		}
	}
}
