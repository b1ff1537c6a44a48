package cluster

import (
	"io"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// Readiness has three traps in hashicorp/raft, all met by a follower restarted under a
// million canaries:
//
//   - raft.AppliedIndex counts the entries handed to the FSM's goroutine, not the ones it
//     has applied: a restarted follower replaying 500 one-megabyte imports reported
//     everything applied while its FSM had seconds of work queued.
//   - a heartbeat names the leader but carries no commit index, so a restarted follower
//     knows a leader, and a commit index of zero that it has "applied", before the
//     leader has told it anything.
//   - a follower's commit index is the leader's capped at its own last entry, so a
//     follower that is thousands of entries behind looks committed up to date after
//     every batch it receives.
//
// appliedFSM records what the FSM has really applied, and commitTransport records the
// leader's own commit index as it arrives in AppendEntries.

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
// snapshot in the store (when installing one from the leader, and for an operator's
// restore, it writes it to the store first), and takes no other snapshot while the FSM
// is busy restoring.
func (f *appliedFSM) Restore(rc io.ReadCloser) error {
	if err := f.FSM.Restore(rc); err != nil {
		return err
	}
	if metas, err := f.snapshots.List(); err == nil && len(metas) > 0 {
		f.index.Store(metas[0].Index)
	}
	return nil
}

// commitTransport is the Raft transport with one addition: it notes the leader's
// commit index from every AppendEntries before raft sees the request.
type commitTransport struct {
	*raft.NetworkTransport
	consumer     chan raft.RPC
	leaderCommit atomic.Uint64 // the highest the leader has sent since this node started
	closed       chan struct{}
}

func newCommitTransport(inner *raft.NetworkTransport) *commitTransport {
	t := &commitTransport{NetworkTransport: inner, consumer: make(chan raft.RPC), closed: make(chan struct{})}
	go t.forward()
	return t
}

func (t *commitTransport) Consumer() <-chan raft.RPC { return t.consumer }

func (t *commitTransport) forward() {
	for {
		var rpc raft.RPC
		select {
		case rpc = <-t.NetworkTransport.Consumer():
		case <-t.closed:
			return
		}
		if req, ok := rpc.Command.(*raft.AppendEntriesRequest); ok {
			for seen := t.leaderCommit.Load(); req.LeaderCommitIndex > seen; seen = t.leaderCommit.Load() {
				if t.leaderCommit.CompareAndSwap(seen, req.LeaderCommitIndex) {
					break
				}
			}
		}
		select {
		case t.consumer <- rpc:
		case <-t.closed:
			return
		}
	}
}

// Close stops forwarding and closes the network transport (raft.WithClose).
func (t *commitTransport) Close() error {
	select {
	case <-t.closed:
	default:
		close(t.closed)
	}
	return t.NetworkTransport.Close()
}

// Ready reports whether this node can serve reads: it knows a leader, its log is
// committed up to what the leader last said was committed, and its state machine has
// applied every committed command.
func (n *Node) Ready() bool {
	if n.isShutdown() || n.LeaderID() == "" {
		return false
	}
	commit := n.raft.CommitIndex()
	if !n.IsLeader() {
		// Zero: only heartbeats so far, the leader's commit index is unknown.
		if leaderCommit := n.transport.leaderCommit.Load(); leaderCommit == 0 || commit < leaderCommit {
			return false
		}
	}
	return n.raft.AppliedIndex() >= commit && n.fsmApplied(commit)
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
