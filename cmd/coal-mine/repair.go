package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/coal-mine/coal-mine/cluster"
)

// repairLogCommand is the subcommand that rebuilds a damaged Raft log.
const repairLogCommand = "repair-log"

// repairLog runs "coal-mine repair-log": it takes the daemon's own settings (so that
// --config, COAL_MINE_DATA_DIR or --data-dir find the same data directory) and
// rebuilds the stopped node's Raft log there, reporting what it kept on out.
func repairLog(args []string, getenv func(string) string, out io.Writer) error {
	cfg, err := loadConfig(args, getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn}))
	report, err := cluster.RepairLog(cfg.DataDir, logger)
	if err != nil {
		return fmt.Errorf("repair the raft log in %s: %w", cfg.DataDir, err)
	}
	if report.MovedTo == "" {
		fmt.Fprintf(out, "finished an interrupted repair of the raft log in %s\n", cfg.DataDir)
		return nil
	}
	fmt.Fprintf(out, "the old raft log (entries %d-%d) is now %s; delete it once the node runs again\n",
		report.HeldFirst, report.HeldLast, report.MovedTo)
	if report.Problem != "" {
		fmt.Fprintf(out, "what could not be read: %s\n", report.Problem)
	}
	if report.KeptLast > 0 {
		fmt.Fprintf(out, "the new raft log holds entries %d-%d", report.KeptFirst, report.KeptLast)
	} else {
		fmt.Fprintf(out, "the new raft log is empty")
	}
	if report.SnapshotIndex > 0 {
		fmt.Fprintf(out, "; the node's newest snapshot holds the state up to entry %d", report.SnapshotIndex)
	}
	fmt.Fprintf(out, "\nstart the node as before: it rejoins as itself and the leader sends it what it lacks\n")
	if report.KeptLast == 0 && report.SnapshotIndex == 0 {
		fmt.Fprintf(out, "the node now holds no state of its own: a single node cannot start from this; move its data directory aside, start it empty and restore a backup (cmcli snapshot restore)\n")
	}
	return nil
}

// explainStartError adds to an error that stopped the node what the operator can do.
func explainStartError(err error, cfg Config) error {
	if errors.Is(err, cluster.ErrDamagedLog) {
		return fmt.Errorf("%w; with the node stopped, run `coal-mine %s --data-dir %s` to move the damaged log aside and rebuild it, then start the node again (README: A damaged Raft log)",
			err, repairLogCommand, cfg.DataDir)
	}
	return err
}
