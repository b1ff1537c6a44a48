//go:build !unix

package cluster

import "syscall"

// socketIdle cannot look at a socket without blocking here; stillOpen waits briefly
// instead.
func socketIdle(syscall.Conn) (open, known bool) { return false, false }
