package cluster

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

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
	leaderCommit atomic.Uint64                 // the highest the leader has sent since this node started
	currentTerm  atomic.Pointer[func() uint64] // raft's, once raft is started
	closed       chan struct{}
}

func newCommitTransport(inner *raft.NetworkTransport) *commitTransport {
	t := &commitTransport{NetworkTransport: inner, consumer: make(chan raft.RPC), closed: make(chan struct{})}
	go t.forward()
	return t
}

func (t *commitTransport) Consumer() <-chan raft.RPC { return t.consumer }

// setTerm gives the transport raft's current term.
func (t *commitTransport) setTerm(current func() uint64) { t.currentTerm.Store(&current) }

// termAtLeast reports whether term is raft's current term or newer (or raft, starting,
// has not said yet: a request that arrives in that moment is taken).
func (t *commitTransport) termAtLeast(term uint64) bool {
	current := t.currentTerm.Load()
	return current == nil || term >= (*current)()
}

func (t *commitTransport) forward() {
	for {
		var rpc raft.RPC
		select {
		case rpc = <-t.NetworkTransport.Consumer():
		case <-t.closed:
			return
		}
		// Only a leader of the current term (or a newer one) tells the commit index: a
		// deposed leader's, or a forged, request carries any number, and raft checks the
		// term only after this.
		if req, ok := rpc.Command.(*raft.AppendEntriesRequest); ok && t.termAtLeast(req.Term) {
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

// readinessInterval is how often a node samples its readiness, and readinessWindow how
// many samples back it looks. A node is ready when it has applied everything that was
// committed readinessWindow samples earlier (or at the oldest sample it has, after a
// start): under load the commit index is always a little ahead of what the state machine
// has applied, so comparing the two at one instant called a healthy leader unready for
// 2.5% of /readyz probes; a window of half a second keeps a node that falls behind for
// longer (or never catches up after a restart) unready.
const (
	readinessInterval = 100 * time.Millisecond
	readinessWindow   = 5
)

// readiness is what the sampler last decided, and whether this node has ever been
// ready since it started.
type readiness struct {
	ready     atomic.Bool
	caughtUp  chan struct{} // closed the first time the node is ready
	closeOnce sync.Once
}

func newReadiness() *readiness { return &readiness{caughtUp: make(chan struct{})} }

// trackReadiness samples readiness until the node shuts down.
func (n *Node) trackReadiness() {
	defer n.wg.Done()
	ticker := time.NewTicker(readinessInterval)
	defer ticker.Stop()
	var targets []uint64 // the commit index at the last samples, oldest first
	for {
		ready := len(targets) > 0 && n.caughtUpTo(targets[0])
		n.readiness.ready.Store(ready)
		if ready {
			n.readiness.closeOnce.Do(func() { close(n.readiness.caughtUp) })
		}
		switch target := n.commitTarget(); {
		case target == 0: // no leader, or its commit index unknown: start over
			targets = targets[:0]
		case len(targets) == readinessWindow:
			targets = append(targets[1:], target)
		default:
			targets = append(targets, target)
		}
		select {
		case <-ticker.C:
		case <-n.stopCh:
			n.readiness.ready.Store(false)
			return
		}
	}
}

// commitTarget is the commit index this node must apply to be current: the leader's
// own, or on a follower what the leader last said it was (0 while unknown: after a
// restart, a heartbeat names the leader before any AppendEntries gives its commit index).
func (n *Node) commitTarget() uint64 {
	if n.isShutdown() {
		return 0
	}
	if n.IsLeader() {
		return n.raft.CommitIndex()
	}
	if n.LeaderID() == "" {
		return 0
	}
	return n.transport.leaderCommit.Load()
}

// caughtUpTo reports whether this node knows a leader (on the leader: has established
// its leadership, see Established) and has applied every command up to target.
func (n *Node) caughtUpTo(target uint64) bool {
	if n.isShutdown() || n.LeaderID() == "" {
		return false
	}
	if n.IsLeader() && !n.leaderEstablished() {
		return false
	}
	return n.raft.AppliedIndex() >= target && n.fsmApplied(target)
}

// Ready reports whether this node can serve reads: it knows a leader and, at the last
// sample, had applied every command committed at the one before (see readinessInterval).
func (n *Node) Ready() bool {
	return !n.isShutdown() && n.readiness.ready.Load()
}

// CaughtUp is closed once this node has been ready once since it started: until then its
// state is what it restored and replayed so far, which can be far behind, even empty.
func (n *Node) CaughtUp() <-chan struct{} { return n.readiness.caughtUp }

// fsmApplied reports whether the state machine has applied every command up to commit.
// The entries after the last one it applied may be no commands at all (a new leader's
// no-op, a barrier, a configuration change never reach the FSM), so it looks at them,
// newest first: usually one or two.
func (n *Node) fsmApplied(commit uint64) bool {
	applied := n.applied.index.Load()
	for index := commit; index > applied; index-- {
		var entry raft.Log
		if err := n.store.Log().GetLog(index, &entry); err != nil {
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
