package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/coal-mine/coal-mine/cluster/internal/storage"
	"github.com/hashicorp/raft"
)

var (
	// ErrNotLeader is returned by operations that only the leader can do.
	// Callers forward the request to LeaderHTTPAddr or retry after WaitLeader.
	ErrNotLeader = errors.New("cluster: not the leader")

	// ErrShutdown is returned once the node has been shut down.
	ErrShutdown = errors.New("cluster: node is shut down")

	// ErrUnknownPeer is returned when a server id is not in the Raft configuration.
	ErrUnknownPeer = errors.New("cluster: unknown peer")

	// ErrPeerAlive is returned by RemovePeer for a member that gossip still sees
	// alive: the leader would add it straight back. Stop it or make it Leave.
	ErrPeerAlive = errors.New("cluster: peer is alive; stop it or make it leave instead")

	// ErrLeadershipLost means leadership was lost while a command was being
	// committed: the command may or may not have been applied.
	ErrLeadershipLost = raft.ErrLeadershipLost

	// ErrNothingToBackup is returned by Backup before the state machine has
	// applied anything.
	ErrNothingToBackup = errors.New("cluster: nothing to back up yet")

	// ErrBackupNotReady is returned by Backup on a node that could not take a
	// snapshot in time: it has not caught up with the leader since it started, or
	// its state machine has not yet reached the newest membership change. Another
	// node, or the same one a little later, can answer.
	ErrBackupNotReady = errors.New("cluster: this node cannot take a backup yet")

	// ErrBadBackup is returned by Restore for a stream that is not a complete,
	// intact backup written by Backup.
	ErrBadBackup = errors.New("cluster: not a valid backup")

	// ErrDamagedLog means the Raft log in the data directory cannot be read back as it
	// was written: the node refuses to start; RepairLog rebuilds it.
	ErrDamagedLog = storage.ErrDamagedLog

	// ErrDamagedData means another file of the data directory (raft.db, node-id, the
	// snapshots) is damaged; the error names it and says what to do.
	ErrDamagedData = storage.ErrDamagedData

	// ErrDiskFull is what StorageError wraps while the node cannot write its Raft log
	// because its file system is full.
	ErrDiskFull = storage.ErrDiskFull
)

// LogRepair reports what RepairLog kept and dropped.
type LogRepair = storage.LogRepair

// RepairLog rebuilds the damaged Raft log of a stopped node in dataDir from what can
// still be read, keeping the damaged one aside; the node then catches up from the
// leader as itself.
func RepairLog(dataDir string, logger *slog.Logger) (*LogRepair, error) {
	return storage.RepairLog(dataDir, logger)
}

// translateRaftError maps raft's errors onto this package's sentinels so that
// callers need not import raft. Other errors pass through unchanged.
func translateRaftError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrNotVoter):
		return ErrNotLeader
	case errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrShutdown
	case errors.Is(err, raft.ErrEnqueueTimeout):
		// raft's enqueue timeout is the caller's context deadline.
		return fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	return err
}
