//go:build unix

package cluster

import (
	"errors"
	"syscall"
)

// socketIdle reads the socket once without waiting: nothing to read means the peer is
// still there. An end of stream, an error, or bytes nobody asked for (the connection is
// out of step) all mean it must not be used again.
func socketIdle(sc syscall.Conn) (open, known bool) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, false
	}
	var readErr error
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, readErr = syscall.Read(int(fd), b[:])
		return true // never wait for the socket to become readable
	})
	if err != nil {
		return false, true
	}
	// No error is an end of stream or a byte; either way the connection is done.
	return errors.Is(readErr, syscall.EAGAIN) || errors.Is(readErr, syscall.EWOULDBLOCK), true
}
