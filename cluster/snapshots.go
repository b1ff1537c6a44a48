package cluster

import (
	"errors"
	"time"

	"github.com/hashicorp/raft"
)

const (
	defaultSnapshotLogBytes = 128 << 20
	// snapshotCheckInterval is how often the log's growth is compared with
	// SnapshotLogBytes; raft checks its own entry threshold every 120 s.
	snapshotCheckInterval = 2 * time.Second
)

// snapshotBySize takes a snapshot whenever the log has grown by SnapshotLogBytes since
// the last one it took. raft snapshots by entry count only: after a million-canary import
// (about 500 entries of a megabyte) it took none, and a restarted node replayed the whole
// import, 13 s, where restoring a snapshot takes about one.
func (n *Node) snapshotBySize() {
	defer n.wg.Done()
	ticker := time.NewTicker(snapshotCheckInterval)
	defer ticker.Stop()
	var grown int64
	for {
		select {
		case <-n.stopCh:
			return
		case <-ticker.C:
		}
		grown += n.store.TakeGrowth()
		if grown < n.cfg.SnapshotLogBytes {
			continue
		}
		start := time.Now()
		err := n.raft.Snapshot().Error()
		switch {
		case err == nil:
			n.logger.Info("took a snapshot: the log had grown", "log_bytes", grown, "took", time.Since(start).Round(time.Millisecond))
			grown = 0
		case errors.Is(err, raft.ErrNothingNewToSnapshot):
			grown = 0
		case errors.Is(err, raft.ErrRaftShutdown):
			return
		default:
			// Tried again at the next tick; the log is still whole, only longer.
			n.logger.Warn("snapshot by log size failed", "log_bytes", grown, "err", err)
		}
	}
}
