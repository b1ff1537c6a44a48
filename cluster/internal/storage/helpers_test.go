package storage

import (
	"log/slog"
	"testing"

	"github.com/coal-mine/coal-mine/deploy/testkit"
)

func newTestLogger(t testing.TB) *slog.Logger { return testkit.Logger(testkit.TestLog(t)) }
