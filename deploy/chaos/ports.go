package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
)

// Ports for the nodes. They are taken below the kernel's ephemeral range: a node's
// port must still be free when the node restarts seconds later, and a port inside the
// range may meanwhile be the source port of some outgoing connection.

type portPicker struct {
	lo, hi int
	given  map[int]bool
}

func newPortPicker() *portPicker {
	lo := 32768 // Linux's default ephemeral range starts here
	var a, b int
	if raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if _, err := fmt.Sscan(string(raw), &a, &b); err == nil && a > 12000 {
			lo = a
		}
	}
	return &portPicker{lo: 10000, hi: lo - 1, given: make(map[int]bool)}
}

// pick returns a port free for TCP and UDP on 127.0.0.1 that it has not given before.
// The choice is not seeded: which ports are free is not the campaign's to replay.
func (p *portPicker) pick() (int, error) {
	for range 1000 {
		port := p.lo + rand.IntN(p.hi-p.lo)
		if p.given[port] || !free(port) {
			continue
		}
		p.given[port] = true
		return port, nil
	}
	return 0, fmt.Errorf("no free port between %d and %d", p.lo, p.hi)
}

func free(port int) bool {
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	u.Close()
	return true
}
