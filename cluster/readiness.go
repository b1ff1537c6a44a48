package cluster

import (
	"io"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// Readiness has two traps in hashicorp/raft, both met by a node restarted under a
// million canaries:
//
//   - raft.AppliedIndex counts the entries handed to the FSM's goroutine, not the ones it
//     has applied: a restarted follower replaying 500 one-megabyte imports reported
//     everything applied while its FSM had seconds of work queued.
//   - a heartbeat names the leader but carries no commit index, so a restarted follower
//     knows a leader, and a commit index of zero that it has "applied", before the
//     leader has told it anything.
//
// appliedFSM records what the FSM has really applied, and Ready waits until the commit
// index has reached the log the node started with.

// appliedFSM passes everything to the state machine and records the index of the last
// entry it applied.
type appliedFSM struct {
	raft.FSM
	snapshots raft.SnapshotStore
	index     atomic.Uint64
}

func (f *appliedFSM) Apply(l *raft.Log) any {
	result := f.FSM.Apply(l)
	f.index.Store(l.Index)
	return result
}

// Restore records the index of the restored snapshot. raft hands the FSM the newest
// snapshot in the store (at start, when installing one from the leader, and for an
// operator's restore it writes it to the store first), and takes no other snapshot while
// the FSM is busy restoring.
func (f *appliedFSM) Restore(rc io.ReadCloser) error {
	if err := f.FSM.Restore(rc); err != nil {
		return err
	}
	if metas, err := f.snapshots.List(); err == nil && len(metas) > 0 {
		f.index.Store(metas[0].Index)
	}
	return nil
}

// Ready reports whether this node can serve reads: it knows a leader, it has heard the
// leader's commit index since it started, and its state machine has applied every
// committed command.
func (n *Node) Ready() bool {
	if n.isShutdown() || n.LeaderID() == "" {
		return false
	}
	commit := n.raft.CommitIndex()
	if !n.caughtUpOnce.Load() {
		// Until the leader has confirmed the log this node started with, the commit index
		// is only what a heartbeat left it at. The log may shrink instead: a suffix that
		// was never committed is replaced by the leader's.
		if commit < min(n.startLastIndex, n.raft.LastIndex()) {
			return false
		}
	}
	if n.raft.AppliedIndex() < commit || !n.fsmApplied(commit) {
		return false
	}
	n.caughtUpOnce.Store(true)
	return true
}

// fsmApplied reports whether the state machine has applied every command up to commit.
// The entries after the last one it applied may be no commands at all (a new leader's
// no-op, a barrier, a configuration change never reach the FSM), so it looks at them,
// newest first: usually one or two.
func (n *Node) fsmApplied(commit uint64) bool {
	applied := n.applied.index.Load()
	for index := commit; index > applied; index-- {
		var entry raft.Log
		if err := n.logs.GetLog(index, &entry); err != nil {
			// Compacted: raft compacts only what a snapshot holds, and the FSM has
			// either taken that snapshot or restored it.
			return true
		}
		if entry.Type == raft.LogCommand {
			return false
		}
	}
	return true
}
