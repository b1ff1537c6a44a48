package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"
)

const (
	reconcileInterval    = 5 * time.Second
	leaderBarrierTimeout = 30 * time.Second
	membershipTimeout    = 10 * time.Second
	// transferAfterFailure bounds the leadership transfer a leader attempts when it
	// cannot establish its leader-only work.
	transferAfterFailure = 5 * time.Second
)

// LeaderSubsystem is work only the leader does (Nomad's SetEnabled subsystems, Consul's
// establishLeadership): the deadline watcher and the dispatcher, membership
// reconciliation, and every leader-only timer. The leader loop establishes each, in the
// order they were added, once the new leader has applied every entry committed before
// its term; if one fails, it revokes those established and hands leadership over. When
// leadership ends it revokes them, newest first, before anything else.
type LeaderSubsystem interface {
	// Establish starts the work; ctx ends when the leadership does. Leader-only state is
	// built here, from the state machine, which is current.
	Establish(ctx context.Context) error
	// Revoke stops the work and returns once it has stopped.
	Revoke()
}

// AddLeaderSubsystem adds s to the leader loop: from the next term on, or at once if
// this node leads an established term now.
func (n *Node) AddLeaderSubsystem(s LeaderSubsystem) {
	n.subsystemsMu.Lock()
	n.subsystems = append(n.subsystems, s)
	n.subsystemsMu.Unlock()
	signal(n.subsystemAdded)
}

// leaderSubsystems returns the subsystems added so far.
func (n *Node) leaderSubsystems() []LeaderSubsystem {
	n.subsystemsMu.Lock()
	defer n.subsystemsMu.Unlock()
	return append([]LeaderSubsystem(nil), n.subsystems...)
}

// forwardLeadership drains raft's NotifyCh (raft blocks until it is read) and wakes the
// leader monitor, which then reads the state itself: a monitor still revoking the last
// term misses no change, it acts on the latest.
func (n *Node) forwardLeadership() {
	defer n.wg.Done()
	for {
		select {
		case leader := <-n.notifyCh:
			if leader {
				n.logger.Info("gained leadership", "term", n.raft.CurrentTerm())
			} else {
				n.logger.Info("lost leadership", "term", n.raft.CurrentTerm())
			}
			signal(n.leadershipChanged)
		case <-n.raftDone:
			return
		}
	}
}

// monitorLeadership runs the leader loop while this node leads, one run per term, and
// stops it, revoking the leader subsystems, as soon as leadership is lost (Consul's
// monitorLeadership).
func (n *Node) monitorLeadership() {
	defer n.wg.Done()
	var running *leaderRun
	defer func() {
		running.stop()
		n.established.Store(nil)
	}()
	for {
		leading, term := n.IsLeader(), n.raft.CurrentTerm()
		if running != nil && (!leading || running.est.term != term) {
			running.stop()
			running = nil
			n.established.Store(nil)
		}
		if leading && running == nil {
			running = n.startLeaderLoop(term)
		}
		select {
		case <-n.leadershipChanged:
		case <-n.stopCh:
			return
		}
	}
}

// leaderRun is one running leader loop.
type leaderRun struct {
	est    *establishment
	cancel context.CancelFunc
	done   chan struct{}
}

// establishment is one term of this node's leadership as the leader loop takes it up:
// done is closed once a barrier has shown that every entry committed before the term
// began is applied here. Until then the state machine can lack writes that earlier
// terms acknowledged, and a read served from it would go back in time.
type establishment struct {
	term uint64
	done chan struct{}
}

func (n *Node) startLeaderLoop(term uint64) *leaderRun {
	ctx, cancel := context.WithCancel(context.Background())
	run := &leaderRun{cancel: cancel, done: make(chan struct{}), est: &establishment{term: term, done: make(chan struct{})}}
	n.established.Store(run.est)
	go func() {
		defer close(run.done)
		n.leaderLoop(ctx, run.est)
	}()
	return run
}

