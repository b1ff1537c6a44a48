package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/coal-mine/coal-mine/cluster"
	"github.com/coal-mine/coal-mine/fsm"
)

// TestRepairLogCommand runs "coal-mine repair-log" on the data directory of a stopped
// node, found through the daemon's own settings, and on one that holds no log.
func TestRepairLogCommand(t *testing.T) {
	dir := t.TempDir()
	node, err := cluster.New(context.Background(), cluster.Config{
		DataDir: dir, RaftAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:8080",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, fsm.New())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := node.WaitLeader(ctx); err != nil {
		t.Fatal(err)
	}
	node.Shutdown()

	var out strings.Builder
	getenv := env(map[string]string{"COAL_MINE_DATA_DIR": dir})
	if err := repairLog(nil, getenv, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"the old raft log (entries 1-", "raft-wal.damaged-", "the new raft log holds entries 1-", "rejoins as itself"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	err = repairLog([]string{"--data-dir", t.TempDir()}, env(nil), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no raft log to repair") {
		t.Errorf("repair of an empty directory: %v", err)
	}
}

func TestExplainStartError(t *testing.T) {
	cfg := Config{DataDir: "/var/lib/coal-mine"}
	damaged := explainStartError(fmt.Errorf("start cluster node: %w", cluster.ErrDamagedLog), cfg)
	if !errors.Is(damaged, cluster.ErrDamagedLog) || !strings.Contains(damaged.Error(), "coal-mine repair-log --data-dir /var/lib/coal-mine") {
		t.Errorf("damaged log: %v", damaged)
	}
	other := errors.New("listen: address in use")
	if got := explainStartError(other, cfg); got != other {
		t.Errorf("another error became %v", got)
	}
}
