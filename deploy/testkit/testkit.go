// Package testkit is what the project's tests share: waiting for a condition, a buffer
// that goroutines and processes write concurrently, and free loopback ports for servers
// started in other processes. It lives under deploy/ with the project's other test and
// benchmark harnesses.
package testkit

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// Eventually calls check until it returns nil, then returns when that was. Once timeout
// has passed it fails the test with check's last error. Tests wait for conditions this
// way, never for a fixed time: on a machine whose CPUs are busy a condition takes longer,
// and that is all.
func Eventually(t testing.TB, timeout time.Duration, check func() error) time.Time {
	t.Helper()
	return EventuallyEvery(t, timeout, 20*time.Millisecond, check)
}

// EventuallyEvery is Eventually with the pause between checks given (a container's state
// is asked less often than a goroutine's).
func EventuallyEvery(t testing.TB, timeout, every time.Duration, check func() error) time.Time {
	t.Helper()
	giveUp := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return time.Now()
		}
		if time.Now().After(giveUp) {
			t.Fatalf("not within %v: %v", timeout, err)
		}
		time.Sleep(every)
	}
}

// Until is Eventually for a condition without an error of its own: what says what the
// test waited for.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	Eventually(t, timeout, func() error {
		if !cond() {
			return errors.New("still waiting until " + what)
		}
		return nil
	})
}

// Buffer collects what goroutines or processes write, safe to write and read at once.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Contains reports whether s was written.
func (b *Buffer) Contains(s string) bool { return strings.Contains(b.String(), s) }

// TestLog collects a test's log lines and prints them if the test fails (or always, with
// CLUSTER_TEST_LOGS=1 in the environment).
func TestLog(t testing.TB) *Buffer {
	b := &Buffer{}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("CLUSTER_TEST_LOGS") != "" {
			t.Log("logs:\n" + b.String())
		}
	})
	return b
}

// Logger is a text slog.Logger at Info that writes to b.
func Logger(b *Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// given are the ports FreePort has handed out. A port is free only until someone binds
// it, and the kernel may offer it again before the process it was given to has started:
// a node's HTTP server once took the gossip port chosen for the node started just before
// it. No port is handed out twice.
var given sync.Map

// FreePort returns a free TCP port on 127.0.0.1 that this process has not handed out
// before, for a server another process will start.
func FreePort(t testing.TB) int {
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