// stop ends the loop and waits for it; a nil run is not running.
func (r *leaderRun) stop() {
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// leaderEstablished reports whether this node leads and has established its term.
func (n *Node) leaderEstablished() bool {
	est := n.established.Load()
	if est == nil || !n.IsLeader() || est.term != n.raft.CurrentTerm() {
		return false
	}
	select {
	case <-est.done:
		return true
	default:
		return false
	}
}

// waitEstablished waits until this node, as leader, has applied every entry that
// earlier terms committed. It fails with ErrNotLeader if the node does not lead (callers
// ask the leader).
func (n *Node) waitEstablished(ctx context.Context) error {
	est := n.established.Load()
	for est == nil || est.term != n.raft.CurrentTerm() {
		// Raft says this node leads; the monitor takes the term up in a moment.
		if !n.IsLeader() {
			return fmt.Errorf("%w: leadership changed", ErrNotLeader)
		}
		if !n.sleep(ctx, 5*time.Millisecond) {
			return fmt.Errorf("%w: leadership not yet taken up: %w", ErrNotLeader, ctx.Err())
		}
		est = n.established.Load()
	}
	select {
	case <-est.done:
	case <-ctx.Done():
		return fmt.Errorf("wait for the leader to apply earlier terms: %w", ctx.Err())
	case <-n.stopCh:
		return ErrShutdown
	}
	if n.raft.CurrentTerm() != est.term || !n.IsLeader() {
		return fmt.Errorf("%w: leadership changed", ErrNotLeader)
	}
	return nil
}

// leaderLoop is one term of leadership: a barrier shows the state machine and the
// configuration are current; the term is established (consistent reads may be served);
// the leader subsystems are established in order, and those added later as they come;
// when the term ends (ctx), they are revoked, newest first.
func (n *Node) leaderLoop(ctx context.Context, est *establishment) {
	for {
		err := n.waitFuture(ctx, n.raft.Barrier(leaderBarrierTimeout))
		if err == nil {
			break
		}
		if ctx.Err() != nil || n.isShutdown() {
			return
		}
		n.logger.Warn("leader barrier failed", "err", err)
		if !n.sleep(ctx, time.Second) {
			return
		}
	}
	close(est.done)
	n.logger.Info("leadership established", "term", est.term)

	var established []LeaderSubsystem
	defer func() {
		for i := len(established) - 1; i >= 0; i-- {
			established[i].Revoke()
		}
	}()
	for {
		for _, s := range n.leaderSubsystems()[len(established):] {
			if err := s.Establish(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				n.logger.Error("cannot establish leadership: handing it over", "subsystem", fmt.Sprintf("%T", s), "err", err)
				n.handOver()
				return
			}
			established = append(established, s)
		}
		select {
		case <-ctx.Done():
			return
		case <-n.subsystemAdded:
		}
	}
}

// handOver transfers leadership to another voter, in the background: this node could
// not establish its leader-only work, and a leader that does none must not stay leader.
func (n *Node) handOver() {
	n.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), transferAfterFailure)
		defer cancel()
		if err := n.TransferLeadership(ctx, ""); err != nil {
			n.logger.Warn("leadership transfer failed", "err", err)
		}
	})
}

// membership is the leader subsystem that reconciles the Raft configuration with gossip,
// now, on every membership change, and periodically.
type membership struct {
	n    *Node
	stop context.CancelFunc
	done sync.WaitGroup
}

func (m *membership) Establish(ctx context.Context) error {
	ctx, m.stop = context.WithCancel(ctx)
	r := &reconciler{node: m.n, ctx: ctx, missingSince: make(map[string]time.Time), quorumWarned: make(map[string]bool)}
	m.done.Go(func() {
		ticker := time.NewTicker(reconcileInterval)
		defer ticker.Stop()
		for {
			r.reconcile()
			select {
			case <-ctx.Done():
				return
			case <-m.n.members.changed:
			case <-ticker.C:
			}
		}
	})
	return nil
}

func (m *membership) Revoke() {
	m.stop()
	m.done.Wait()
}

// signal makes a non-blocking send on a 1-buffered channel.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
