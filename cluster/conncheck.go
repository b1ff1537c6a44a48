package cluster

import (
	"crypto/tls"
	"net"
	"syscall"
	"time"
)

// stillOpen reports whether the peer has not closed an idle connection: a leader that
// restarted left it dead, and a request sent on it would be lost without a clear answer
// (the caller could not tell it from a request the leader took and then failed to
// answer). The socket is looked at without blocking; a connection that is not a socket
// (a test's wrapper) is given a millisecond to show its end.
//
// A read with a deadline already passed cannot tell: Go returns the timeout before it
// asks the socket.
func stillOpen(conn net.Conn) bool {
	raw := conn
	if t, ok := raw.(*tls.Conn); ok {
		raw = t.NetConn()
	}
	if sc, ok := raw.(syscall.Conn); ok {
		if open, known := socketIdle(sc); known {
			return open
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := conn.Read(b[:])
	_ = conn.SetReadDeadline(time.Time{})
	return isTimeout(err)
}
