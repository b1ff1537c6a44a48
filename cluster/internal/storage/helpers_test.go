package storage

import (
	"log/slog"
	"os"
	"testing"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

// newTestLogger collects a test's logs and prints them if the test fails (or always,
// with CLUSTER_TEST_LOGS=1 in the environment).
func newTestLogger(t testing.TB) *slog.Logger {
	l := &testkit.Buffer{}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("CLUSTER_TEST_LOGS") != "" {
			t.Log("logs:\n" + l.String())
		}
	})
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
